import { describe, expect, it } from 'vitest';
import { pathEnds, placeView, VIEW_PAD, type Box } from '../src/editor/first-view';
import type { ViewGraph, ViewNode } from '../src/editor/view';

/** The first view's placement (issue 28, item 5) on hand-made boxes; tests/e2e/first-view.e2e.ts checks the presets. */
const node = (id: string, type = 'x'): ViewNode => ({
  id,
  kind: 'node',
  title: id,
  type,
  ...(type === 'output' ? { role: 'output' as const } : {}),
  position: { x: 0, y: 0 },
  inputs: [],
  outputs: [],
});
const edge = (a: string, b: string) => ({
  id: `${a}>${b}`,
  from: { node: a, socket: 'o' },
  to: { node: b, socket: 'i' },
});
const drawn = (b: Box, p: { k: number; x: number; y: number }): Box => ({
  x: p.x + b.x * p.k,
  y: p.y + b.y * p.k,
  width: b.width * p.k,
  height: b.height * p.k,
});
const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const within = (a: Box, area: { width: number; height: number }) =>
  a.x >= 0 && a.y >= 0 && a.x + a.width <= area.width && a.y + a.height <= area.height;

describe('pathEnds', () => {
  it('names the inputs (nothing feeds them) and the output nodes', () => {
    const view: ViewGraph = {
      nodes: [node('photo', 'image'), node('enc'), node('loss'), node('out', 'output'), node('weights')],
      edges: [edge('photo', 'enc'), edge('enc', 'loss'), edge('enc', 'out'), edge('weights', 'enc')],
    };
    expect(pathEnds(view).sort()).toEqual(['out', 'photo', 'weights']);
  });

  it('takes the nodes that feed nothing when there is no output node (a training graph)', () => {
    const view: ViewGraph = {
      nodes: [node('folder'), node('trainer'), node('save'), node('w')],
      edges: [edge('folder', 'trainer'), edge('w', 'trainer'), edge('w', 'save')],
    };
    expect(pathEnds(view).sort()).toEqual(['folder', 'save', 'trainer', 'w']);
  });
});

describe('placeView', () => {
  const area = { width: 1000, height: 800 };
  const minimap = { x: 1000 - 24 - 168, y: 800 - 24 - 120, width: 168, height: 120 };

  it('shows a graph that fits whole, at zoom 1 at most, inside the area and clear of the minimap', () => {
    const boxes = { a: { x: 0, y: 0, width: 200, height: 100 }, b: { x: 400, y: 300, width: 200, height: 300 } };
    const p = placeView(boxes, ['a', 'b'], area, [minimap], 0.75);
    expect(p.shows).toBe('all');
    expect(p.k).toBe(1);
    for (const b of Object.values(boxes)) {
      expect(within(drawn(b, p), area)).toBe(true);
      expect(overlaps(drawn(b, p), minimap)).toBe(false);
    }
  });

  it('shrinks a graph to fit whole (not below the floor), keeping every box off the minimap', () => {
    // 1400 wide: fits at 952/1400 = 0.68 at most; the bottom-right box would sit under the minimap there.
    const boxes = { a: { x: 0, y: 0, width: 200, height: 100 }, b: { x: 1200, y: 900, width: 200, height: 100 } };
    const p = placeView(boxes, ['a', 'b'], area, [minimap], 0.5);
    expect(p.shows).toBe('all');
    expect(p.k).toBeGreaterThanOrEqual(0.5);
    expect(p.k).toBeLessThanOrEqual((area.width - 2 * VIEW_PAD) / 1400);
    for (const b of Object.values(boxes)) {
      expect(within(drawn(b, p), area)).toBe(true);
      expect(overlaps(drawn(b, p), minimap)).toBe(false);
    }
  });

  it('shows the ends at the floor when the whole graph does not fit readably, the rest a pan away', () => {
    const boxes: Record<string, Box> = {
      input: { x: 0, y: 0, width: 220, height: 200 },
      output: { x: 1000, y: 500, width: 220, height: 60 },
      // A tall column between them: the whole graph is 2200 high, far more than 800 / 0.75.
      ...Object.fromEntries(
        Array.from({ length: 11 }, (_, i) => [`loss${i}`, { x: 840, y: i * 200, width: 220, height: 180 }]),
      ),
    };
    const p = placeView(boxes, ['input', 'output'], area, [minimap], 0.75);
    expect(p).toMatchObject({ shows: 'ends', k: 0.75 });
    for (const id of ['input', 'output']) {
      expect(within(drawn(boxes[id]!, p), area)).toBe(true);
      expect(overlaps(drawn(boxes[id]!, p), minimap)).toBe(false);
    }
    // Not all of it: the bottom of the loss column is out of view.
    expect(within(drawn(boxes.loss10!, p), area)).toBe(false);
  });

  it('puts the ends against the left edge when only they are shown, so the graph flowing right from them shows most', () => {
    // A training graph: its ends (folders, weights, the saved results) in the first two columns, the rest (losses,
    // 2000 units wide and tall) to the right and below: too big to show whole at the floor.
    const boxes: Record<string, Box> = {
      folder: { x: 0, y: 0, width: 220, height: 100 },
      save: { x: 280, y: 300, width: 220, height: 80 },
      ...Object.fromEntries(
        Array.from({ length: 8 }, (_, i) => [
          `loss${i}`,
          { x: 560 + (i % 4) * 280, y: i * 250, width: 220, height: 200 },
        ]),
      ),
    };
    // No obstacle: no position covers fewer nodes than another, the order of preference decides alone.
    const p = placeView(boxes, ['folder', 'save'], area, [], 0.75);
    expect(p).toMatchObject({ shows: 'ends', k: 0.75 });
    expect(p.x + boxes.folder!.x * p.k).toBeCloseTo(VIEW_PAD);
    expect(p.y + boxes.folder!.y * p.k).toBeCloseTo(VIEW_PAD);
    for (const id of ['folder', 'save']) expect(within(drawn(boxes[id]!, p), area)).toBe(true);
  });

  it('falls back to the start of the graph at the floor when even its ends do not fit', () => {
    const boxes = { a: { x: 0, y: 0, width: 200, height: 100 }, b: { x: 3000, y: 0, width: 200, height: 100 } };
    const p = placeView(boxes, ['a', 'b'], area, [minimap], 0.75);
    expect(p).toEqual({ k: 0.75, x: VIEW_PAD, y: (area.height - 100 * 0.75) / 2, shows: 'ends' });
  });
});
