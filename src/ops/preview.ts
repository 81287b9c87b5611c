import type { RGBAImage } from './image';

/** A small picture (or number) summarising one tensor, for display on a node. */
export type Preview =
  | { kind: 'image'; shape: number[]; image: RGBAImage }
  | {
      kind: 'features';
      shape: number[];
      image: RGBAImage;
      channels: number;
      mean: number[];
      std: number[];
      gram?: GramCells;
    }
  | { kind: 'gram'; shape: number[]; image: RGBAImage; min: number; max: number; cells: GramCells }
  | { kind: 'scalar'; shape: number[]; value: number }
  | { kind: 'other'; shape: number[] };

type RGB = readonly [number, number, number];

/**
 * A Gram matrix pooled to at most side x side cells (block means of ceil(C/side) channels), as numbers, so that
 * two Grams of the same layer (the style target's and the generated image's) can be compared cell by cell.
 * `channels`: C of the matrix; `positions`: H*W of the features it came from (0 when not known).
 */
export interface GramCells {
  side: number;
  channels: number;
  positions: number;
  values: Float32Array;
}

/** Colour scale of a heatmap: linear over min..max, or logarithmic (a Gram spans several decades). */
export type HeatScale = 'linear' | 'log';

// Viridis sampled at i/7: dark purple -> blue -> green -> yellow, luminance rising throughout.
const STOPS: readonly RGB[] = [
  [68, 1, 84],
  [70, 50, 126],
  [54, 92, 141],
  [39, 127, 142],
  [31, 161, 135],
  [74, 193, 109],
  [160, 218, 57],
  [253, 231, 37],
];
const SEPARATOR = 32;

const clip01 = (x: number): number => (x > 0 ? (x < 1 ? x : 1) : 0);

/** Viridis-like colour for t in 0..1 (clamped; NaN gives the low end), as rounded RGB bytes. */
export function colourMap(t: number): [number, number, number] {
  const x = clip01(t) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const a = STOPS[i]!,
    b = STOPS[i + 1]!,
    f = x - i;
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

/** Size that fits h x w inside maxSide on its longest side, never larger than the source (at least 1 px). */
function fit(h: number, w: number, maxSide: number): [number, number] {
  const s = Math.min(1, maxSide / Math.max(h, w, 1));
  return [Math.max(1, Math.round(h * s)), Math.max(1, Math.round(w * s))];
}

/** Bin edges splitting n source cells into m nearly equal runs. */
const binEdges = (n: number, m: number): number[] => Array.from({ length: m + 1 }, (_, o) => Math.floor((o * n) / m));
/** Bin edges of blocks of b cells (the last one may be short). */
const blockEdges = (n: number, b: number): number[] =>
  Array.from({ length: Math.ceil(n / b) + 1 }, (_, o) => Math.min(n, o * b));

/** Box-averages a row-major plane of width w into the cells given by row edges ys and column edges xs. */
function pool(plane: ArrayLike<number>, w: number, ys: number[], xs: number[]): Float64Array {
  const oh = ys.length - 1,
    ow = xs.length - 1;
  const out = new Float64Array(Math.max(0, oh * ow));
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      let sum = 0,
        count = 0;
      for (let y = ys[oy]!; y < ys[oy + 1]!; y++) {
        for (let x = xs[ox]!; x < xs[ox + 1]!; x++, count++) sum += plane[y * w + x]!;
      }
      out[oy * ow + ox] = count ? sum / count : 0;
    }
  }
  return out;
}

/** Channel k of an interleaved [1, H, W, C] tensor as a plane, mapped through `f`. */
function plane(data: ArrayLike<number>, size: number, c: number, k: number, f: (v: number) => number): Float64Array {
  const out = new Float64Array(size);
  for (let p = 0; p < size; p++) out[p] = f(data[p * c + k]!);
  return out;
}

