import type { Diagnostic } from '../graph/diagnostics';
import type { GraphModel } from '../graph/model';
import type { NodeRegistry } from '../plugin/registry';

/** A node's name as the canvas shows it: its own title, else its type's, else its type id. */
export function nodeName(model: GraphModel, registry: NodeRegistry, id: string): string | null {
  const n = model.nodes.find((x) => x.id === id);
  return n ? n.title || registry.get(n.type)?.title || n.type : null;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A diagnostic in the editor's words: the nodes it mentions by their titles (`node "gram" (Gram matrix)` becomes
 * `"Gram matrix"`), without the JSON path (kept for the tooltip, `diagnosticPath`). With `subject`, the message is
 * about that node (the inspector shows it under the node's own heading), so it is not named again at the start.
 */
export function diagnosticText(d: Diagnostic, model: GraphModel, registry: NodeRegistry, subject?: string): string {
  let message = d.message;
  // Longest ids first, so "style" does not eat part of "style_loss".
  const ids = [...new Set(model.nodes.map((n) => n.id))].sort((a, b) => b.length - a.length);
  for (const id of ids) {
    const name = nodeName(model, registry, id)!;
    // A parameter's problem starts with `id.param:`.
    if (message.startsWith(`${id}.`)) message = `"${name}" ${message.slice(id.length + 1)}`;
    const def = registry.get(model.nodes.find((n) => n.id === id)!.type);
    const quoted = escape(JSON.stringify(id));
    message = message
      .replace(new RegExp(`node ${quoted}${def ? ` \\(${escape(def.title)}\\)` : ''}`, 'g'), `"${name}"`)
      .replace(new RegExp(`node ${quoted}`, 'g'), `"${name}"`)
      .replace(new RegExp(`(?<![\\w.])${quoted}`, 'g'), `"${name}"`);
  }
  const about = d.nodeId && d.nodeId !== subject ? nodeName(model, registry, d.nodeId) : null;
  const lead = about && !message.includes(`"${about}"`) ? `${about}: ` : '';
  return `${d.severity}: ${lead}${message}`;
}
