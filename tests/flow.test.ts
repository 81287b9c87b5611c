import { beforeAll, describe, expect, it } from 'vitest';
import {
  blendPictures,
  carryForward,
  carryPictures,
  consistency,
  flow,
  flowBlend,
  median,
  temporalLoss,
  warp,
  warpedDifference,
} from '../src/ops/flow';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

/** A deterministic smooth texture in [0, 1]: a sum of plane waves of random direction, frequency and phase. */
function texture(h: number, w: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const waves = Array.from({ length: 12 }, () => [rand() * 0.9 + 0.1, rand() * 6.28, rand() * 6.28, rand()] as const);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      out[y * w + x] = waves.reduce(
        (v, [f, a, p, amp]) => v + amp * Math.sin(f * (Math.cos(a) * x + Math.sin(a) * y) + p),
        0,
      );
  const lo = Math.min(...out);
  const hi = Math.max(...out);
  return out.map((v) => (v - lo) / (hi - lo));
}

// The synthetic clip: a 24 px textured square over a still textured background, 64x64, moving 3 px right and 2 px
// down per frame.
const [H, W, S, DX, DY] = [64, 64, 24, 3, 2];
const background = texture(H, W, 1);
const square = texture(S, S, 2);
function frame(left: number, top: number): tf.Tensor4D {
  const f = Float32Array.from(background);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) f[(y + top) * W + x + left] = square[y * S + x]!;
  return tf.tensor4d(f, [1, H, W, 1]);
}
const at = (data: ArrayLike<number>, x: number, y: number, c = 0, channels = 1) => data[(y * W + x) * channels + c]!;

describe('warp (bilinear, backward)', () => {
  it('reads image(x + flow(x)) between the four nearest pixels, clamped to the border', async () => {
    // I(x, y) = x + 3 y is linear, so bilinear sampling is exact: out = min(x + 0.5, 2) + 3 min(y + 0.25, 1).
    const image = tf.tensor4d([0, 1, 2, 3, 4, 5], [1, 2, 3, 1]);
    const f = tf.tensor4d(Array.from({ length: 6 }, () => [0.5, 0.25]).flat(), [1, 2, 3, 2]);
    const out = Array.from(await warp(tf, image, f).data());
    const expected = [0, 1].flatMap((y) => [0, 1, 2].map((x) => Math.min(x + 0.5, 2) + 3 * Math.min(y + 0.25, 1)));
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    expect(expected).toEqual([1.25, 2.25, 2.75, 3.5, 4.5, 5]); // by hand: 0.5 + 0.75, 1.5 + 0.75, 2 + 0.75, 0.5 + 3, ...
  });
  it('moves a single bright pixel by a different flow at each pixel', async () => {
    // 3x3, one bright pixel at (1, 1) in channel 0 (2 in channel 1). Flow: (-0.5, 0) at (2, 1) reads I(1.5, 1):
    // half of it; (0, -1) at (1, 2) reads I(1, 1): all of it; (0.25, 0.5) at (0, 0) reads I(0.25, 0.5), weight
    // 0.25 * 0.5 of (1, 1) = 0.125; (1, 1) at (2, 2) reads (3, 3), clamped to (2, 2): 0.
    const image = tf.tensor4d(Array.from({ length: 9 }, (_, i) => (i === 4 ? [1, 2] : [0, 0])).flat(), [1, 3, 3, 2]);
    const flows = new Float32Array(18);
    const set = (x: number, y: number, u: number, v: number) => flows.set([u, v], (y * 3 + x) * 2);
    set(2, 1, -0.5, 0);
    set(1, 2, 0, -1);
    set(0, 0, 0.25, 0.5);
    set(2, 2, 1, 1);
    const out = Array.from(await warp(tf, image, tf.tensor4d(flows, [1, 3, 3, 2])).data());
    const expected = new Array<number>(18).fill(0);
    const put = (x: number, y: number, v: number) => (
      (expected[(y * 3 + x) * 2] = v),
      (expected[(y * 3 + x) * 2 + 1] = 2 * v)
    );
    put(1, 1, 1); // zero flow: itself
    put(2, 1, 0.5);
    put(1, 2, 1);
    put(0, 0, 0.125);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
  });
});

