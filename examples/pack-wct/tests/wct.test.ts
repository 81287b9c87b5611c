import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { histogramLoss, sqrtAndInverse, wct } from '../index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
};

describe('the WCT pack, by hand', () => {
  it('takes square roots of an SPD matrix: diag(4, 9) -> diag(2, 3) and diag(1/2, 1/3)', () => {
    const a = tf.tensor2d([
      [4, 0],
      [0, 9],
    ]);
    const { sqrt, invSqrt } = sqrtAndInverse(tf, a, 30);
    close(sqrt.dataSync(), [2, 0, 0, 3], 1e-4);
    close(invSqrt.dataSync(), [0.5, 0, 0, 1 / 3], 1e-4);
  });

  it('inverts the root of a full SPD matrix: invSqrt * A * invSqrt = I', () => {
    const a = tf.tensor2d([
      [2, 0.5, 0.1],
      [0.5, 1, 0.2],
      [0.1, 0.2, 0.5],
    ]);
    const { invSqrt } = sqrtAndInverse(tf, a, 40);
    close(tf.matMul(tf.matMul(invSqrt, a), invSqrt).dataSync(), [1, 0, 0, 0, 1, 0, 0, 0, 1], 1e-4);
  });

  it("gives the content features the style features' mean and covariance (alpha 1), and leaves them at alpha 0", () => {
    const content = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 1);
    const style = tf.add(
      tf.mul(tf.randomNormal([1, 6, 6, 4], 0, 1, 'float32', 2), tf.tensor1d([3, 0.5, 1, 2])),
      tf.tensor1d([1, -2, 0, 5]),
    );
    const stats = (f: tf.Tensor) => {
      const m = tf.transpose(tf.reshape(f, [-1, 4]));
      const mean = tf.mean(m, 1, true);
      const c = tf.sub(m, mean);
      return { mean: mean.dataSync(), cov: tf.div(tf.matMul(c, c, false, true), m.shape[1]! - 1).dataSync() };
    };
    const out = wct(tf, content, style, { alpha: 1, eps: 1e-6, iterations: 40 });
    expect(out.shape).toEqual([1, 8, 8, 4]);
    const s = stats(style);
    const o = stats(out);
    close(o.mean, s.mean, 1e-3);
    close(o.cov, s.cov, 1e-2);
    close(wct(tf, content, style, { alpha: 0, eps: 1e-6, iterations: 40 }).dataSync(), content.dataSync(), 1e-6);
  });

  it('matches histograms in rank order, with the gradient of a constant target (worked by hand)', () => {
    // Channel 0 is [3, 1, 2] against style values [10, 20, 30]: ranks give matched [30, 10, 20].
    // Channel 1 is [0, 5, 4] against [1, 2, 3]: matched [1, 3, 2]. Mean squared difference over 6 values.
    const x = tf.tensor4d([3, 0, 1, 5, 2, 4], [1, 1, 3, 2]);
    const sorted = tf.tensor2d([
      [30, 20, 10],
      [3, 2, 1],
    ]);
    const expected = (27 ** 2 + 9 ** 2 + 18 ** 2 + 1 + 4 + 4) / 6;
    expect(histogramLoss(tf, x, sorted).dataSync()[0]).toBeCloseTo(expected, 4);
    const g = tf.grad((a: tf.Tensor) => histogramLoss(tf, a, sorted) as tf.Scalar)(x);
    // d/dx of mean (x - m)^2 = 2 (x - m) / 6, laid out like x ([1,1,3,2]: channel-interleaved).
    close(g.dataSync(), [-9, -1 / 3, -3, 2 / 3, -6, 2 / 3], 1e-5);
  });
});
