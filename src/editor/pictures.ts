import { sourceOf } from '../plugin/roles';
import type { NodeRegistry } from '../plugin/registry';

/** A node as the editor holds it, or as a preset file spells it (parameters may be left out). */
interface NodeLike {
  type: string;
  params?: Record<string, unknown>;
}

/**
 * The picture a still-picture node shows: the parameter its declared source role names (roles.source, kind
 * 'image'), or that parameter's default; null for any other node (cameras, folders, nodes that take no picture).
 */
export function pictureOf(registry: NodeRegistry, node: NodeLike | undefined): string | null {
  if (!node) return null;
  const def = registry.get(node.type);
  const source = sourceOf(def, node.params ?? {});
  if (source?.kind !== 'image') return null;
  return String(node.params?.[source.param] ?? def?.params[source.param]?.default ?? '');
}

/** Whether a node is a still-picture node (its declared source role reads an image). */
export const isPictureNode = (registry: NodeRegistry, node: NodeLike | undefined): boolean =>
  pictureOf(registry, node) !== null;

/** The node type a new picture is added as: the first one whose source role reads an image and has a run slot. */
export const pictureType = (registry: NodeRegistry): string | undefined =>
  registry.list().find((t) => t.roles?.source?.kind === 'image' && t.roles.source.slot !== undefined)?.type ??
  registry.list().find((t) => t.roles?.source?.kind === 'image')?.type;