/** [1, H, W, 3] floats in 0..1 -> RGBA thumbnail: clipped, box-downsampled so the longest side is <= maxSide. */
export function imageThumb(data: ArrayLike<number>, shape: number[], maxSide = 96): RGBAImage {
  const h = shape[1] ?? 0,
    w = shape[2] ?? 0;
  const [height, width] = fit(h, w, maxSide);
  const ys = binEdges(h, height),
    xs = binEdges(w, width);
  const out = new Uint8ClampedArray(width * height * 4).fill(255);
  for (let k = 0; k < 3; k++) {
    const small = pool(plane(data, h * w, 3, k, clip01), w, ys, xs);
    for (let p = 0; p < small.length; p++) out[p * 4 + k] = Math.round(small[p]! * 255);
  }
  return { width, height, data: out };
}

/** Per-channel mean and population std of a [1, H, W, C] tensor (float64 accumulation, two passes). */
export function channelStats(data: ArrayLike<number>, shape: number[]): { mean: number[]; std: number[] } {
  const m = (shape[1] ?? 0) * (shape[2] ?? 0),
    c = shape[3] ?? 0;
  const mean: number[] = [],
    std: number[] = [];
  for (let k = 0; k < c; k++) {
    let sum = 0,
      sq = 0;
    for (let p = 0; p < m; p++) sum += data[p * c + k]!;
    const mu = m ? sum / m : 0;
    for (let p = 0; p < m; p++) sq += (data[p * c + k]! - mu) ** 2;
    mean.push(mu);
    std.push(m ? Math.sqrt(sq / m) : 0);
  }
  return { mean, std };
}

/**
 * The first min(C, maxChannels) channels of a [1, H, W, C] tensor as a colour-mapped grid: each channel normalised by its own
 * min..max (constant -> 0), cells box-downsampled to <= maxCell, ceil(sqrt(n)) columns, 1 px dark separators, no border.
 */
export function featureGrid(data: ArrayLike<number>, shape: number[], maxChannels = 16, maxCell = 48): RGBAImage {
  const h = shape[1] ?? 0,
    w = shape[2] ?? 0,
    c = shape[3] ?? 0;
  const n = Math.max(0, Math.min(c, maxChannels));
  const cols = Math.ceil(Math.sqrt(n)),
    rows = n ? Math.ceil(n / cols) : 0;
  const [ch, cw] = fit(h, w, maxCell);
  const width = Math.max(0, cols * (cw + 1) - 1),
    height = Math.max(0, rows * (ch + 1) - 1);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) out.set([SEPARATOR, SEPARATOR, SEPARATOR, 255], p * 4);
  const ys = binEdges(h, ch),
    xs = binEdges(w, cw);
  for (let k = 0; k < n; k++) {
    let lo = Infinity,
      hi = -Infinity;
    for (let p = 0; p < h * w; p++) {
      const v = data[p * c + k]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo;
    const cell = pool(
      plane(data, h * w, c, k, (v) => (range > 0 && range < Infinity ? (v - lo) / range : 0)),
      w,
      ys,
      xs,
    );
    const x0 = (k % cols) * (cw + 1),
      y0 = Math.floor(k / cols) * (ch + 1);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) out.set(colourMap(cell[y * cw + x]!), ((y0 + y) * width + x0 + x) * 4);
    }
  }
  return { width, height, data: out };
}

/** A C x C row-major matrix pooled into blocks of ceil(C/maxSide) channels (block means), with its min and max. */
export function gramCells(data: ArrayLike<number>, c: number, maxSide = 128, positions = 0): GramCells {
  const edges = blockEdges(c, Math.max(1, Math.ceil(c / maxSide)));
  return { side: edges.length - 1, channels: c, positions, values: Float32Array.from(pool(data, c, edges, edges)) };
}

/**
 * Where v lies on a log scale over [hi * 10^-decades, hi] of magnitudes (0 at or below the low end, 1 at hi).
 * Values at or below zero give 0.
 */
export function logPosition(v: number, hi: number, decades = 4): number {
  if (!(v > 0) || !(hi > 0)) return 0;
  return clip01(1 + Math.log10(v / hi) / decades);
}

