import { ref } from 'vue';
import { addNode, setParam } from '../graph/edit';
import type { GraphModel } from '../graph/model';
import type { NodeRegistry } from '../plugin/registry';
import { sourceOf } from '../plugin/roles';
import type { NodeTypeDef } from '../plugin/types';
import { sourcePlace } from '../web/source-origin';
import { isUpload } from '../web/uploads';
import { freeSpot, nodeBoxes } from './placement';
import { pictureOf } from './pictures';
import { uploadUrl } from './thumbnails';
import { estimateHeight, viewGraph } from './view';

/**
 * The graph side of the mask painter: which nodes are painted regions, which photo they are painted over, and the
 * one graph edit that Done makes. Region nodes are found by what they declare (a `source` image parameter, `name`
 * and `colour` string parameters, `mask` and `inverse` outputs), never by a type name.
 */

/** The region node the painter was opened on (its id), or null while the painter is closed. */
export const paintingRegion = ref<string | null>(null);

/** Whether a node type is a painted region. */
export function isRegionType(def: NodeTypeDef | undefined): boolean {
  return (
    !!def &&
    def.params.source?.kind === 'image' &&
    def.params.name?.kind === 'string' &&
    def.params.colour?.kind === 'string' &&
    'mask' in def.outputs &&
    'inverse' in def.outputs
  );
}

/** The node type a new region is added as. */
export const regionType = (registry: NodeRegistry): string | undefined => registry.list().find(isRegionType)?.type;

/** A region node as the painter lists it. */
export interface RegionNode {
  id: string;
  name: string;
  colour: string;
  /** Its painting ('' = the whole picture). */
  source: string;
}

/** Every region node of the graph, in the graph's order. */
export function regionNodes(model: GraphModel, registry: NodeRegistry): RegionNode[] {
  return model.nodes.flatMap((n) => {
    const def = registry.get(n.type);
    if (!def || !isRegionType(def)) return [];
    const value = (p: string) => String(n.params[p] ?? def.params[p]?.default ?? '');
    return [{ id: n.id, name: value('name'), colour: value('colour'), source: value('source') }];
  });
}

/**
 * The photo regions are painted over: the picture node whose slot is the content, else the first picture node
 * that is not a style; null when the graph has none.
 */
export function contentPhoto(model: GraphModel, registry: NodeRegistry): { node: string; source: string } | null {
  const pictures = model.nodes.flatMap((n) => {
    const source = pictureOf(registry, n);
    if (source === null || !source) return [];
    return [{ node: n.id, source, slot: sourceOf(registry.get(n.type), n.params)?.slot }];
  });
  const chosen = pictures.find((p) => p.slot === 'content') ?? pictures.find((p) => p.slot !== 'style');
  return chosen ? { node: chosen.node, source: chosen.source } : null;
}

/**
 * A URL the page may load a picture from: a file of the app's own origin, a data: image, or this browser's copy of
 * a dropped image; null for anything else (a shared graph must not fetch from elsewhere unasked).
 */
export async function pictureUrl(source: string, page: string): Promise<string | null> {
  if (!source) return null;
  if (isUpload(source)) return uploadUrl(source);
  const place = sourcePlace(source, page);
  return place.local && place.href && (!place.href.startsWith('data:') || place.href.startsWith('data:image/'))
    ? place.href
    : null;
}

/** What Done writes for one region: an existing node (`id`) or a new one (`id` absent). */
export interface RegionEdit {
  id?: string;
  name: string;
  colour: string;
  /** The new painting, or undefined to keep the node's. */
  source?: string;
}

/** Where a new region node goes: below the lowest region (or left of the graph), in free space. */
function newRegionSpot(model: GraphModel, registry: NodeRegistry, type: string): { x: number; y: number } {
  const view = viewGraph(model, registry);
  const regions = view.nodes.filter((v) => v.type === type);
  const lowest = regions.reduce<(typeof regions)[number] | undefined>(
    (a, v) => (!a || v.position.y > a.position.y ? v : a),
    undefined,
  );
  const near = lowest
    ? { x: lowest.position.x, y: lowest.position.y + estimateHeight(lowest) + 30 }
    : { x: Math.min(0, ...view.nodes.map((v) => v.position.x)) - 260, y: 0 };
  return freeSpot([...nodeBoxes(view).values()], { width: 220, height: lowest ? estimateHeight(lowest) : 200 }, near);
}

/**
 * The graph with the painter's edits: each existing region's changed name, colour and painting set, each new
 * region added near the others. A pure function of the model: the store commits its result as one edit.
 */
export function applyRegionEdits(model: GraphModel, registry: NodeRegistry, edits: readonly RegionEdit[]): GraphModel {
  let next = model;
  const type = regionType(registry);
  for (const e of edits) {
    let id = e.id;
    if (!id) {
      if (!type) continue;
      const added = addNode(next, type, newRegionSpot(next, registry, type), {});
      [next, id] = [added.model, added.id];
    }
    const node = next.nodes.find((n) => n.id === id);
    if (!node) continue;
    const now = regionNodes({ ...next, nodes: [node] }, registry)[0];
    if (!now) continue;
    if (now.name !== e.name) next = setParam(next, id, 'name', e.name);
    if (now.colour !== e.colour) next = setParam(next, id, 'colour', e.colour);
    if (e.source !== undefined && now.source !== e.source) next = setParam(next, id, 'source', e.source);
  }
  return next;
}
