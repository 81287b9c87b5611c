import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  applyCover,
  clearRegion,
  fillCover,
  maskDataUrl,
  overlayRgba,
  PaintHistory,
  painterSize,
  paintingProblem,
  regionNameProblem,
  strokeCover,
  type Painting,
} from '../src/editor/mask-painter';
import { imageHeader } from '../src/codecs/image-header';
import { encodeGreyPng } from '../src/codecs/png';
import { applyRegionEdits, contentPhoto, regionNodes } from '../src/editor/regions';
import { graph, registry } from './helpers';

/** The mask painter's logic (src/editor/mask-painter.ts) and its graph edit (src/editor/regions.ts). */

const blank = (width: number, height: number, n: number): Painting => ({
  width,
  height,
  regions: Array.from({ length: n }, (_, k) => ({
    id: `r${k}`,
    name: `region ${k + 1}`,
    colour: ['#ff0000', '#0000ff', '#00ff00'][k]!,
    pixels: new Uint8Array(width * height),
  })),
});

/** A straight brush stroke from `a` to `b` ([x, y] in pixels) of radius `r` on a `width` x `height` painting. */
const line = (width: number, height: number, a: [number, number], b: [number, number], r: number) =>
  strokeCover(
    width,
    height,
    [
      { x: a[0], y: a[1] },
      { x: b[0], y: b[1] },
    ],
    r,
  );

/** The covered pixels of each row, as "x0-x1" runs. */
function runs(cover: Uint8Array, width: number): Record<number, string> {
  const out: Record<number, string> = {};
  for (let y = 0; y < cover.length / width; y++) {
    const xs = [...cover.subarray(y * width, (y + 1) * width)].flatMap((v, x) => (v ? [x] : []));
    if (xs.length) out[y] = `${xs[0]}-${xs.at(-1)}${xs.length === xs.at(-1)! - xs[0]! + 1 ? '' : ' (gaps)'}`;
  }
  return out;
}

/** Region `k`'s painted pixels, as {@link runs}. */
const regionRuns = (p: Painting, k: number) => runs(p.regions[k]!.pixels, p.width);

describe('brush strokes', () => {
  it('cover exactly the pixels whose centre is within the radius of the stroke', () => {
    // A stroke from (2, 5) to (12, 5), radius 2. Row y has its centres at y + 0.5, |dy| from the line; a pixel is in
    // when its centre's x is within sqrt(4 - dy^2) of [2, 12]: rows 4 and 5 (dy 0.5) -> [0.06, 13.94], x 0..13;
    // rows 3 and 6 (dy 1.5) -> [0.68, 13.32], x 1..12; rows 2 and 7 (dy 2.5) -> none.
    const cover = line(16, 12, [2, 5], [12, 5], 2);
    expect(runs(cover, 16)).toEqual({ 3: '1-12', 4: '0-13', 5: '0-13', 6: '1-12' });
    // Radius 2.5: row 7 (dy 2) is in where x's centre lies in [2, 12] (2.5..11.5: x 2..11).
    expect(runs(line(16, 12, [2, 5], [12, 5], 2.5), 16)[7]).toBe('2-11');
  });

  it('with one point, a disc; clipped at the painting border', () => {
    // Centre (0, 0), radius 1.6: pixel centres (0.5, 0.5) d 0.71, (1.5, 0.5) d 1.58, (1.5, 1.5) d 2.12 -> out.
    const cover = strokeCover(4, 4, [{ x: 0, y: 0 }], 1.6);
    expect(runs(cover, 4)).toEqual({ 0: '0-1', 1: '0-0' });
  });

  it('paint the active region and, when exclusive, take the pixels out of the others', () => {
    const p = blank(8, 8, 2);
    p.regions[1]!.pixels.fill(255);
    const cover = line(8, 8, [0, 2], [8, 2], 1.2); // rows 1..2
    expect(applyCover(p, 0, cover, 'paint')).toBe(true);
    for (let i = 0; i < 64; i++) {
      const inside = cover[i] === 1;
      expect([p.regions[0]!.pixels[i], p.regions[1]!.pixels[i]]).toEqual(inside ? [255, 0] : [0, 255]);
    }
    expect(regionRuns(p, 0)).toEqual({ 1: '0-7', 2: '0-7' });
    // Not exclusive: both regions hold the pixels.
    const q = blank(8, 8, 2);
    q.regions[1]!.pixels.fill(255);
    applyCover(q, 0, cover, 'paint', false);
    expect(q.regions[1]!.pixels.every((v) => v === 255)).toBe(true);
    expect(regionRuns(q, 0)).toEqual({ 1: '0-7', 2: '0-7' });
    // The eraser empties only the active region.
    applyCover(q, 1, strokeCover(8, 8, [{ x: 4.5, y: 4.5 }], 0.5), 'erase');
    expect(q.regions[1]!.pixels[4 * 8 + 4]).toBe(0);
    expect(q.regions[1]!.pixels.filter((v) => v === 0).length).toBe(1);
    expect(applyCover(q, 1, strokeCover(8, 8, [{ x: 4.5, y: 4.5 }], 0.5), 'erase')).toBe(false);
  });
});

