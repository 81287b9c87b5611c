import { resolve } from 'node:path';
import type { GraphModel } from '../../graph/model';
import { slotNodes } from '../../graph/edit';
import { parseParamText } from '../../plugin/params';
import type { NodeRegistry } from '../../plugin/registry';

export interface Overrides {
  content?: string;
  style?: string[];
  /** `NODE_ID.PARAM=VALUE` */
  set?: string[];
  steps?: number;
}

/**
 * Applies command-line overrides to a copy of the model. Image paths given on the command line are
 * relative to the working directory. Returns error messages a person can act on.
 */
export function applyOverrides(
  model: GraphModel,
  registry: NodeRegistry,
  o: Overrides,
  cwd: string,
): { model: GraphModel; errors: string[] } {
  const errors: string[] = [];
  const copy: GraphModel = { ...model, nodes: model.nodes.map((n) => ({ ...n, params: { ...n.params } })) };
  // Camera nodes are the content slot too (src/graph/edit.ts slotNodes): --content runs a camera graph on a photo.
  const bySlot = (slot: string) => slotNodes(copy, slot);

  if (o.content !== undefined) {
    const slots = bySlot('content');
    if (!slots.length) errors.push('--content: this graph has no image node with slot "content"');
    for (const n of slots) n.params.source = resolve(cwd, o.content);
  }
  if (o.style?.length) {
    const slots = bySlot('style');
    if (o.style.length > slots.length)
      errors.push(
        `--style: ${o.style.length} style images given but the graph has ${slots.length} image node(s) with slot "style"`,
      );
    o.style.forEach((s, i) => {
      if (slots[i]) slots[i].params.source = resolve(cwd, s);
    });
  }
  for (const assignment of o.set ?? []) {
    const m = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(assignment);
    if (!m) {
      errors.push(`--set ${assignment}: expected NODE_ID.PARAM=VALUE, e.g. --set optim.method=adam`);
      continue;
    }
    const [, id, param, text] = m as unknown as [string, string, string, string];
    const node = copy.nodes.find((n) => n.id === id);
    if (!node) {
      errors.push(`--set ${assignment}: no node "${id}" (nodes: ${copy.nodes.map((n) => n.id).join(', ')})`);
      continue;
    }
    const def = registry.get(node.type)?.params[param];
    if (!def) {
      const known = Object.keys(registry.get(node.type)?.params ?? {});
      errors.push(
        `--set ${assignment}: node "${id}" has no parameter "${param}" (parameters: ${known.join(', ') || 'none'})`,
      );
      continue;
    }
    const parsed = parseParamText(def, text);
    if ('error' in parsed) errors.push(`--set ${assignment}: ${parsed.error}`);
    else node.params[param] = parsed.value;
  }
  if (o.steps !== undefined) {
    if (!copy.nodes.some((n) => registry.get(n.type)?.role === 'optimiser'))
      errors.push('--steps: this graph has no optimiser');
    return { model: withSteps(copy, registry, o.steps), errors };
  }
  return { model: copy, errors };
}

/** A copy of the model whose optimisers run `steps` steps. */
export function withSteps(model: GraphModel, registry: NodeRegistry, steps: number): GraphModel {
  const copy = structuredClone(model);
  for (const n of copy.nodes) {
    const param = registry.get(n.type)?.roles?.optimiser?.steps;
    if (param) n.params[param] = steps;
  }
  return copy;
}
