import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import blend from '../nodes/feature-blend';
import { decodeTfjsWeights, readTfjsModel } from '../src/models/weights/tfjs-model';
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
    const json = JSON.stringify({
      modelTopology: {},
      weightsManifest: [{ paths: ['w1.bin', 'w2.bin'], weights: specs }],
    });
    expect(detectFormat(new TextEncoder().encode(json))).toBe('tfjs');
    const dict = await readTfjsModel(tf, json, async (p) => shards[p]!);
    expect(dict.get('a')).toEqual({ shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(dict.get('b')).toEqual({ shape: [2], data: Float32Array.from([7, 8]) });
  });

  it('decodes float32, int32 and uint8-quantised shards without tfjs as tfjs itself does', async () => {
    const a = tf.tensor2d([1.5, -2, 3, 4, 5, 6.25], [2, 3]);
    const n = tf.tensor1d([7, -8], 'int32');
    const { data, specs } = await tf.io.encodeWeights({ a, n });
    const q = {
      name: 'q',
      shape: [3],
      dtype: 'float32' as const,
      quantization: { dtype: 'uint8' as const, scale: 0.5, min: -1 },
    };
    const bytes = new Uint8Array([...new Uint8Array(data), 0, 3, 255]);
    const shards = new Map([
      ['group1-shard1of2.bin', bytes.slice(0, 9)],
      ['group1-shard2of2.bin', bytes.slice(9)],
    ]);
    const json = JSON.stringify({
      modelTopology: {},
      weightsManifest: [{ paths: [...shards.keys()], weights: [...specs, q] }],
    });
    const mine = decodeTfjsWeights(json, shards);
    const theirs = await readTfjsModel(tf, json, async (p) => shards.get(p)!);
    expect([...mine.keys()]).toEqual(['a', 'n', 'q']);
    for (const [k, v] of theirs) expect(mine.get(k)).toEqual(v);
    expect(mine.get('q')!.data).toEqual(Float32Array.from([-1, 0.5, 126.5]));
    expect(() => decodeTfjsWeights(json, new Map([...shards].slice(0, 1)))).toThrow(
      /needs the shard group1-shard2of2.bin/,
    );
  });

  const real = new URL('../../shared/fixtures/darknet-tiny-imagenet/model.json', import.meta.url);
  it.skipIf(!existsSync(real))(
    'reads a real pretrained tfjs model (shared fixture darknet-tiny; skipped when ../shared is absent)',
    async () => {
      const dict = await readTfjsModel(
        tf,
        readFileSync(real, 'utf8'),
        async (p) => new Uint8Array(readFileSync(new URL(p, real))),
      );
      const kernels = [...dict.values()].filter((t) => t.shape.length === 4);
      expect(kernels.length).toBeGreaterThan(5);
      expect(kernels[0]!.shape.slice(0, 3)).toEqual([3, 3, 3]);
      expect(kernels.every((k) => k.data.every(Number.isFinite))).toBe(true);
    },
  );
});

describe('feature blend (style interpolation)', () => {
  const ctx = (weights: string, features: tf.Tensor[]) =>
    ({ tf, params: { weights }, inputs: { features } }) as unknown as Parameters<NonNullable<typeof blend.compute>>[0];
  it('normalises the weights to sum to 1', async () => {
    const out = blend.compute!(ctx('1, 3', [tf.fill([1, 1, 1, 2], 4), tf.fill([1, 1, 1, 2], 8)])) as {
      features: tf.Tensor;
    };
    expect(Array.from(await out.features.data())).toEqual([7, 7]);
  });
  it('says when the weights do not match the inputs', () => {
    const info = { shape: [1, 2, 2, 4] };
    expect(() => blend.infer({ params: { weights: '1, 2, 3' }, inputs: { features: [info, info] }, size: 8 })).toThrow(
      /2 features are connected but 3 weights/,
    );
    expect(() => blend.infer({ params: { weights: '1, x' }, inputs: { features: [info, info] }, size: 8 })).toThrow(
      /not all numbers/,
    );
  });
});