/** Pooled cells as a heatmap image: viridis over min..max (linear), or over four decades below the largest (log; `top` replaces the largest). */
export function heatImage(cells: ArrayLike<number>, side: number, scale: HeatScale = 'log', top?: number): RGBAImage {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (top !== undefined) hi = top;
  const range = hi - lo;
  // A Gram of ReLU features is >= 0; on a log scale its negative cells (other features) sit at the low end.
  const t = (v: number) =>
    scale === 'log' ? logPosition(v, hi) : range > 0 && range < Infinity ? (v - lo) / range : 0;
  const out = new Uint8ClampedArray(side * side * 4).fill(255);
  for (let p = 0; p < side * side; p++) out.set(colourMap(t(cells[p]!)), p * 4);
  return { width: side, height: side, data: out };
}

/**
 * A C x C row-major matrix as a heatmap: blocks of ceil(C/maxSide) averaged, coloured on a log scale (default) or
 * linearly over the pooled min..max. min/max: of the original; cells: the pooled values.
 */
export function gramHeatmap(
  data: ArrayLike<number>,
  c: number,
  maxSide = 128,
  scale: HeatScale = 'log',
): { image: RGBAImage; min: number; max: number; cells: GramCells } {
  let min = Infinity,
    max = -Infinity;
  for (let i = 0; i < c * c; i++) {
    if (data[i]! < min) min = data[i]!;
    if (data[i]! > max) max = data[i]!;
  }
  const cells = gramCells(data, c, maxSide);
  return { image: heatImage(cells.values, cells.side, scale), min: c > 0 ? min : 0, max: c > 0 ? max : 0, cells };
}

/**
 * The Gram matrix G = F^T F of a [1, H, W, C] feature map (sum over positions), pooled to at most maxSide cells
 * a side. Pooling channels first gives the same block means (a block mean of G is the Gram of the block-mean
 * features), so this costs H*W*side^2/2, not H*W*C^2. Null when that would be more than `budget` products.
 */
export function featureGram(data: ArrayLike<number>, shape: number[], maxSide = 128, budget = 4e8): GramCells | null {
  const m = (shape[1] ?? 0) * (shape[2] ?? 0),
    c = shape[3] ?? 0;
  const edges = blockEdges(c, Math.max(1, Math.ceil(c / maxSide)));
  const side = edges.length - 1;
  if (!c || !m || (m * side * (side + 1)) / 2 > budget) return null;
  const pooled = new Float64Array(m * side);
  for (let p = 0; p < m; p++)
    for (let b = 0; b < side; b++) {
      let sum = 0;
      for (let k = edges[b]!; k < edges[b + 1]!; k++) sum += data[p * c + k]!;
      pooled[p * side + b] = sum / (edges[b + 1]! - edges[b]!);
    }
  const g = new Float64Array(side * side);
  for (let p = 0; p < m; p++) {
    const row = p * side;
    for (let i = 0; i < side; i++) {
      const a = pooled[row + i]!;
      if (a === 0) continue;
      for (let j = i; j < side; j++) g[i * side + j] = g[i * side + j]! + a * pooled[row + j]!;
    }
  }
  for (let i = 0; i < side; i++) for (let j = 0; j < i; j++) g[i * side + j] = g[j * side + i]!;
  return { side, channels: c, positions: m, values: Float32Array.from(g) };
}

/**
 * Generated minus target, cell by cell, as a diverging heatmap on a symmetric log scale: red where the generated
 * image has more, blue where it has less, dark where they agree (to within 10^-decades of the largest difference).
 * Also the largest difference and the relative error, the sum of |G - A| over the sum of |A|.
 */
export function differenceImage(
  generated: ArrayLike<number>,
  target: ArrayLike<number>,
  side: number,
  decades = 3,
): { image: RGBAImage; maxAbs: number; relative: number } {
  const n = side * side;
  let maxAbs = 0,
    num = 0,
    den = 0;
  for (let p = 0; p < n; p++) {
    const d = generated[p]! - target[p]!;
    if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
    num += Math.abs(d);
    den += Math.abs(target[p]!);
  }
  const out = new Uint8ClampedArray(n * 4).fill(255);
  const base: RGB = [24, 26, 32],
    up: RGB = [240, 90, 70],
    down: RGB = [80, 150, 250];
  for (let p = 0; p < n; p++) {
    const d = generated[p]! - target[p]!;
    const t = logPosition(Math.abs(d), maxAbs, decades);
    const to = d > 0 ? up : down;
    out.set(
      [0, 1, 2].map((k) => Math.round(base[k]! + (to[k]! - base[k]!) * t)),
      p * 4,
    );
  }
  return { image: { width: side, height: side, data: out }, maxAbs, relative: den > 0 ? num / den : 0 };
}

