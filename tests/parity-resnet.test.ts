import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RESNET50_TAPS,
  resnet50Forward,
  resnetFromStateDict,
  resnetTapShape,
  type ResNet50Weights,
} from '../src/models/resnet50';
import { styleLoss } from '../src/ops/losses';
import { checkpoint, expectClose, expected, input, record, type Expected } from './parity';
import { tf, useWasm } from './helpers';

let weights: ResNet50Weights;
beforeAll(async () => {
  await useWasm();
  weights = resnetFromStateDict(tf, checkpoint('resnet50-tiny.pth'), 'resnet50-tiny.pth');
});
afterAll(() => weights.dispose());

const resnet = expected.resnet50 as unknown as Record<string, Expected>;

describe('ResNet50 (BatchNorm folded) against PyTorch', () => {
  it.each(RESNET50_TAPS)('tap %s within 1e-4, with the shape the plan predicts', async (tap) => {
    const out = resnet50Forward(tf, input(expected.content) as tf.Tensor4D, [tap], weights)[tap]!;
    expect(resnetTapShape(tap, [1, 32, 32, 3], 4)).toEqual(out.shape);
    await expectClose(out, resnet[tap]!, 1e-4, `ResNet50 ${tap}`);
  });

  it('the seed-004 style loss (raw Gram MSE / n^2 over six taps) within 1e-3', async () => {
    const x = resnet50Forward(tf, input(expected.content) as tf.Tensor4D, [...RESNET50_TAPS], weights);
    const s = resnet50Forward(tf, input(expected.style) as tf.Tensor4D, [...RESNET50_TAPS], weights);
    let total = 0;
    for (const t of RESNET50_TAPS) {
      const n = x[t]!.shape[3]!;
      const target = tf.matMul(tf.reshape(s[t]!, [-1, n]), tf.reshape(s[t]!, [-1, n]), true, false);
      total += (await styleLoss(tf, x[t]!, target, 'raw-mse').data())[0]! / n ** 2;
    }
    const want = expected.resnet50_style_loss as number;
    const err = Math.abs(total - want) / Math.abs(want);
    record('ResNet50 seed-004 style loss', err);
    expect(err).toBeLessThan(1e-3);
  });
});
