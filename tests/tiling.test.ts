import { beforeAll, describe, expect, it } from 'vitest';
import { VGG19_LAYERS, randomVgg19Weights, vgg19Forward, vgg19ForwardAnySize, vggTiling, type Vgg19Variant } from '../src/models/vgg19';
import { reach } from '../src/models/tiling';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

const kinds = VGG19_LAYERS.map((l) => l.kind);
const at = (name: string) => VGG19_LAYERS.findIndex((l) => l.name === name);

describe('tiled encoder passes', () => {
  it('knows the receptive field and stride of each tap (worked by hand)', () => {
    // conv1_1 +1, conv1_2 +1, pool1 +1 (stride 2), conv2_x +2 +2, pool2 +2 (stride 4), conv3_x 4 x +4, pool3 +4 (stride 8),
    // conv4_x 4 x +8, pool4 +8 (stride 16), conv5_1 +16.
    expect(reach(kinds, at('relu1_1'))).toEqual({ radius: 1, stride: 1 });
    expect(reach(kinds, at('relu2_1'))).toEqual({ radius: 5, stride: 2 });
    expect(reach(kinds, at('conv4_2'))).toEqual({ radius: 45, stride: 8 });
    expect(reach(kinds, at('relu5_1'))).toEqual({ radius: 85, stride: 16 });
  });

  for (const variant of ['torchvision', 'normalised'] as Vgg19Variant[])
    it(`gives the same taps and the same input gradient as the whole image (${variant}, tiles of 32 px on 72 x 88)`, () => {
      const w = randomVgg19Weights(tf, variant, 3);
      const taps = ['relu1_1', 'relu2_1', 'relu3_1'];
      const pooling = variant === 'normalised' ? 'max' : 'avg';
      const image = tf.randomUniform([1, 72, 88, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
      const probes = taps.map((t, i) => tf.randomNormal(vgg19Forward(tf, image, [t], w, pooling)[t]!.shape, 0, 1, 'float32', i));
      const objective = (forward: typeof vgg19Forward) => (x: tf.Tensor) => {
        const out = forward(tf, x as tf.Tensor4D, taps, w, pooling);
        return tf.addN(taps.map((t, i) => tf.sum(tf.mul(out[t]!, probes[i]!)))) as tf.Scalar;
      };
      const saved = { ...vggTiling };
      try {
        vggTiling.abovePixels = 0;
        vggTiling.tile = 32;
        const before = tf.memory().numTensors;
        const tiled = tf.tidy(() => vgg19ForwardAnySize(tf, image, taps, w, pooling));
        const whole = vgg19Forward(tf, image, taps, w, pooling);
        const relative = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / tf.max(tf.abs(b)).dataSync()[0]!);
        for (const t of taps) expect(relative(tiled[t]!, whole[t]!), t).toBeLessThan(1e-5);
        const gTiled = tf.grad(objective(vgg19ForwardAnySize))(image);
        const gWhole = tf.grad(objective(vgg19Forward))(image);
        expect(relative(gTiled, gWhole)).toBeLessThan(1e-4);
        tf.dispose([...Object.values(tiled), ...Object.values(whole), gTiled, gWhole]);
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        Object.assign(vggTiling, saved);
        tf.dispose([image, ...probes]);
        w.dispose();
      }
    });
});

describe('a Gatys run with tiled encoder passes', () => {
  it('gives the losses of the untiled run, with a constant tensor count', async () => {
    const { run, loadPreset, withParams } = await import('./helpers');
    const model = withParams(loadPreset('gatys.json'), { 'optim.method': 'adam', 'optim.steps': 2, 'optim.previewEvery': 0 });
    const plain = await run(model, 64);
    const saved = { ...vggTiling };
    try {
      vggTiling.abovePixels = 0;
      vggTiling.tile = 32;
      const tiled = await run(model, 64);
      expect(tiled.status).toBe('done');
      tiled.steps.forEach((s, i) => expect(Math.abs(s.loss - plain.steps[i]!.loss) / plain.steps[i]!.loss).toBeLessThan(1e-4));
      expect(tiled.tensors.atEnd).toBe(tiled.tensors.afterFirstStep);
    } finally {
      Object.assign(vggTiling, saved);
    }
  });
});
