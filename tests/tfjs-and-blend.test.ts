import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import blend from '../nodes/feature-blend';
import { readTfjsModel } from '../src/models/weights/tfjs-model';
import { detectFormat } from '../src/models/weights/read';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

describe('tfjs model.json reader', () => {
  it('reads weights split across shards, by name and shape', async () => {
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = tf.tensor1d([7, 8]);
    const { data, specs } = await tf.io.encodeWeights({ a, b });
    const bytes = new Uint8Array(data);
    const shards: Record<string, Uint8Array> = { 'w1.bin': bytes.slice(0, 10), 'w2.bin': bytes.slice(10) };
    const json = JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['w1.bin', 'w2.bin'], weights: specs }] });
    expect(detectFormat(new TextEncoder().encode(json))).toBe('tfjs');
    const dict = await readTfjsModel(tf, json, async (p) => shards[p]!);
    expect(dict.get('a')).toEqual({ shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(dict.get('b')).toEqual({ shape: [2], data: Float32Array.from([7, 8]) });
  });

  const real = new URL('../../shared/fixtures/darknet-tiny-imagenet/model.json', import.meta.url);
  it.skipIf(!existsSync(real))('reads a real pretrained tfjs model (shared fixture darknet-tiny; skipped when ../shared is absent)', async () => {
    const dict = await readTfjsModel(tf, readFileSync(real, 'utf8'), async (p) => new Uint8Array(readFileSync(new URL(p, real))));
    const kernels = [...dict.values()].filter((t) => t.shape.length === 4);
    expect(kernels.length).toBeGreaterThan(5);
    expect(kernels[0]!.shape.slice(0, 3)).toEqual([3, 3, 3]);
    expect(kernels.every((k) => k.data.every(Number.isFinite))).toBe(true);
  });
});

describe('feature blend (style interpolation)', () => {
  const ctx = (weights: string, features: tf.Tensor[]) => ({ tf, params: { weights }, inputs: { features } }) as unknown as Parameters<NonNullable<typeof blend.compute>>[0];
  it('normalises the weights to sum to 1', async () => {
    const out = blend.compute!(ctx('1, 3', [tf.fill([1, 1, 1, 2], 4), tf.fill([1, 1, 1, 2], 8)])) as { features: tf.Tensor };
    expect(Array.from(await out.features.data())).toEqual([7, 7]);
  });
  it('says when the weights do not match the inputs', () => {
    const info = { shape: [1, 2, 2, 4] };
    expect(() => blend.infer({ params: { weights: '1, 2, 3' }, inputs: { features: [info, info] }, size: 8 })).toThrow(/2 features are connected but 3 weights/);
    expect(() => blend.infer({ params: { weights: '1, x' }, inputs: { features: [info, info] }, size: 8 })).toThrow(/not all numbers/);
  });
});
