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
