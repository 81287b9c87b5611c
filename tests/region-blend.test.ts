import { beforeAll, describe, expect, it } from 'vitest';
import { regionBlend, regionComposite } from '../nodes/region-blend';
import type { ShapeContext } from '../src/plugin/types';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

const services = {
  tf,
  size: 8,
  seed: 0,
  nodeId: 'r',
  outputInfo: {},
  step: 0,
  loadImage: async () => tf.zeros([1]),
  models: {
    get: () => {
      throw new Error('unused');
    },
    dispose() {},
  },
  checkpoints: { get: () => undefined },
};

async function blend(inside: tf.Tensor, outside: tf.Tensor, mask: tf.Tensor): Promise<number[]> {
  const out = regionBlend.compute!({ ...services, params: {}, inputs: { inside, outside, mask } }) as {
    features: tf.Tensor;
  };
  return Array.from(await out.features.data());
}

describe('region blend (features)', () => {
  it('is m * inside + (1 - m) * outside per position, the mask broadcast over the channels', async () => {
    // 2x2 positions, 2 channels; the mask is already at the features' size, so no resizing.
    const inside = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const outside = tf.tensor4d([10, 20, 30, 40, 50, 60, 70, 80], [1, 2, 2, 2]);
    const mask = tf.tensor4d([1, 0, 0.5, 0.25], [1, 2, 2, 1]);
    // By hand: m=1 -> inside; m=0 -> outside; m=0.5 -> (5+50)/2, (6+60)/2; m=0.25 -> 0.25*7 + 0.75*70, 0.25*8 + 0.75*80.
    expect(await blend(inside, outside, mask)).toEqual(
      [1, 2, 30, 40, 27.5, 33, 54.25, 62].map((v) => expect.closeTo(v, 5)),
    );
  });

  it('resizes the mask bilinearly (corners aligned) and averages its channels', async () => {
    // A 1x2 mask, white then black, over 1x3 features: m = 1, 0.5, 0 along the row.
    const inside = tf.tensor4d([10, 20, 30], [1, 1, 3, 1]);
    const outside = tf.tensor4d([2, 4, 6], [1, 1, 3, 1]);
    const rgb = tf.tensor4d([1, 1, 1, 0, 0, 0], [1, 1, 2, 3]);
    expect(await blend(inside, outside, rgb)).toEqual([10, 12, 6].map((v) => expect.closeTo(v, 5)));
    // A grey pixel whose channels are (1, 0, 0.5) is m = 0.5 everywhere.
    const grey = tf.tensor4d([1, 0, 0.5], [1, 1, 1, 3]);
    expect(await blend(inside, outside, grey)).toEqual([6, 12, 18].map((v) => expect.closeTo(v, 5)));
  });

  it('clips the mask to [0, 1]', async () => {
    const inside = tf.tensor4d([1, 1], [1, 1, 2, 1]);
    const outside = tf.tensor4d([3, 3], [1, 1, 2, 1]);
    expect(await blend(inside, outside, tf.tensor4d([2, -1], [1, 1, 2, 1]))).toEqual([1, 3]);
  });

  it('infers the inside shape and refuses inputs of two sizes', () => {
    const ctx = (outside: number[]) =>
      ({
        params: {},
        size: 8,
        inputs: {
          inside: { shape: [1, 4, 4, 512], layer: 'relu4_1' },
          outside: { shape: outside },
          mask: { shape: [1, 8, 8, 1] },
        },
      }) as unknown as ShapeContext<Record<string, never>>;
    expect(regionBlend.infer(ctx([1, 4, 4, 512]))).toEqual({ features: { shape: [1, 4, 4, 512], layer: 'relu4_1' } });
    expect(() => regionBlend.infer(ctx([1, 4, 5, 512]))).toThrow(/inside is 1x4x4x512 but outside is 1x4x5x512/);
  });
});

describe('region composite (pictures)', () => {
  it('takes the inside picture under white and the outside one under black', async () => {
    // Top half of a 4x4 mask white over 2x2 pictures: resized (corners aligned) the rows are m = 1 and 0.
    const inside = tf.fill([1, 2, 2, 3], 0.9);
    const outside = tf.fill([1, 2, 2, 3], 0.1);
    const mask = tf.concat([tf.ones([1, 2, 4, 1]), tf.zeros([1, 2, 4, 1])], 1);
    const out = regionComposite.compute!({ ...services, params: {}, inputs: { inside, outside, mask } }) as {
      image: tf.Tensor;
    };
    expect(out.image.shape).toEqual([1, 2, 2, 3]);
    expect(Array.from(await out.image.data())).toEqual(
      [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1].map((v) => expect.closeTo(v, 5)),
    );
  });
});
