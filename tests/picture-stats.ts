/**
 * Statistics that tell a stylised picture from a flat square or noise, for tests that must see a real picture:
 * how far its colours are from a painting's, and whether its edges follow a photo's.
 */
export interface Rgba {
  /** RGBA (or RGB with `channels` 3), row-major. */
  data: ArrayLike<number>;
  width: number;
  height: number;
  channels?: 3 | 4;
}

const channelsOf = (img: Rgba) => img.channels ?? (img.data.length === img.width * img.height * 3 ? 3 : 4);

/** Per-channel (R, G, B) mean and standard deviation, in 0-255. */
export function colourStats(img: Rgba): { mean: number[]; std: number[] } {
  const c = channelsOf(img);
  const n = img.width * img.height;
  const mean = [0, 0, 0];
  const sq = [0, 0, 0];
  for (let i = 0; i < n; i++)
    for (let k = 0; k < 3; k++) {
      const v = img.data[i * c + k]!;
      mean[k]! += v;
      sq[k]! += v * v;
    }
  return { mean: mean.map((m) => m / n), std: sq.map((s, k) => Math.sqrt(Math.max(0, s / n - (mean[k]! / n) ** 2))) };
}

/** Euclidean distance between two pictures' colour statistics (three means and three spreads). */
export function colourDistance(a: Rgba, b: Rgba): number {
  const x = colourStats(a);
  const y = colourStats(b);
  let d = 0;
  for (let k = 0; k < 3; k++) d += (x.mean[k]! - y.mean[k]!) ** 2 + (x.std[k]! - y.std[k]!) ** 2;
  return Math.sqrt(d);
}

/** Nearest-neighbour resize to width x height (RGBA out). */
export function resizeNearest(img: Rgba, width: number, height: number): Rgba {
  const c = channelsOf(img);
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / height));
      const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / width));
      for (let k = 0; k < 3; k++) out[(y * width + x) * 4 + k] = img.data[(sy * img.width + sx) * c + k]!;
      out[(y * width + x) * 4 + 3] = 255;
    }
  return { data: out, width, height, channels: 4 };
}

/** Luma box-blurred over 2x2 blocks (half size), so texture finer than the photo's structure counts less. */
function blurredLuma(img: Rgba): { v: Float64Array; w: number; h: number } {
  const c = channelsOf(img);
  const w = Math.floor(img.width / 2);
  const h = Math.floor(img.height / 2);
  const v = new Float64Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (const [dy, dx] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ] as const) {
        const i = ((2 * y + dy) * img.width + 2 * x + dx) * c;
        s += 0.299 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.114 * img.data[i + 2]!;
      }
      v[y * w + x] = s / 4;
    }
  return { v, w, h };
}

/** Sobel gradient magnitude of the half-size luma. */
function edges(img: Rgba): Float64Array {
  const { v, w, h } = blurredLuma(img);
  const out = new Float64Array(Math.max(0, (w - 2) * (h - 2)));
  const at = (x: number, y: number) => v[y * w + x]!;
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++) {
      const gx =
        at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy =
        at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      out[(y - 1) * (w - 2) + x - 1] = Math.hypot(gx, gy);
    }
  return out;
}

/**
 * Pearson correlation of two same-sized pictures' edge maps: near 1 where the edges are in the same places, near 0
 * for unrelated pictures, NaN for a flat one (no edges at all).
 */
export function edgeCorrelation(a: Rgba, b: Rgba): number {
  if (a.width !== b.width || a.height !== b.height)
    throw new Error(`edgeCorrelation: ${a.width}x${a.height} against ${b.width}x${b.height}`);
  const x = edges(a);
  const y = edges(b);
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  // A flat picture has no edges (only rounding noise in the luma): no correlation to speak of.
  if (sxx < 1e-6 * n || syy < 1e-6 * n) return NaN;
  return sxy / Math.sqrt(sxx * syy);
}
