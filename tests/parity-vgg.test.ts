import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vgg19FromStateDict } from '../src/models/checkpoints';
import { vgg19Forward, type Vgg19Weights } from '../src/models/vgg19';
import { gramMatrix, contentLoss, styleLoss, styleGram } from '../src/ops/losses';
import { checkpoint, expectClose, expected, input, record, relativeError } from './parity';
import { tf, useWasm } from './helpers';

let weights: Vgg19Weights;
beforeAll(async () => {
  await useWasm();
  weights = vgg19FromStateDict(tf, checkpoint('vgg19-tiny.pth'), 'torchvision', 'vgg19-tiny.pth');
});
afterAll(() => weights.dispose());

const layers = Object.keys(expected.torchvision_max);

describe('VGG19 (torchvision) against PyTorch', () => {
  it.each(layers)('max pooling: %s within 1e-4', async (layer) => {
    const taps = vgg19Forward(tf, input(expected.content) as tf.Tensor4D, [layer], weights, 'max');
    await expectClose(taps[layer]!, expected.torchvision_max[layer]!, 1e-4, `VGG19 torchvision max-pool ${layer}`);
  });

  it('average pooling: relu3_1 and relu5_1 within 1e-4', async () => {
    const taps = vgg19Forward(tf, input(expected.content) as tf.Tensor4D, ['relu3_1', 'relu5_1'], weights, 'avg');
    for (const l of ['relu3_1', 'relu5_1'])
      await expectClose(taps[l]!, expected.torchvision_avg[l]!, 1e-4, `VGG19 torchvision avg-pool ${l}`);
  });

  it('Gram matrix of relu2_1 within 1e-4', async () => {
    const f = vgg19Forward(tf, input(expected.content) as tf.Tensor4D, ['relu2_1'], weights, 'max').relu2_1!;
    await expectClose(gramMatrix(tf, f), expected.gram_relu2_1, 1e-4, 'Gram matrix relu2_1');
  });

  it('Gatys loss within 1e-3 and its gradient within 1e-3', async () => {
    const g = expected.gatys;
    const styleLayers = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];
    const content = input(expected.content) as tf.Tensor4D;
    const style = input(expected.style) as tf.Tensor4D;
    const P = vgg19Forward(tf, content, ['conv4_2'], weights, 'avg').conv4_2!;
    const S = vgg19Forward(tf, style, styleLayers, weights, 'avg');
    const A = Object.fromEntries(styleLayers.map((l) => [l, styleGram(tf, S[l]!, 'gatys')]));
    const x = tf.mul(tf.add(content, style), 0.5) as tf.Tensor4D;
    const terms: Record<string, number> = {};
    const { value, grad } = tf.valueAndGrad((img: tf.Tensor) => {
      const f = vgg19Forward(tf, img as tf.Tensor4D, ['conv4_2', ...styleLayers], weights, 'avg');
      const lc = contentLoss(tf, f.conv4_2!, P, 'gatys');
      terms.content = lc.dataSync()[0]!;
      const ls = styleLayers.map((l) => {
        const e = styleLoss(tf, f[l]!, A[l]!, 'gatys');
        terms[l] = e.dataSync()[0]!;
        return tf.mul(e, 0.2);
      });
      return tf.add(tf.mul(lc, g.alpha), tf.mul(tf.addN(ls), g.beta)) as tf.Scalar;
    })(x);
    const rel = (a: number, b: number, quantity?: string) => {
      const e = Math.abs(a - b) / Math.abs(b);
      if (quantity) record(quantity, e);
      return e;
    };
    expect(rel((await value.data())[0]!, g.loss, 'Gatys total loss')).toBeLessThan(1e-3);
    expect(rel(terms.content!, g.content, 'Gatys content loss conv4_2')).toBeLessThan(1e-3);
    for (const l of styleLayers) expect(rel(terms[l]!, g.style[l]!, `Gatys style loss ${l}`)).toBeLessThan(1e-3);
    const norm = Math.sqrt((await tf.sum(tf.square(grad)).data())[0]!);
    expect(rel(norm, g.gradNorm, 'Gatys gradient norm')).toBeLessThan(1e-3);
    const gradErr = relativeError(await grad.data(), g.grad);
    record('Gatys gradient (every pixel)', gradErr);
    expect(gradErr).toBeLessThan(1e-3);
  });
});