/**
 * The style target's Gram, the generated image's and their difference as three heatmaps of one layer: the two
 * Grams on one shared log scale (four decades below the larger maximum), so equal colours mean equal values.
 * Null when the two were pooled differently (different channel counts).
 */
export function compareGrams(
  target: GramCells,
  generated: GramCells,
): { target: RGBAImage; generated: RGBAImage; difference: RGBAImage; maxAbs: number; relative: number } | null {
  if (target.side !== generated.side || target.channels !== generated.channels) return null;
  let hi = 0;
  for (const v of target.values) if (v > hi) hi = v;
  for (const v of generated.values) if (v > hi) hi = v;
  const d = differenceImage(generated.values, target.values, target.side);
  return {
    target: heatImage(target.values, target.side, 'log', hi),
    generated: heatImage(generated.values, generated.side, 'log', hi),
    difference: d.image,
    maxAbs: d.maxAbs,
    relative: d.relative,
  };
}

/** A Gram's cells times a factor (the johnson normalisation divides by C*H*W). */
export const scaleCells = (g: GramCells, factor: number): GramCells => ({
  ...g,
  values: g.values.map((v) => v * factor),
});

/**
 * Per-channel statistics (a mean or a std) of the target and the generated image as bar heights on one log scale
 * (0..1, four decades below the largest magnitude), with the difference's (signed: + where generated is larger).
 */
export function compareStats(
  target: readonly number[],
  generated: readonly number[],
  maxChannels = 64,
): { target: number; generated: number; difference: number }[] {
  const n = Math.min(target.length, generated.length, maxChannels);
  let hi = 0,
    hiDiff = 0;
  for (let i = 0; i < n; i++) {
    hi = Math.max(hi, Math.abs(target[i]!), Math.abs(generated[i]!));
    hiDiff = Math.max(hiDiff, Math.abs(generated[i]! - target[i]!));
  }
  return Array.from({ length: n }, (_, i) => {
    const d = generated[i]! - target[i]!;
    return {
      target: logPosition(Math.abs(target[i]!), hi),
      generated: logPosition(Math.abs(generated[i]!), hi),
      difference: Math.sign(d) * logPosition(Math.abs(d), hiDiff, 3),
    };
  });
}

/** Picks the preview for a tensor carried by a socket of the given type; odd shapes give kind 'other' (never throws). */
export function summarise(data: ArrayLike<number>, shape: number[], socket: string): Preview {
  const s = [...shape];
  try {
    const size = s.reduce((a, b) => a * b, 1);
    if (!s.every((d) => Number.isInteger(d) && d > 0) || size !== data.length) return { kind: 'other', shape: s };
    if (size === 1) return { kind: 'scalar', shape: s, value: Number(data[0]) };
    const [n, , , c] = s;
    if (socket === 'Image' && s.length === 4 && n === 1 && c === 3)
      return { kind: 'image', shape: s, image: imageThumb(data, s) };
    if (socket === 'Features' && s.length === 4 && n === 1) {
      const gram = featureGram(data, s);
      return {
        kind: 'features',
        shape: s,
        image: featureGrid(data, s),
        channels: c!,
        ...channelStats(data, s),
        ...(gram ? { gram } : {}),
      };
    }
    const side = s.at(-1)!;
    if (socket === 'Gram' && (s.length === 2 || (s.length === 3 && n === 1)) && s.at(-2) === side) {
      return { kind: 'gram', shape: s, ...gramHeatmap(data, side) };
    }
  } catch {
    // fall through: a preview must never break the editor
  }
  return { kind: 'other', shape: s };
}
