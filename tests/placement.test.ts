import { describe, expect, it } from 'vitest';
import { boundsOf, freeSpot, nodeBoxes, overlaps, previewSide, type Box } from '../src/editor/placement';
import { viewGraph } from '../src/editor/view';
import { builtinRegistry } from '../nodes';
import { loadPreset } from './helpers';

const size = { width: 220, height: 100 };

describe('freeSpot', () => {
  it('keeps the wanted spot when it is free', () => {
    expect(freeSpot([], size, { x: 10.4, y: 20.6 })).toEqual({ x: 10, y: 21 });
    expect(freeSpot([{ x: 0, y: 0, width: 220, height: 100 }], size, { x: 300, y: 0 })).toEqual({ x: 300, y: 0 });
  });

  it('moves a box off an occupied spot to the nearest free one, keeping the gap', () => {
    const taken: Box[] = [{ x: 0, y: 0, width: 220, height: 100 }];
    const at = freeSpot(taken, size, { x: 0, y: 0 });
    expect(overlaps({ ...at, ...size }, taken[0]!, 20)).toBe(false);
    // The nearest free spot is directly below (y = 120) or beside (x = 240): below wins, it is nearer.
    expect(at).toEqual({ x: 0, y: 120 });
  });

  it('finds a hole among many nodes and never overlaps any', () => {
    const taken: Box[] = [];
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 5; j++)
        if (i !== 2 || j !== 2) taken.push({ x: i * 260, y: j * 140, width: 220, height: 100 });
    const at = freeSpot(taken, size, { x: 520, y: 280 });
    expect(at).toEqual({ x: 520, y: 280 });
    const crowded = freeSpot([...taken, { x: 520, y: 280, width: 220, height: 100 }], size, { x: 530, y: 290 });
    for (const b of taken) expect(overlaps({ ...crowded, ...size }, b, 20)).toBe(false);
  });
});

describe('previewSide', () => {
  const node = { x: 0, y: 0, width: 220, height: 100 };
  const preview = { width: 220, height: 250 };
  it('opens below when nothing is there, else on a free side', () => {
    expect(previewSide(node, preview, [])).toBe('below');
    expect(previewSide(node, preview, [{ x: 0, y: 150, width: 220, height: 100 }])).toBe('right');
    expect(
      previewSide(node, preview, [
        { x: 0, y: 150, width: 220, height: 100 },
        { x: 260, y: 0, width: 220, height: 100 },
      ]),
    ).toBe('left');
  });
  it('covers the least when every side is taken', () => {
    const around: Box[] = [
      { x: 0, y: 110, width: 220, height: 300 }, // below: fully covered
      { x: 230, y: 0, width: 220, height: 300 }, // right: fully covered
      { x: -230, y: 0, width: 220, height: 20 }, // left: a sliver
      { x: 0, y: -300, width: 220, height: 300 }, // above: fully covered
    ];
    expect(previewSide(node, preview, around)).toBe('left');
  });
});

describe('nodeBoxes and boundsOf', () => {
  it('gives every node of the Gatys preset a box, and an open preview its own box that covers no node', () => {
    const registry = builtinRegistry();
    const view = viewGraph(loadPreset('gatys.json'), registry);
    // style_relu3_1: a node with a free side in the compact layout (relu1_1's every side is taken since the presets
    // were laid out to fit the first view; its preview then covers the least, tested above).
    const boxes = nodeBoxes(view, undefined, ['style_relu3_1']);
    expect(boxes.size).toBe(view.nodes.length + 1);
    const p = boxes.get('style_relu3_1:preview')!;
    for (const [id, b] of boxes) if (!id.endsWith(':preview')) expect(overlaps(p, b)).toBe(false);
    expect(
      boundsOf([
        { x: 1, y: 2, width: 3, height: 4 },
        { x: -1, y: 5, width: 1, height: 1 },
      ]),
    ).toEqual({ x: -1, y: 2, width: 5, height: 4 });
  });
});
