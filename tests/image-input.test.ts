import { describe, expect, it } from 'vitest';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { halve, imageToTensor } from '../src/ops/image';

describe('imageToTensor on wasm', () => {
  // tfjs-wasm once read the wrong memory slicing an int32 image of these sizes: garbage, then an abort.
  it.each([
    [383, 383],
    [383, 200],
    [129, 257],
  ])('reads a %ix%i photo colour for colour', async (w, h) => {
    await startNodeBackend('wasm');
    const data = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([10, 20, 30, 255], i * 4);
    const t = imageToTensor(tf, { width: w, height: h, data }, 64);
    const v = await t.data();
    t.dispose();
    expect(Math.max(t.shape[1]!, t.shape[2]!)).toBe(64);
    for (let i = 0; i < v.length; i += 3) {
      expect(v[i]).toBeCloseTo(10 / 255, 6);
      expect(v[i + 1]).toBeCloseTo(20 / 255, 6);
      expect(v[i + 2]).toBeCloseTo(30 / 255, 6);
    }
  });
});

describe('imageToTensor against the same steps as tfjs ops', () => {
  // The bytes become floats (and are halved once) in JavaScript; here the long way: divide, then halve and resize.
  it.each([
    [37, 23, 10],
    [640, 480, 256],
    [641, 481, 64],
    [50, 40, 50],
  ])('a %ix%i picture at %i px', async (w, h, size) => {
    await startNodeBackend('wasm');
    let seed = 7;
    const data = new Uint8Array(w * h * 4).map(() => (seed = (seed * 1103515245 + 12345) % 2147483648) % 256);
    const got = imageToTensor(tf, { width: w, height: h, data }, size);
    const want = tf.tidy(() => {
      const rgb = Array.from({ length: w * h * 3 }, (_, i) => data[Math.floor(i / 3) * 4 + (i % 3)]!);
      let x = tf.div(tf.tensor4d(rgb, [1, h, w, 3]), 255) as tf.Tensor4D;
      const [th, tw] = got.shape.slice(1, 3) as [number, number];
      while (x.shape[1] >= 2 * th && x.shape[2] >= 2 * tw) x = halve(tf, x);
      return x.shape[1] === th && x.shape[2] === tw ? x : tf.image.resizeBilinear(x, [th, tw], true);
    });
    expect(Math.max(got.shape[1]!, got.shape[2]!)).toBe(size);
    expect(got.shape).toEqual(want.shape);
    const [a, b] = [await got.data(), await want.data()];
    let worst = 0;
    a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]!))));
    expect(worst).toBeLessThan(1e-6);
    tf.dispose([got, want]);
  });
});

describe('halve', () => {
  it('averages 2x2 blocks and drops an odd last row and column (hand-computed)', async () => {
    await startNodeBackend('wasm');
    // Rows 1..5, 6..10, 11..15 as one channel: blocks (1,2,6,7) and (3,4,8,9); the third row and fifth column go.
    const x = tf.tensor4d(
      Array.from({ length: 15 }, (_, i) => i + 1),
      [1, 3, 5, 1],
    );
    const y = halve(tf, x);
    expect(y.shape).toEqual([1, 1, 2, 1]);
    expect(Array.from(await y.data())).toEqual([4, 6]);
    tf.dispose([x, y]);
  });
});