describe('median', () => {
  it('takes the middle value of each 3x3 neighbourhood (edges replicated)', async () => {
    // 3x3: 0..8 with one outlier 100 at the centre. Centre: median of {0..3, 100, 5..8} = 5; corner (0, 0): the
    // neighbourhood with replication is {0, 0, 1, 0, 0, 1, 3, 3, 100} -> 1.
    const x = tf.tensor4d([0, 1, 2, 3, 100, 5, 6, 7, 8], [1, 3, 3, 1]);
    const m = await median(tf, x, 3).data();
    expect(m[4]).toBe(5);
    expect(m[0]).toBe(1);
  });
});

describe('flow (pyramidal Lucas-Kanade)', () => {
  it('finds the known motion of a textured square to within 1 px, both ways', async () => {
    const a = frame(16, 16);
    const b = frame(16 + DX, 16 + DY);
    for (const [from, to, left, top, dx, dy] of [
      [a, b, 16, 16, DX, DY],
      [b, a, 16 + DX, 16 + DY, -DX, -DY],
    ] as const) {
      const u = await flow(tf, from, to).data();
      // Inside the square as `from` shows it, 3 px in from its edge (the window straddles the two motions at the
      // edge itself).
      let worst = 0;
      let sum = 0;
      let n = 0;
      for (let y = top + 3; y < top + S - 3; y++)
        for (let x = left + 3; x < left + S - 3; x++) {
          const e = Math.hypot(at(u, x, y, 0, 2) - dx, at(u, x, y, 1, 2) - dy);
          worst = Math.max(worst, e);
          sum += e;
          n++;
        }
      expect(worst).toBeLessThan(1);
      expect(sum / n).toBeLessThan(0.25);
      // The still background, 8 px or more from the square: no motion.
      let still = 0;
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          if (x < left - 8 || x >= left + S + 8 || y < top - 8 || y >= top + S + 8)
            still = Math.max(still, Math.hypot(at(u, x, y, 0, 2), at(u, x, y, 1, 2)));
      expect(still).toBeLessThan(0.5);
    }
  });
  it('is zero between two copies of one frame', async () => {
    const a = frame(20, 10);
    expect(Math.max(...Array.from(await tf.abs(flow(tf, a, a)).data()))).toBeLessThan(1e-3);
  });
});

describe('consistency (occlusions, Ruder et al. 2016)', () => {
  it('flags the background the square uncovered, and trusts what is far from the motion', async () => {
    const previous = frame(16, 16);
    const current = frame(16 + DX, 16 + DY);
    const backward = flow(tf, current, previous);
    const forward = flow(tf, previous, current);
    const c = await consistency(tf, backward, forward).data();
    // Uncovered in the current frame: the square's old place that it no longer covers (3 columns on the left, 2 rows
    // at the top), whose pixels the previous frame does not show.
    let uncovered = 0;
    let flagged = 0;
    for (let y = 16; y < 16 + S; y++)
      for (let x = 16; x < 16 + S; x++)
        if (x < 16 + DX || y < 16 + DY) {
          uncovered++;
          if (at(c, x, y) === 0) flagged++;
        }
    expect(uncovered).toBe(3 * 24 + 2 * 21);
    expect(flagged / uncovered).toBeGreaterThan(0.95);
    let far = 0;
    let trusted = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        if (x < 8 || x >= 16 + DX + S + 8 || y < 8 || y >= 16 + DY + S + 8) {
          far++;
          if (at(c, x, y) === 1) trusted++;
        }
    expect(trusted / far).toBeGreaterThan(0.99);
    // The middle of the square moves as one: trusted.
    for (let y = 16 + DY + 8; y < 16 + DY + S - 8; y++)
      for (let x = 16 + DX + 8; x < 16 + DX + S - 8; x++) expect(at(c, x, y)).toBe(1);
  });
  it('does not trust a warp that reads from outside the frame', async () => {
    const u = tf.tensor4d(Array.from({ length: H * W }, () => [-5, 0]).flat(), [1, H, W, 2]);
    const c = await consistency(tf, u, tf.neg(u) as tf.Tensor4D).data();
    for (let y = 0; y < H; y += 7) {
      expect(at(c, 2, y)).toBe(0); // reads x = -3
      expect(at(c, 10, y)).toBe(1);
    }
  });
});

