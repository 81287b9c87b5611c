import { describe, expect, it } from 'vitest';
import { startNodeBackend, tf } from '../src/cli/node-tf';
import { imageToTensor } from '../src/ops/image';

describe('imageToTensor on wasm', () => {
  // tfjs-wasm once read the wrong memory slicing an int32 image of these sizes: garbage, then an abort.
  it.each([[383, 383], [383, 200], [129, 257]])('reads a %ix%i photo colour for colour', async (w, h) => {
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