describe('fill', () => {
  it('takes the connected area under the pointer and stops at a painted border', () => {
    const p = blank(10, 6, 2);
    // Region 2 is a wall at x = 4..5, top to bottom.
    for (let y = 0; y < 6; y++) p.regions[1]!.pixels.set([255, 255], y * 10 + 4);
    applyCover(p, 0, fillCover(p, { x: 1.5, y: 2.5 }), 'paint');
    expect(regionRuns(p, 0)).toEqual(Object.fromEntries([0, 1, 2, 3, 4, 5].map((y) => [y, '0-3'])));
    expect(regionRuns(p, 1)[0]).toBe('4-5');
    // Filling on the wall with region 1 replaces the wall only (same regions under it), joining the halves.
    applyCover(p, 0, fillCover(p, { x: 4, y: 0 }), 'paint');
    expect(p.regions[1]!.pixels.every((v) => v === 0)).toBe(true);
    expect(regionRuns(p, 0)[3]).toBe('0-5');
    // A gap in a diagonal wall does not leak (4-neighbours only): the diagonal of region 2 splits a 4x4 corner.
    const q = blank(4, 4, 2);
    for (let k = 0; k < 4; k++) q.regions[1]!.pixels[k * 4 + (3 - k)] = 255;
    applyCover(q, 0, fillCover(q, { x: 0, y: 0 }), 'paint');
    expect(regionRuns(q, 0)).toEqual({ 0: '0-2', 1: '0-1', 2: '0-0' });
  });

  it('by photo colour: only where the photo is within the tolerance of the colour under the pointer', () => {
    const p = blank(6, 2, 1);
    const rgba = new Uint8Array(6 * 2 * 4);
    // Left three columns red-ish (200 and 180), right three blue.
    for (let i = 0; i < 12; i++) rgba.set(i % 6 < 3 ? [i % 2 ? 180 : 200, 10, 10, 255] : [10, 10, 200, 255], i * 4);
    applyCover(p, 0, fillCover(p, { x: 0, y: 0 }, { rgba, tolerance: 30 }), 'paint');
    expect(regionRuns(p, 0)).toEqual({ 0: '0-2', 1: '0-2' });
    // A tolerance below the red's own spread keeps the 200s connected to the seed: (0, 0) and (0, 1); (2, 0) and
    // (2, 1) are 200 too, but cut off by the 180s of column 1.
    const q = blank(6, 2, 1);
    const cover = fillCover(q, { x: 0, y: 0 }, { rgba, tolerance: 10 });
    expect([...cover]).toEqual([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
  });
});

describe('undo and redo', () => {
  it('restore the exact states, through strokes, fills and clears', () => {
    const p = blank(20, 14, 3);
    const h = new PaintHistory();
    const states: string[] = [];
    const state = () => p.regions.map((r) => Buffer.from(r.pixels).toString('base64')).join('|');
    const step = (f: () => boolean) => {
      states.push(state());
      h.record(p);
      if (!f()) h.drop();
    };
    step(() => applyCover(p, 0, line(20, 14, [1, 1], [18, 12], 3), 'paint'));
    step(() => applyCover(p, 1, fillCover(p, { x: 19, y: 0 }), 'paint'));
    step(() => applyCover(p, 2, line(20, 14, [10, 0], [10, 14], 2.5), 'paint'));
    step(() => applyCover(p, 1, strokeCover(20, 14, [{ x: 15, y: 2 }], 2), 'erase'));
    step(() => clearRegion(p, 2));
    const last = state();
    expect(new Set([...states, last]).size).toBe(6);
    for (let k = states.length - 1; k >= 0; k--) {
      expect(h.undo(p)).toBe(true);
      expect(state()).toBe(states[k]);
    }
    expect(h.undo(p)).toBe(false);
    for (let k = 1; k < states.length; k++) {
      expect(h.redo(p)).toBe(true);
      expect(state()).toBe(states[k]);
    }
    expect(h.redo(p)).toBe(true);
    expect(state()).toBe(last);
    expect(h.canRedo).toBe(false);
    // A new change after an undo forgets the redo.
    h.undo(p);
    step(() => applyCover(p, 0, strokeCover(20, 14, [{ x: 2, y: 2 }], 1), 'erase'));
    expect(h.canRedo).toBe(false);
  });

  it('a region added after a change is empty when that change is undone', () => {
    const p = blank(4, 4, 1);
    const h = new PaintHistory();
    h.record(p);
    applyCover(p, 0, new Uint8Array(16).fill(1), 'paint');
    p.regions.push({ id: 'new', name: 'n', colour: '#00ff00', pixels: new Uint8Array(16) });
    h.record(p);
    applyCover(p, 1, new Uint8Array(16).fill(1), 'paint');
    expect(p.regions[0]!.pixels.every((v) => v === 0)).toBe(true);
    h.undo(p);
    h.undo(p);
    expect(p.regions.map((r) => r.pixels.every((v) => v === 0))).toEqual([true, true]);
    h.redo(p);
    expect(p.regions.map((r) => r.pixels.every((v) => v === 255))).toEqual([true, false]);
  });
});

describe('encoding and showing', () => {
  it('a region is a grey PNG data: URL that decodes back to the same mask', () => {
    const [w, h] = [37, 23];
    const pixels = new Uint8Array(w * h);
    for (let i = 0; i < pixels.length; i++) pixels[i] = i % 7 === 0 ? 128 : i % 3 === 0 ? 255 : 0;
    const url = maskDataUrl(w, h, pixels);
    expect(url.startsWith('data:image/png;base64,')).toBe(true);
    const png = PNG.sync.read(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
    expect([png.width, png.height]).toEqual([w, h]);
    for (let i = 0; i < pixels.length; i++) {
      expect([png.data[i * 4], png.data[i * 4 + 1], png.data[i * 4 + 2], png.data[i * 4 + 3]]).toEqual([
        pixels[i],
        pixels[i],
        pixels[i],
        255,
      ]);
    }
  });

  it('keeps the photo aspect ratio with the longest side at most 512 px', () => {
    expect(painterSize(1024, 768)).toEqual({ width: 512, height: 384 });
    expect(painterSize(300, 1200)).toEqual({ width: 128, height: 512 });
    expect(painterSize(200, 100)).toEqual({ width: 200, height: 100 });
  });

  it('shows each region in its colour at half opacity, later regions over earlier ones', () => {
    const p = blank(3, 1, 2);
    p.regions[0]!.pixels.set([255, 255, 0]);
    p.regions[1]!.pixels.set([0, 255, 0]);
    const out = new Uint8Array(12);
    overlayRgba(p, out);
    // Pixel 0: red at 0.5. Pixel 1: blue at 0.5 over red at 0.5: alpha 0.75, colour (0.25 red + 0.5 blue) / 0.75.
    expect([...out.subarray(0, 4)]).toEqual([255, 0, 0, 128]);
    expect([...out.subarray(4, 8)]).toEqual([85, 0, 170, 191]);
    expect([...out.subarray(8, 12)]).toEqual([0, 0, 0, 0]);
  });
});

describe('the graph edit', () => {
  const model = graph(
    [
      ['style', 'image', { source: 'images/swirls.jpg', slot: 'style' }],
      ['photo', 'image', { source: 'images/astronaut.jpg', slot: 'content' }],
      ['sky', 'mask', { name: 'sky', colour: '#4aa8ff' }],
      ['ground', 'mask', { name: 'ground', source: 'data:image/png;base64,AAAA' }],
    ],
    [],
  );

  it('finds the regions and the content photo by their declarations', () => {
    expect(regionNodes(model, registry).map((r) => [r.id, r.name, r.colour, r.source])).toEqual([
      ['sky', 'sky', '#4aa8ff', ''],
      ['ground', 'ground', '#ff5a5a', 'data:image/png;base64,AAAA'],
    ]);
    expect(contentPhoto(model, registry)).toEqual({ node: 'photo', source: 'images/astronaut.jpg' });
    expect(contentPhoto(graph([['s', 'image', { source: 'a.jpg', slot: 'style' }]], []), registry)).toBeNull();
  });

  it('writes changed paintings, names and colours, and adds new regions near the others', () => {
    const next = applyRegionEdits(model, registry, [
      { id: 'sky', name: 'sky', colour: '#4aa8ff', source: 'data:image/png;base64,SKY' },
      { id: 'ground', name: 'earth', colour: '#ff5a5a' },
      { name: 'water', colour: '#5ad25a', source: 'data:image/png;base64,WATER' },
    ]);
    expect(model.nodes.find((n) => n.id === 'sky')!.params.source).toBeUndefined();
    const byId = new Map(next.nodes.map((n) => [n.id, n]));
    expect(byId.get('sky')!.params).toEqual({ name: 'sky', colour: '#4aa8ff', source: 'data:image/png;base64,SKY' });
    expect(byId.get('ground')!.params).toEqual({ name: 'earth', source: 'data:image/png;base64,AAAA' });
    const added = next.nodes.filter((n) => !model.nodes.some((m) => m.id === n.id));
    expect(added.map((n) => [n.type, n.params])).toEqual([
      ['mask', { name: 'water', colour: '#5ad25a', source: 'data:image/png;base64,WATER' }],
    ]);
    // Below the lowest region, in the same column, on no other node.
    expect(added[0]!.position.x).toBe(0);
    expect(added[0]!.position.y).toBeGreaterThan(0);
    // Nothing changed: the same model, so no edit is committed.
    expect(applyRegionEdits(model, registry, [{ id: 'sky', name: 'sky', colour: '#4aa8ff' }])).toBe(model);
  });
});

describe('renaming a region', () => {
  const names = ['sky', 'ground', 'region 3'];
  it('takes a new name, or its own again, trimmed', () => {
    expect(regionNameProblem(names, 0, ' clouds ')).toBeNull();
    expect(regionNameProblem(names, 1, 'ground')).toBeNull();
  });
  it("refuses another region's name, an empty one and one with '=' (the CLI's --mask NAME=IMG could not pick it)", () => {
    expect(regionNameProblem(names, 0, 'ground ')).toMatch(/"ground" is another region's name/);
    expect(regionNameProblem(names, 2, '  ')).toMatch(/needs a name/);
    expect(regionNameProblem(names, 0, 'sky=top')).toMatch(/cannot hold '='/);
  });
});

describe("a painting's size, read before the browser decodes it", () => {
  const url = (width: number, height: number) =>
    `data:image/png;base64,${Buffer.from(encodeGreyPng(width, height, new Uint8Array(width * height))).toString('base64')}`;
  it('reads the PNG header: width and height', () => {
    const png = encodeGreyPng(7, 3, new Uint8Array(21));
    expect(imageHeader(png)).toEqual({ format: 'png', width: 7, height: 3 });
    expect(imageHeader(png.subarray(0, 20))).toBeNull();
    expect(imageHeader(Uint8Array.from([0xff, 0xd8, 0xff]))).toBeNull();
  });
  it('opens a painting up to 40 MP and refuses a larger one, saying its size', () => {
    expect(paintingProblem(url(48, 32))).toBeNull();
    expect(paintingProblem('')).toBeNull();
    expect(paintingProblem('images/sky.png')).toBeNull();
    // A flat 8000 x 5001 mask: 40.008 MP, 40 kB of PNG.
    expect(paintingProblem(url(8000, 5001))).toBe('8000 x 5001 px (40.0 MP), over the 40 MP a picture may have');
    expect(paintingProblem(url(8000, 5000))).toBeNull();
  });
});

describe('the undo history', () => {
  const p = blank(4, 4, 2);
  const paint = (h: PaintHistory, k: number) => {
    h.record(p);
    applyCover(p, 0, new Uint8Array(16).fill(k % 2), 'paint');
  };
  const undos = (h: PaintHistory) => {
    let n = 0;
    while (h.undo(p)) n++;
    return n;
  };
  it('keeps at most its steps, and no more bytes than its budget (each step copies every region)', () => {
    const steps = new PaintHistory(3, 1 << 20);
    for (let k = 0; k < 6; k++) paint(steps, k);
    expect(undos(steps)).toBe(3);
    // A step here is 2 regions x 16 px = 32 bytes: 100 bytes hold 3 of them.
    const bytes = new PaintHistory(60, 100);
    for (let k = 0; k < 6; k++) paint(bytes, k);
    expect(undos(bytes)).toBe(3);
    // One step larger than the budget is still kept.
    const tiny = new PaintHistory(60, 10);
    paint(tiny, 1);
    expect(undos(tiny)).toBe(1);
  });
});
