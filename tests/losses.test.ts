import { beforeAll, describe, expect, it } from 'vitest';
import { contentLoss, gramMatrix, styleGram, styleLoss, totalVariation } from '../src/ops/losses';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

// F: 1x2x2 spatial, 2 channels. Positions (row-major): p0 = (1, 2), p1 = (3, 0), p2 = (0, 1), p3 = (2, 2).
const F = () => tf.tensor4d([1, 2, 3, 0, 0, 1, 2, 2], [1, 2, 2, 2]);
// By hand: G00 = 1+9+0+4 = 14, G01 = 2+0+0+4 = 6, G11 = 4+0+1+4 = 9.
const G = [14, 6, 6, 9];

describe('gramMatrix', () => {
  it('sums channel products over positions', async () => {
    expect(Array.from(await gramMatrix(tf, F()).data())).toEqual(G);
  });
  it('gives the same sums a few positions at a time (chunks of 3 of the 4 positions, then 1)', async () => {
    expect(Array.from(await gramMatrix(tf, F(), 3).data())).toEqual(G);
    expect(Array.from(await gramMatrix(tf, F(), 1).data())).toEqual(G);
  });
  it('has the gradient dF = F (W + W^T) of sum(G * W), whole or in chunks', async () => {
    // W = [[1, 2], [0, -1]]: W + W^T = [[2, 2], [2, -2]]; p0 = (1, 2) -> (1*2 + 2*2, 1*2 - 2*2) = (6, -2), and so on.
    const W = tf.tensor2d([
      [1, 2],
      [0, -1],
    ]);
    const expected = [6, -2, 6, 6, 2, -2, 8, 0];
    for (const chunk of [65536, 3]) {
      const [g] = tf.grads((f: tf.Tensor) => tf.sum(tf.mul(gramMatrix(tf, f, chunk), W)))([F()]);
      expect(g!.shape).toEqual([1, 2, 2, 2]);
      expect(Array.from(await g!.data())).toEqual(expected);
    }
  });
  it('johnson normalisation divides by C*H*W = 8', async () => {
    const g = await styleGram(tf, F(), 'johnson').data();
    G.forEach((v, i) => expect(g[i]).toBeCloseTo(v / 8, 6));
  });
});

describe('styleLoss', () => {
  const A = () => tf.tensor2d([10, 5, 5, 7], [2, 2]);
  // Differences G - A: 4, 1, 1, 2 -> squares sum 16 + 1 + 1 + 4 = 22. N = 2, M = 4.
  it('gatys: sum (G-A)^2 / (4 N^2 M^2)', async () => {
    expect((await styleLoss(tf, F(), A(), 'gatys').data())[0]).toBeCloseTo(22 / (4 * 4 * 16), 6);
  });
  it('raw-mse: mean over the C^2 entries', async () => {
    expect((await styleLoss(tf, F(), A(), 'raw-mse').data())[0]).toBeCloseTo(22 / 4, 5);
  });
  it('johnson: mean of (G/(NM) - A)^2', async () => {
    const a = tf.tensor2d([1, 1, 1, 1], [2, 2]);
    const expected = G.map((g) => (g / 8 - 1) ** 2).reduce((x, y) => x + y) / 4;
    expect((await styleLoss(tf, F(), a, 'johnson').data())[0]).toBeCloseTo(expected, 6);
  });
  it('is zero when the target is the input Gram', async () => {
    expect((await styleLoss(tf, F(), gramMatrix(tf, F()), 'gatys').data())[0]).toBe(0);
  });
});

describe('contentLoss', () => {
  const P = () => tf.tensor4d([0, 2, 3, 1, 1, 1, 2, 0], [1, 2, 2, 2]);
  // F - P: 1, 0, 0, -1, -1, 0, 0, 2 -> squares sum 1 + 1 + 1 + 4 = 7.
  it('gatys: 1/2 sum of squares', async () => {
    expect((await contentLoss(tf, F(), P(), 'gatys').data())[0]).toBeCloseTo(3.5, 6);
  });
  it('mse: mean of squares', async () => {
    expect((await contentLoss(tf, F(), P(), 'mse').data())[0]).toBeCloseTo(7 / 8, 6);
  });
});

describe('totalVariation', () => {
  it('sums squared vertical and horizontal neighbour differences', async () => {
    // One channel, 2x3: rows [0 1 3] and [2 2 2]. Horizontal: 1, 4 | 0, 0 -> 1 + 4 = 5. Vertical: 4, 1, 1 = 6.
    const img = tf.tensor4d([0, 1, 3, 2, 2, 2], [1, 2, 3, 1]);
    expect((await totalVariation(tf, img).data())[0]).toBeCloseTo(11, 6);
  });
});
