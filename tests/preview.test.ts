import { describe, expect, it } from 'vitest';
import {
  channelStats,
  colourMap,
  compareGrams,
  compareStats,
  differenceImage,
  featureGram,
  featureGrid,
  gramCells,
  gramHeatmap,
  heatImage,
  imageThumb,
  logPosition,
  summarise,
} from '../src/ops/preview';
import type { RGBAImage } from '../src/ops/image';

/** RGBA of pixel (x, y). */
const px = (img: RGBAImage, x: number, y: number): number[] =>
  Array.from(img.data.slice((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));
const rgba = (t: number): number[] => [...colourMap(t), 255];
const luminance = ([r, g, b]: number[]): number => 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;

describe('colourMap', () => {
  it('gets brighter from 0 to 1 and clamps outside (NaN -> low end)', () => {
    const l = Array.from({ length: 11 }, (_, i) => luminance(colourMap(i / 10)));
    for (let i = 1; i < l.length; i++) expect(l[i]!).toBeGreaterThan(l[i - 1]!);
    expect(colourMap(-3)).toEqual(colourMap(0));
    expect(colourMap(7)).toEqual(colourMap(1));
    expect(colourMap(NaN)).toEqual(colourMap(0));
  });
});

describe('imageThumb', () => {
  it('box-averages a 2x2 image to 1x1: mean * 255, rounded, alpha 255', () => {
    // Pixels (R, G, B): R = .1 .2 .3 .4 -> 63.75; G = 0 0 1 1 -> 127.5; B = 1 everywhere.
    const img = imageThumb([0.1, 0, 1, 0.2, 0, 1, 0.3, 1, 1, 0.4, 1, 1], [1, 2, 2, 3], 1);
    expect([img.width, img.height]).toEqual([1, 1]);
    expect(Array.from(img.data)).toEqual([64, 128, 255, 255]);
  });

  it('clips to 0..1 before averaging', () => {
    expect(Array.from(imageThumb([-0.5, 1.5, 0.2], [1, 1, 1, 3]).data)).toEqual([0, 255, 51, 255]);
    // R: 1.5 and 0.5 -> (1 + 0.5) / 2 * 255 = 191.25 (unclipped would give 255); G: -1 twice -> 0.
    expect(Array.from(imageThumb([1.5, -1, 0, 0.5, -1, 0], [1, 1, 2, 3], 1).data)).toEqual([191, 0, 0, 255]);
  });

  it('does not upsample and keeps the aspect ratio when shrinking', () => {
    const small = imageThumb(new Float32Array(3 * 5 * 3).fill(0.5), [1, 3, 5, 3]);
    expect([small.width, small.height, small.data.length]).toEqual([5, 3, 60]);
    // 4 x 8, maxSide 4 -> 2 x 4; output (x=1, y=1) averages source rows 2..3, cols 2..3.
    const data = new Float32Array(4 * 8 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) data[(y * 8 + x) * 3] = (y * 8 + x) / 100;
    const img = imageThumb(data, [1, 4, 8, 3], 4);
    expect([img.width, img.height]).toEqual([4, 2]);
    // (18 + 19 + 26 + 27) / 4 / 100 * 255 = 57.375 -> 57
    expect(px(img, 1, 1)).toEqual([57, 0, 0, 255]);
  });
});

describe('channelStats', () => {
  it('gives per-channel mean and population std', () => {
    // 2x2 positions, 2 channels: ch0 = 1 3 0 2, ch1 = 2 0 1 2.
    const { mean, std } = channelStats([1, 2, 3, 0, 0, 1, 2, 2], [1, 2, 2, 2]);
    expect(mean).toEqual([1.5, 1.25]);
    expect(std[0]).toBeCloseTo(Math.sqrt(5 / 4), 12); // (.25 + 2.25 + 2.25 + .25) / 4
    expect(std[1]).toBeCloseTo(Math.sqrt(2.75 / 4), 12); // (.5625 + 1.5625 + .0625 + .5625) / 4
  });
});

describe('featureGrid', () => {
  // 2x2 spatial, 5 channels: ch0 = 5 -1 2 3 (varying), ch1..3 = position index, ch4 constant 7.
  const data: number[] = [];
  [5, -1, 2, 3].forEach((v, p) => data.push(v, p, p, p, 7));
  const img = featureGrid(data, [1, 2, 2, 5]);

  it('lays 5 channels out as 3 columns x 2 rows with 1 px separators and no border', () => {
    expect([img.width, img.height]).toEqual([3 * 2 + 2, 2 * 2 + 1]);
    expect(px(img, 2, 0)).toEqual([32, 32, 32, 255]); // vertical separator
    expect(px(img, 0, 2)).toEqual([32, 32, 32, 255]); // horizontal separator
    expect(px(img, 7, 4)).toEqual([32, 32, 32, 255]); // the empty sixth cell
  });

  it("maps each channel's min and max to the colour map's ends", () => {
    expect(px(img, 1, 0)).toEqual(rgba(0)); // -1
    expect(px(img, 0, 0)).toEqual(rgba(1)); // 5
    expect(px(img, 0, 1)).toEqual(rgba(0.5)); // 2 of -1..5
    expect(rgba(0)).not.toEqual(rgba(1));
  });

  it('renders a constant channel as colour-map(0)', () => {
    // Channel 4: column 1, row 1 -> x 3..4, y 3..4.
    for (const [x, y] of [
      [3, 3],
      [4, 3],
      [3, 4],
      [4, 4],
    ] as const)
      expect(px(img, x, y)).toEqual(rgba(0));
  });

  it('caps channels and cell size', () => {
    const big = featureGrid(new Float32Array(96 * 96 * 20), [1, 96, 96, 20]);
    expect([big.width, big.height]).toEqual([4 * 48 + 3, 4 * 48 + 3]);
    const two = featureGrid(new Float32Array(10 * 4 * 3), [1, 10, 4, 3], 2, 5);
    expect([two.width, two.height]).toEqual([2 * 2 + 1, 5]);
  });
});

describe('gramHeatmap', () => {
  it('averages blocks, colours by pooled range, and reports the original min/max', () => {
    // Block means: top-left 2.5, top-right 10, bottom-left 0, bottom-right 5.5.
    const g = [1, 2, 10, 12, 3, 4, 10, 8, 0, -2, 5, 5, 0, 2, 5, 7];
    const { image, min, max } = gramHeatmap(g, 4, 2, 'linear');
    expect([image.width, image.height]).toEqual([2, 2]);
    expect([min, max]).toEqual([-2, 12]);
    expect(px(image, 1, 0)).toEqual(rgba(1));
    expect(px(image, 0, 1)).toEqual(rgba(0));
    expect(px(image, 0, 0)).toEqual(rgba(0.25));
    expect(px(image, 1, 1)).toEqual(rgba(0.55));
  });

  it('uses blocks of ceil(C / maxSide), the last one short', () => {
    const g = Array.from({ length: 25 }, (_, i) => i);
    expect(gramHeatmap(g, 5, 2).image.width).toBe(2); // block 3: 0..2, 3..4
    expect(gramHeatmap(g, 5, 8).image.width).toBe(5);
  });
});

describe('summarise', () => {
  it('dispatches on the socket type', () => {
    const image = summarise(new Float32Array(2 * 3 * 3), [1, 2, 3, 3], 'Image');
    expect(image.kind === 'image' && [image.image.width, image.image.height]).toEqual([3, 2]);
    const f = summarise([1, 2, 3, 0, 0, 1, 2, 2], [1, 2, 2, 2], 'Features');
    expect(f.kind === 'features' && [f.channels, f.mean, f.image.width]).toEqual([2, [1.5, 1.25], 5]);
    const g = summarise([1, 2, 2, 4], [2, 2], 'Gram');
    expect(g.kind === 'gram' && [g.min, g.max, g.image.width]).toEqual([1, 4, 2]);
    expect(summarise([1, 2, 2, 4], [1, 2, 2], 'Gram').kind).toBe('gram');
    expect(summarise([3.5], [], 'Scalar')).toEqual({ kind: 'scalar', shape: [], value: 3.5 });
    expect(summarise([2], [1, 1, 1, 1], 'Features')).toEqual({ kind: 'scalar', shape: [1, 1, 1, 1], value: 2 });
    expect(summarise([1, 2], [2], 'Stats')).toEqual({ kind: 'other', shape: [2] });
  });

  it('returns other for odd shapes without throwing', () => {
    const odd: [ArrayLike<number>, number[], string][] = [
      [[], [1, 0, 4, 3], 'Image'],
      [[], [], 'Scalar'],
      [[1, 2, 3, 4, 5], [1, 2, 2, 3], 'Image'], // too short
      [new Float32Array(12), [2, 2, 3], 'Image'], // rank 3
      [new Float32Array(24), [2, 2, 2, 3], 'Image'], // batch 2
      [new Float32Array(8), [1, 2, 2, 2], 'Image'], // 2 channels
      [new Float32Array(6), [2, 3], 'Gram'], // not square
      [new Float32Array(6), [2, 3], 'Features'],
      [[1, 2], [-1, -2], 'Features'],
      [[1, 2], [NaN, 2], 'Gram'],
      [[1, 2, 3], [3], 'Scalar'],
    ];
    for (const [data, shape, socket] of odd) expect(summarise(data, shape, socket)).toEqual({ kind: 'other', shape });
  });
});

describe('log-scale Grams and the target/generated comparison', () => {
  it('colours on a log scale: a value a decade below the top sits a quarter down (four decades)', () => {
    expect(logPosition(100, 100)).toBe(1);
    expect(logPosition(10, 100)).toBeCloseTo(0.75);
    expect(logPosition(0.01, 100)).toBe(0);
    expect(logPosition(-5, 100)).toBe(0);
    const img = heatImage([1000, 100, 10, 1], 2, 'log');
    expect(px(img, 0, 0)).toEqual(rgba(1));
    expect(px(img, 1, 0)).toEqual(rgba(0.75));
    expect(px(img, 1, 1)).toEqual(rgba(0.25));
    // The default heatmap of a Gram is the log one.
    expect(px(gramHeatmap([1000, 100, 10, 1], 2).image, 1, 0)).toEqual(rgba(0.75));
  });

  it('pools the Gram of features exactly like pooling the full Gram', () => {
    const h = 3,
      w = 2,
      c = 5;
    const f = Array.from({ length: h * w * c }, (_, i) => Math.sin(i * 1.7) + 1);
    const full: number[] = [];
    for (let i = 0; i < c; i++)
      for (let j = 0; j < c; j++) {
        let s = 0;
        for (let p = 0; p < h * w; p++) s += f[p * c + i]! * f[p * c + j]!;
        full.push(s);
      }
    const g = featureGram(f, [1, h, w, c], 2)!;
    expect([g.side, g.channels, g.positions]).toEqual([2, 5, 6]);
    const want = gramCells(full, c, 2).values;
    g.values.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    expect(featureGram(f, [1, h, w, c], 2, 10)).toBeNull();
    const s = summarise(f, [1, h, w, c], 'Features');
    expect(s.kind === 'features' && s.gram?.side).toBe(5);
  });

  it('shows generated - target with sign and a shared scale, and says how far apart they are', () => {
    const t = gramCells([4, 1, 1, 4], 2);
    const same = compareGrams(t, gramCells([4, 1, 1, 4], 2))!;
    expect(same.maxAbs).toBe(0);
    expect(same.relative).toBe(0);
    expect(px(same.difference, 0, 0)).toEqual([24, 26, 32, 255]);
    const more = compareGrams(t, gramCells([8, 1, 1, 4], 2))!;
    expect(more.maxAbs).toBe(4);
    expect(more.relative).toBeCloseTo(0.4);
    expect(px(more.difference, 0, 0)).toEqual([240, 90, 70, 255]); // more than the style: red
    const less = differenceImage([0, 1, 1, 4], [4, 1, 1, 4], 2);
    expect(px(less.image, 0, 0)).toEqual([80, 150, 250, 255]); // less: blue
    // One scale for both: the target's 4 is no longer the top colour once the generated has 8.
    expect(px(more.target, 0, 0)).not.toEqual(rgba(1));
    expect(px(more.generated, 0, 0)).toEqual(rgba(1));
    expect(compareGrams(t, gramCells([1, 2, 3, 4, 5, 6, 7, 8, 9], 3))).toBeNull();
  });

  it('compares per-channel statistics on one log scale, with signed differences', () => {
    const rows = compareStats([10, 1, 5], [10, 10, 4]);
    expect(rows.map((r) => r.target)).toEqual([1, 0.75, expect.closeTo(1 + Math.log10(0.5) / 4, 6)]);
    expect(rows[0]!.difference).toBe(0);
    expect(rows[1]!.difference).toBe(1);
    expect(rows[2]!.difference).toBeLessThan(0);
  });
});
