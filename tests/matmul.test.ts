import { beforeAll, describe, expect, it } from 'vitest';
import { matMul } from '../src/ops/matmul';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

const close = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  const err = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
  const scale = tf.max(tf.abs(b)).dataSync()[0]!;
  expect(scale).toBeGreaterThan(0);
  expect(err / scale).toBeLessThan(1e-5);
};

describe('matMul on operands transposed by copy', () => {
  it('multiplies a hand-worked 2x3 by 3x2 with every transpose flag', () => {
    const a = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = tf.tensor2d([
      [7, 8],
      [9, 10],
      [11, 12],
    ]);
    // [1 2 3; 4 5 6] [7 8; 9 10; 11 12] = [58 64; 139 154]
    expect(matMul(tf, a, b).arraySync()).toEqual([
      [58, 64],
      [139, 154],
    ]);
    expect(matMul(tf, tf.transpose(a), b, true).arraySync()).toEqual([
      [58, 64],
      [139, 154],
    ]);
    expect(matMul(tf, a, tf.transpose(b), false, true).arraySync()).toEqual([
      [58, 64],
      [139, 154],
    ]);
    expect(matMul(tf, tf.transpose(a), tf.transpose(b), true, true).arraySync()).toEqual([
      [58, 64],
      [139, 154],
    ]);
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const)
    for (const batched of [false, true])
      it(`has tfjs's value and gradients (transposeA ${ta}, transposeB ${tb}, ${batched ? '3-D' : '2-D'})`, () => {
        const lead = batched ? [2] : [];
        const a = tf.randomNormal([...lead, ...(ta ? [5, 4] : [4, 5])], 0, 1, 'float32', 1);
        const b = tf.randomNormal([...lead, ...(tb ? [3, 5] : [5, 3])], 0, 1, 'float32', 2);
        const w = tf.randomNormal([...lead, 4, 3], 0, 1, 'float32', 3);
        const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(f(x, y), w));
        const ours = tf.grads(loss((x, y) => matMul(tf, x, y, ta, tb)))([a, b]);
        const theirs = tf.grads(loss((x, y) => tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, ta, tb)))([a, b]);
        close(matMul(tf, a, b, ta, tb), tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb));
        close(ours[0]!, theirs[0]!);
        close(ours[1]!, theirs[1]!);
      });

  it('differentiates a Gram matrix F^T F through both operands: dF = F (dG + dG^T)', () => {
    const f = tf.randomNormal([6, 3], 0, 1, 'float32', 4);
    const w = tf.randomNormal([3, 3], 0, 1, 'float32', 5);
    const [g] = tf.grads((x: tf.Tensor) => tf.sum(tf.mul(matMul(tf, x, x, true), w)))([f]);
    close(g!, tf.matMul(f, tf.add(w, tf.transpose(w))));
  });
});
