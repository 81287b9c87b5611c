import { beforeAll, describe, expect, it } from 'vitest';
import {
  VGG19_CONVS,
  VGG19_LAYER_NAMES,
  conv3x3,
  flipKernel,
  forwardFlops,
  preprocess,
  randomVgg19Weights,
  tapShape,
  vgg19Forward,
} from '../src/models/vgg19';
import { mulberry32, randomNormal } from '../src/models/random';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

const rand = (shape: number[], seed: number) =>
  tf.tensor(
    randomNormal(
      shape.reduce((a, b) => a * b),
      1,
      mulberry32(seed),
    ),
    shape,
  );

describe('VGG19 layout', () => {
  it('has 16 convs and names every tap in order', () => {
    expect(VGG19_CONVS).toHaveLength(16);
    expect(VGG19_LAYER_NAMES.slice(0, 5)).toEqual(['conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1']);
    expect(VGG19_LAYER_NAMES).toContain('conv4_2');
    expect(VGG19_LAYER_NAMES.at(-1)).toBe('pool5');
  });

  it('computes tap shapes: floor pooling for zero padding, ceil for vgg_normalised', () => {
    expect(tapShape('relu3_1', [1, 37, 50, 3], 'torchvision')).toEqual([1, 9, 12, 256]);
    expect(tapShape('relu3_1', [1, 37, 50, 3], 'normalised')).toEqual([1, 10, 13, 256]);
  });

  it('counts conv FLOPs as 2 * 9 * Cin * Cout * H * W', () => {
    expect(forwardFlops('conv1_1', [1, 10, 10, 3], 'torchvision')).toBe(2 * 9 * 3 * 64 * 100);
    expect(forwardFlops('relu1_2', [1, 10, 10, 3], 'torchvision')).toBe(2 * 9 * 100 * (3 * 64 + 64 * 64));
  });
});

describe('conv3x3 gradient through a flipped kernel', () => {
  it('matches the built-in Conv2DBackpropInput', async () => {
    const x = rand([1, 9, 7, 5], 1) as tf.Tensor4D;
    const w = rand([3, 3, 5, 4], 2) as tf.Tensor4D;
    const dy = rand([1, 9, 7, 4], 3);
    const flipped = flipKernel(tf, w);
    const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(conv3x3(tf, t as tf.Tensor4D, w, flipped, false), dy)))(x);
    const builtin = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(t as tf.Tensor4D, w, 1, 'same'), dy)))(x);
    const [a, b] = [await ours.data(), await builtin.data()];
    const scale = Math.max(...Array.from(b, Math.abs));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!) / scale).toBeLessThan(1e-5);
  });
});

describe('preprocessing', () => {
  const pixel = () => tf.tensor4d([0.2, 0.4, 0.6], [1, 1, 1, 3]);
  it('torchvision: (x - mean) / std', async () => {
    const w = randomVgg19Weights(tf, 'torchvision', 0);
    const got = await preprocess(tf, pixel(), w).data();
    [(0.2 - 0.485) / 0.229, (0.4 - 0.456) / 0.224, (0.6 - 0.406) / 0.225].forEach((v, i) =>
      expect(got[i]).toBeCloseTo(v, 5),
    );
  });
  it('caffe and normalised: BGR * 255 minus the Caffe mean', async () => {
    const expected = [0.6 * 255 - 103.939, 0.4 * 255 - 116.779, 0.2 * 255 - 123.68];
    for (const variant of ['caffe', 'normalised'] as const) {
      const w = randomVgg19Weights(tf, variant, 0);
      const got = await preprocess(tf, pixel(), w).data();
      expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 3));
      w.dispose();
    }
  });
});

describe('vgg19Forward', () => {
  it('returns each tap with its shape, is deterministic per seed, and frees its intermediates', async () => {
    const image = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const w = randomVgg19Weights(tf, 'torchvision', 7);
    w.conv('conv1_1');
    w.conv('conv1_2');
    w.conv('conv2_1');
    const before = tf.memory().numTensors;
    const taps = vgg19Forward(tf, image, ['relu2_1', 'conv1_1'], w, 'avg');
    expect(Object.keys(taps).sort()).toEqual(['conv1_1', 'relu2_1']);
    expect(taps.relu2_1!.shape).toEqual([1, 8, 8, 128]);
    expect(tf.memory().numTensors - before).toBe(2);
    const again = vgg19Forward(tf, image, ['relu2_1'], randomVgg19Weights(tf, 'torchvision', 7), 'avg');
    expect(Array.from(await again.relu2_1!.data())).toEqual(Array.from(await taps.relu2_1!.data()));
    // conv1_1 is pre-ReLU: it has negative values; relu2_1 has none.
    expect(Math.min(...(await taps.conv1_1!.data()))).toBeLessThan(0);
    expect(Math.min(...(await taps.relu2_1!.data()))).toBeGreaterThanOrEqual(0);
  });
});
