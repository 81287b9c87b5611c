import type { ViewGraph, ViewNode } from './view';
import { estimateHeight } from './view';

/** A rectangle on the canvas, in graph coordinates. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

/** How wide the canvas draws a node (NodeView's width). */
export const NODE_WIDTH = 220;
/** Room a node's open preview (the eye) takes next to it: tabs, a heatmap or feature grid, a caption. */
export const PREVIEW_SIZE: Size = { width: NODE_WIDTH, height: 250 };
/** Space kept free between a placed node and its neighbours. */
export const GAP = 20;

/** Whether two boxes overlap once `gap` is kept around them (touching at exactly `gap` is fine). */
export function overlaps(a: Box, b: Box, gap = 0): boolean {
  return (
    a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap
  );
}

/**
 * The free spot nearest to `near` for a box of `size` (its top-left corner): tries positions on a `step` grid in
 * growing rings around `near`, nearest first, and returns the first that keeps `gap` from every occupied box. An
 * empty canvas, or a free `near`, gives `near` itself.
 */
export function freeSpot(
  occupied: readonly Box[],
  size: Size,
  near: { x: number; y: number },
  options: { gap?: number; step?: number; rings?: number } = {},
): { x: number; y: number } {
  const gap = options.gap ?? GAP;
  const step = options.step ?? 20;
  const rings = options.rings ?? 80;
  const free = (x: number, y: number) =>
    !occupied.some((b) => overlaps({ x, y, width: size.width, height: size.height }, b, gap));
  const at = { x: Math.round(near.x), y: Math.round(near.y) };
  if (free(at.x, at.y)) return at;
  for (let r = 1; r <= rings; r++) {
    const ring: { x: number; y: number; d: number }[] = [];
    for (let i = -r; i <= r; i++)
      for (const [dx, dy] of [
        [i, -r],
        [i, r],
        [-r, i],
        [r, i],
      ] as const) {
        if (Math.abs(dx) !== r && Math.abs(dy) !== r) continue;
        ring.push({ x: at.x + dx * step, y: at.y + dy * step, d: Math.hypot(dx, dy) });
      }
    // Nearest first; ties prefer below, then right (reading order of a graph that flows left to right).
    ring.sort((a, b) => a.d - b.d || b.y - a.y || b.x - a.x);
    const hit = ring.find((p) => free(p.x, p.y));
    if (hit) return { x: hit.x, y: hit.y };
  }
  // Nothing free within reach: below everything.
  const bottom = Math.max(...occupied.map((b) => b.y + b.height));
  return { x: at.x, y: bottom + gap };
}

/** The box around several boxes (an empty list gives a zero box at the origin). */
export function boundsOf(boxes: readonly Box[]): Box {
  if (!boxes.length) return { x: 0, y: 0, width: 0, height: 0 };
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  return {
    x,
    y,
    width: Math.max(...boxes.map((b) => b.x + b.width)) - x,
    height: Math.max(...boxes.map((b) => b.y + b.height)) - y,
  };
}

/**
 * The boxes the canvas draws for a view graph: each node's measured size when `measure` knows it (the canvas
 * does), else its estimated height; a node whose preview is open (`previews`) also takes the preview's room.
 */
export function nodeBoxes(
  view: ViewGraph,
  measure?: (id: string) => Size | undefined,
  previews: readonly string[] = [],
): Map<string, Box> {
  const boxes = new Map<string, Box>();
  for (const v of view.nodes) {
    const size = measure?.(v.id) ?? { width: NODE_WIDTH, height: estimateHeight(v) };
    boxes.set(v.id, { x: v.position.x, y: v.position.y, ...size });
    if (previews.includes(v.id)) boxes.set(`${v.id}:preview`, previewBox(v, size, view, measure));
  }
  return boxes;
}

/** Where a node's preview goes, relative to the node's top-left corner. */
export type PreviewSide = 'below' | 'right' | 'left' | 'above';

/**
 * The side of a node where its preview covers no other node: below if that is free, else right, left, above;
 * when every side covers something, the side that covers the least area.
 */
export function previewSide(node: Box, preview: Size, others: readonly Box[]): PreviewSide {
  const sides: PreviewSide[] = ['below', 'right', 'left', 'above'];
  const covered = (side: PreviewSide) => {
    const b = previewAt(node, preview, side);
    return others.reduce((sum, o) => {
      if (!overlaps(b, o)) return sum;
      const w = Math.min(b.x + b.width, o.x + o.width) - Math.max(b.x, o.x);
      const h = Math.min(b.y + b.height, o.y + o.height) - Math.max(b.y, o.y);
      return sum + w * h;
    }, 0);
  };
  const areas = sides.map((s) => [s, covered(s)] as const);
  return (areas.find(([, a]) => a === 0) ?? [...areas].sort((a, b) => a[1] - b[1])[0]!)[0];
}

/** The preview's box on a given side of a node (6 px apart). */
export function previewAt(node: Box, preview: Size, side: PreviewSide): Box {
  const x = side === 'right' ? node.x + node.width + 6 : side === 'left' ? node.x - preview.width - 6 : node.x;
  const y = side === 'below' ? node.y + node.height + 6 : side === 'above' ? node.y - preview.height - 6 : node.y;
  return { x, y, ...preview };
}

function previewBox(v: ViewNode, size: Size, view: ViewGraph, measure?: (id: string) => Size | undefined): Box {
  const node = { x: v.position.x, y: v.position.y, ...size };
  const others = view.nodes
    .filter((o) => o.id !== v.id)
    .map((o) => ({
      x: o.position.x,
      y: o.position.y,
      ...(measure?.(o.id) ?? { width: NODE_WIDTH, height: estimateHeight(o) }),
    }));
  return previewAt(node, PREVIEW_SIZE, previewSide(node, PREVIEW_SIZE, others));
}
