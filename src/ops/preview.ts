import type { RGBAImage } from './image';

/** A small picture (or number) summarising one tensor, for display on a node. */
export type Preview =
  | { kind: 'image'; shape: number[]; image: RGBAImage }
  | { kind: 'features'; shape: number[]; image: RGBAImage; channels: number; mean: number[]; std: number[] }
  | { kind: 'gram'; shape: number[]; image: RGBAImage; min: number; max: number }
  | { kind: 'scalar'; shape: number[]; value: number }
  | { kind: 'other'; shape: number[] };

type RGB = readonly [number, number, number];

// Viridis sampled at i/7: dark purple -> blue -> green -> yellow, luminance rising throughout.
const STOPS: readonly RGB[] = [
  [68, 1, 84], [70, 50, 126], [54, 92, 141], [39, 127, 142], [31, 161, 135], [74, 193, 109], [160, 218, 57], [253, 231, 37],
];
const SEPARATOR = 32;

const clip01 = (x: number): number => (x > 0 ? (x < 1 ? x : 1) : 0);

/** Viridis-like colour for t in 0..1 (clamped; NaN gives the low end), as rounded RGB bytes. */
export function colourMap(t: number): [number, number, number] {
  const x = clip01(t) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const a = STOPS[i]!, b = STOPS[i + 1]!, f = x - i;
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** Size that fits h x w inside maxSide on its longest side, never larger than the source (at least 1 px). */
function fit(h: number, w: number, maxSide: number): [number, number] {
  const s = Math.min(1, maxSide / Math.max(h, w, 1));
  return [Math.max(1, Math.round(h * s)), Math.max(1, Math.round(w * s))];
}

/** Bin edges splitting n source cells into m nearly equal runs. */
const binEdges = (n: number, m: number): number[] => Array.from({ length: m + 1 }, (_, o) => Math.floor((o * n) / m));
/** Bin edges of blocks of b cells (the last one may be short). */
const blockEdges = (n: number, b: number): number[] => Array.from({ length: Math.ceil(n / b) + 1 }, (_, o) => Math.min(n, o * b));

/** Box-averages a row-major plane of width w into the cells given by row edges ys and column edges xs. */
function pool(plane: ArrayLike<number>, w: number, ys: number[], xs: number[]): Float64Array {
  const oh = ys.length - 1, ow = xs.length - 1;
  const out = new Float64Array(Math.max(0, oh * ow));
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      let sum = 0, count = 0;
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
  const h = shape[1] ?? 0, w = shape[2] ?? 0;
  const [height, width] = fit(h, w, maxSide);
  const ys = binEdges(h, height), xs = binEdges(w, width);
  const out = new Uint8ClampedArray(width * height * 4).fill(255);
  for (let k = 0; k < 3; k++) {
    const small = pool(plane(data, h * w, 3, k, clip01), w, ys, xs);
    for (let p = 0; p < small.length; p++) out[p * 4 + k] = Math.round(small[p]! * 255);
  }
  return { width, height, data: out };
}

/** Per-channel mean and population std of a [1, H, W, C] tensor (float64 accumulation, two passes). */
export function channelStats(data: ArrayLike<number>, shape: number[]): { mean: number[]; std: number[] } {
  const m = (shape[1] ?? 0) * (shape[2] ?? 0), c = shape[3] ?? 0;
  const mean: number[] = [], std: number[] = [];
  for (let k = 0; k < c; k++) {
    let sum = 0, sq = 0;
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
  const h = shape[1] ?? 0, w = shape[2] ?? 0, c = shape[3] ?? 0;
  const n = Math.max(0, Math.min(c, maxChannels));
  const cols = Math.ceil(Math.sqrt(n)), rows = n ? Math.ceil(n / cols) : 0;
  const [ch, cw] = fit(h, w, maxCell);
  const width = Math.max(0, cols * (cw + 1) - 1), height = Math.max(0, rows * (ch + 1) - 1);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) out.set([SEPARATOR, SEPARATOR, SEPARATOR, 255], p * 4);
  const ys = binEdges(h, ch), xs = binEdges(w, cw);
  for (let k = 0; k < n; k++) {
    let lo = Infinity, hi = -Infinity;
    for (let p = 0; p < h * w; p++) {
      const v = data[p * c + k]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo;
    const cell = pool(plane(data, h * w, c, k, (v) => (range > 0 && range < Infinity ? (v - lo) / range : 0)), w, ys, xs);
    const x0 = (k % cols) * (cw + 1), y0 = Math.floor(k / cols) * (ch + 1);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) out.set(colourMap(cell[y * cw + x]!), ((y0 + y) * width + x0 + x) * 4);
    }
  }
  return { width, height, data: out };
}

/** A C x C row-major matrix as a heatmap: blocks of ceil(C/maxSide) averaged, coloured over the pooled min..max. min/max: of the original. */
export function gramHeatmap(data: ArrayLike<number>, c: number, maxSide = 128): { image: RGBAImage; min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < c * c; i++) {
    if (data[i]! < min) min = data[i]!;
    if (data[i]! > max) max = data[i]!;
  }
  const edges = blockEdges(c, Math.max(1, Math.ceil(c / maxSide)));
  const cells = pool(data, c, edges, edges);
  let lo = Infinity, hi = -Infinity;
  for (const v of cells) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const side = edges.length - 1, range = hi - lo;
  const out = new Uint8ClampedArray(side * side * 4).fill(255);
  cells.forEach((v, p) => out.set(colourMap(range > 0 && range < Infinity ? (v - lo) / range : 0), p * 4));
  return { image: { width: side, height: side, data: out }, min: c > 0 ? min : 0, max: c > 0 ? max : 0 };
}

/** Picks the preview for a tensor carried by a socket of the given type; odd shapes give kind 'other' (never throws). */
export function summarise(data: ArrayLike<number>, shape: number[], socket: string): Preview {
  const s = [...shape];
  try {
    const size = s.reduce((a, b) => a * b, 1);
    if (!s.every((d) => Number.isInteger(d) && d > 0) || size !== data.length) return { kind: 'other', shape: s };
    if (size === 1) return { kind: 'scalar', shape: s, value: Number(data[0]) };
    const [n, , , c] = s;
    if (socket === 'Image' && s.length === 4 && n === 1 && c === 3) return { kind: 'image', shape: s, image: imageThumb(data, s) };
    if (socket === 'Features' && s.length === 4 && n === 1) {
      return { kind: 'features', shape: s, image: featureGrid(data, s), channels: c!, ...channelStats(data, s) };
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
