import type { Diagnostic } from '../graph/diagnostics';
import type { GraphModel } from '../graph/model';
import { resolveParams } from '../plugin/params';
import type { NodeRegistry } from '../plugin/registry';

/** Which node asks for which checkpoint (by manifest name), in node order. */
export function checkpointUses(
  model: GraphModel,
  registry: NodeRegistry,
): { nodeId: string; index: number; name: string }[] {
  const uses: { nodeId: string; index: number; name: string }[] = [];
  for (const [index, node] of model.nodes.entries()) {
    const def = registry.get(node.type);
    if (!def?.checkpoint) continue;
    try {
      const name = def.checkpoint(resolveParams(def.params, node.params));
      if (name) uses.push({ nodeId: node.id, index, name });
    } catch {
      // A node with parameters out of range is reported by validation; it names no checkpoint until fixed.
    }
  }
  return uses;
}

/** The checkpoints a graph needs, each once. */
export const requiredCheckpoints = (model: GraphModel, registry: NodeRegistry): string[] => [
  ...new Set(checkpointUses(model, registry).map((u) => u.name)),
];

/** A warning for each checkpoint name that neither the manifest nor the host knows (a typo runs on random weights). */
export function unknownCheckpoints(
  model: GraphModel,
  registry: NodeRegistry,
  known: (name: string) => boolean,
): Diagnostic[] {
  return checkpointUses(model, registry)
    .filter((u) => !known(u.name))
    .map((u) => ({
      severity: 'warning',
      code: 'weights',
      nodeId: u.nodeId,
      path: `$.nodes[${u.index}].params`,
      message: `"${u.nodeId}" asks for weights named "${u.name}", which the weights manifest does not know; load them with --weights ${u.name}=PATH, or it runs on seeded random weights`,
    }));
}
