import { describe, expect, it } from 'vitest';
import { registerWasmFilterGradient } from '../src/models/conv';
import { mulberry32, randomNormal } from '../src/models/random';
import { tf, useWasm } from './helpers';

const rand = (shape: number[], seed: number) =>
  randomNormal(
    shape.reduce((a, b) => a * b),
    1,
    mulberry32(seed),
  );

async function filterGrad(stride: number, pad: 'same' | 'valid'): Promise<Float32Array> {
  const x = tf.tensor4d(rand([2, 9, 8, 3], 1), [2, 9, 8, 3]);
  const w = tf.tensor4d(rand([3, 3, 3, 4], 2), [3, 3, 3, 4]);
  const g = tf.grad((k: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, k as tf.Tensor4D, stride, pad))))(w);
  const data = (await g.data()) as Float32Array;
  tf.dispose([x, w, g]);
  return data;
}

describe('the wasm Conv2DBackpropFilter kernel we register', () => {
  it.each([
    [1, 'same'],
    [2, 'same'],
    [1, 'valid'],
    [2, 'valid'],
  ] as const)('matches the cpu backend (stride %i, %s) without leaking', async (stride, pad) => {
    await tf.setBackend('cpu');
    const want = await filterGrad(stride, pad);
    await useWasm();
    registerWasmFilterGradient(tf);
    const before = tf.memory().numTensors;
    const got = await filterGrad(stride, pad);
    expect(tf.memory().numTensors).toBe(before);
    const scale = Math.max(...Array.from(want, Math.abs));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!) / scale).toBeLessThan(1e-5);
  });
});