describe('carrying the previous output forward', () => {
  it('makes the warped previous frame match the current one where the mask trusts it', async () => {
    const previous = frame(16, 16);
    const current = frame(16 + DX, 16 + DY);
    const { warped, mask } = carryForward(tf, previous, current, previous);
    const moved = warpedDifference(tf, current, warped, mask);
    const still = warpedDifference(tf, current, previous, mask);
    // 0-255 units: the warped frame is within a few levels; the unwarped one is off wherever the square moved.
    expect(moved.sum / moved.count).toBeLessThan(1);
    expect(still.sum / still.count).toBeGreaterThan(4 * (moved.sum / moved.count));
    expect(moved.count).toBeGreaterThan(0.6 * H * W);
  });
  it('blends with the warped frame only where trusted: out = (1 - k c) styled + k c warped', async () => {
    const styled = tf.tensor4d([0.2, 0.4, 0.6, 0.8], [1, 1, 2, 2]);
    const warped = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    const mask = tf.tensor4d([1, 0], [1, 1, 2, 1]);
    const out = Array.from(await flowBlend(tf, styled, warped, mask, 0.25).data());
    [0.75 * 0.2 + 0.25, 0.75 * 0.4, 0.6, 0.8].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });
  it('has the temporal loss (1 / D) sum c (x - w)^2 of Ruder et al.', async () => {
    const x = tf.tensor4d([0.5, 0.1, 0.9, 0.3, 0.2, 0.7], [1, 1, 2, 3]);
    const w = tf.tensor4d([0.1, 0.1, 0.5, 0.6, 0.2, 0.2], [1, 1, 2, 3]);
    const c = tf.tensor4d([1, 0.5], [1, 1, 2, 1]);
    // (0.16 + 0 + 0.16) * 1 + (0.09 + 0 + 0.25) * 0.5 = 0.49, over D = 6.
    expect((await temporalLoss(tf, x, w, c).data())[0]).toBeCloseTo(0.49 / 6, 6);
  });

  it('does the same on pictures (RGBA bytes), at the output size', async () => {
    const rgba = async (t: tf.Tensor4D) => {
      const g = await t.data();
      const data = new Uint8ClampedArray(H * W * 4);
      g.forEach((v, i) => data.set([v * 255, v * 128, 255 - v * 255, 255], i * 4));
      return { width: W, height: H, data };
    };
    const previous = await rgba(frame(16, 16));
    const current = await rgba(frame(16 + DX, 16 + DY));
    const { warped, mask } = await carryPictures(tf, previous, current, previous);
    let [sum, n, stillSum] = [0, 0, 0];
    for (let i = 0; i < H * W; i++)
      if (mask.data[i] === 1)
        for (let c = 0; c < 3; c++) {
          sum += Math.abs(warped.data[i * 4 + c]! - current.data[i * 4 + c]!);
          stillSum += Math.abs(previous.data[i * 4 + c]! - current.data[i * 4 + c]!);
          n++;
        }
    expect(sum / n).toBeLessThan(1.5);
    expect(stillSum / n).toBeGreaterThan(4 * (sum / n));
    // A half-size output: the frames are brought to its size, the mask has its size.
    const small = await carryPictures(tf, previous, current, {
      width: 32,
      height: 32,
      data: previous.data.slice(0, 32 * 32 * 4),
    });
    expect([small.warped.width, small.mask.data.length]).toEqual([32, 32 * 32]);
  });
  it('blends pictures byte by byte: (1 - k c) styled + k c warped, alpha from styled', () => {
    const styled = { width: 2, height: 1, data: new Uint8ClampedArray([100, 0, 200, 255, 100, 0, 200, 7]) };
    const warped = { width: 2, height: 1, data: new Uint8ClampedArray([0, 100, 0, 0, 0, 100, 0, 0]) };
    const mask = { width: 2, height: 1, data: new Float32Array([1, 0.5]) };
    // k = 0.5: pixel 0 keeps 0.5 of warped, pixel 1 keeps 0.25.
    expect(Array.from(blendPictures(styled, warped, mask, 0.5).data)).toEqual([50, 50, 100, 255, 75, 25, 150, 7]);
  });
});
