import type { ViewGraph } from './view';

/**
 * Where the canvas's first view (and Fit) puts the graph: as much of it as fits at a readable zoom, and always its
 * inputs and its outputs, inside the canvas and clear of what floats over it (the minimap). Pure, so it is tested
 * without a browser (tests/first-view.test.ts); Canvas.fit measures the boxes and applies the result.
 */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ViewPlacement {
  /** Zoom. */
  k: number;
  /** Translation: a graph point p is drawn at (x + p.x k, y + p.y k) in the canvas. */
  x: number;
  y: number;
  /** Whether every node is in view, or only the inputs and outputs (the rest is a pan away). */
  shows: 'all' | 'ends';
}

/**
 * The nodes a first view must show: the graph's inputs (nodes nothing feeds: pictures, cameras, folders, weights)
 * and its outputs (output nodes; a graph without one, such as a training graph, ends in the nodes that feed nothing).
 */
export function pathEnds(view: ViewGraph): string[] {
  const fed = new Set(view.edges.map((e) => e.to.node));
  const feeding = new Set(view.edges.map((e) => e.from.node));
  const outputs = view.nodes.filter((n) => n.role === 'output');
  const ends = outputs.length ? outputs : view.nodes.filter((n) => !feeding.has(n.id));
  return [...new Set([...view.nodes.filter((n) => !fed.has(n.id)), ...ends].map((n) => n.id))];
}

const boundsOf = (boxes: Box[]): Box => {
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  return {
    x,
    y,
    width: Math.max(...boxes.map((b) => b.x + b.width)) - x,
    height: Math.max(...boxes.map((b) => b.y + b.height)) - y,
  };
};
const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Space kept between the graph and the canvas's edges or the minimap, in screen pixels. */
export const VIEW_PAD = 24;

/**
 * The zoom and translation of the first view. Tries, in order: every node at the largest zoom up to 1 that fits
 * (and no less than `floor`), then only `ends` (inputs and outputs) at `floor`; at each, a few
 * positions (centred, or against the left or top edge) and slightly smaller zooms until no shown box lies under an
 * obstacle. Failing all, the left of the graph at `floor` (what a graph too big for any readable view gets).
 */
export function placeView(
  boxes: Record<string, Box>,
  ends: string[],
  area: { width: number; height: number },
  obstacles: Box[],
  floor: number,
): ViewPlacement {
  const pad = VIEW_PAD;
  const all = Object.values(boxes);
  const endBoxes = ends.flatMap((id) => (boxes[id] ? [boxes[id]] : []));
  const room = { width: area.width - 2 * pad, height: area.height - 2 * pad };
  const blocked = obstacles.map((o) => ({
    x: o.x - pad / 2,
    y: o.y - pad / 2,
    width: o.width + pad,
    height: o.height + pad,
  }));

  /**
   * A translation at zoom k that shows `shown` inside the area and clear of the obstacles, if there is one: of the
   * positions tried (centred, or against the left or top edge), the one with the fewest other nodes under an obstacle.
   * With `startFirst` (only the ends are shown) the top left comes first on a tie: the graph flows right and down
   * from there, so the nodes between the ends that are in view are as many as can be (centred, the ends of a graph
   * wider than the view left empty canvas on the left while its right ran off the view).
   */
  const place = (shown: Box[], k: number, startFirst: boolean): { x: number; y: number } | null => {
    const b = boundsOf(shown);
    if (b.width * k > room.width + 0.5 || b.height * k > room.height + 0.5) return null;
    const xs = [(area.width - b.width * k) / 2 - b.x * k, pad - b.x * k];
    const ys = [(area.height - b.height * k) / 2 - b.y * k, pad - b.y * k];
    if (startFirst) {
      xs.reverse();
      ys.reverse();
    }
    const under = (list: Box[], x: number, y: number) =>
      list.filter((s) => {
        const d = { x: x + s.x * k, y: y + s.y * k, width: s.width * k, height: s.height * k };
        return blocked.some((o) => overlaps(d, o));
      }).length;
    let best: { x: number; y: number; covered: number } | null = null;
    for (const y of ys)
      for (const x of xs)
        if (!under(shown, x, y)) {
          const covered = under(all, x, y);
          if (!best || covered < best.covered) best = { x, y, covered };
        }
    return best && { x: best.x, y: best.y };
  };
  /** The largest zoom from `start` down to the floor (5% at a time) at which `shown` can be placed. */
  const tryFrom = (shown: Box[], start: number, shows: ViewPlacement['shows']): ViewPlacement | null => {
    for (let k = start; k >= floor - 1e-9; k *= 0.95) {
      const at = place(shown, k, shows === 'ends');
      if (at) return { k, ...at, shows };
      if (k === 0) break;
    }
    return null;
  };

  if (!all.length) return { k: 1, x: 0, y: 0, shows: 'all' };
  const whole = boundsOf(all);
  const fitAll = Math.min(1, room.width / whole.width, room.height / whole.height);
  const best =
    tryFrom(all, Math.max(fitAll, floor), 'all') ?? (endBoxes.length ? tryFrom(endBoxes, floor, 'ends') : null);
  if (best) return best;
  // Too big for a readable view either way: its start, centred vertically when its height fits.
  const k = Math.max(floor, Math.min(fitAll, 1));
  const y = whole.height * k <= room.height ? (area.height - whole.height * k) / 2 - whole.y * k : pad - whole.y * k;
  return { k, x: pad - whole.x * k, y, shows: 'ends' };
}
