import { beforeAll, describe, expect, it } from 'vitest';
import { adain, packedMoments, styleMoments } from '../src/models/adain';
import { tf, useWasm } from './helpers';

/**
 * AdaIN's two forms (src/models/adain.ts): on one image with no gradient being taken it runs as average pools and
 * 1x1 depthwise convs (the camera's and a clip's frames); under a gradient as tf.moments and broadcast ops. Both are
 * checked against AdaIN computed here in float64 from the definition (unbiased variance plus 1e-5, as meanStd), on
 * features whose mean is 40 times their spread, where E[x^2] - mean^2 in float32 would lose the variance.
 */
beforeAll(useWasm);

/** Deterministic features [1, h, w, c]: channel k has mean `offset` + k and spread about `spread`. */
function features(h: number, w: number, c: number, offset: number, spread: number, seed: number): Float32Array {
  const out = new Float32Array(h * w * c);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = offset + (i % c) + spread * (2 * (s / 2147483648) - 1);
  }
  return out;
}

/** AdaIN in float64 from the definition, per channel. */
function reference(x: Float32Array, y: Float32Array, c: number): Float64Array {
  const stats = (f: Float32Array) =>
    Array.from({ length: c }, (_, k) => {
      const v: number[] = [];
      for (let i = k; i < f.length; i += c) v.push(f[i]!);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1);
      return { mean, std: Math.sqrt(variance + 1e-5) };
    });
  const [sx, sy] = [stats(x), stats(y)];
  return Float64Array.from(x, (v, i) => {
    const k = i % c;
    return (sy[k]!.std * (v - sx[k]!.mean)) / sx[k]!.std + sy[k]!.mean;
  });
}

describe('AdaIN, inference form and the form under a gradient', () => {
  const [h, w, c] = [12, 10, 5];
  const x = features(h, w, c, 40, 1, 7);
  const y = features(7, 9, c, -3, 4, 11);
  const want = reference(x, y, c);
  const content = () => tf.tensor4d(x, [1, h, w, c]);
  const style = () => tf.tensor4d(y, [1, 7, 9, c]);
  const worst = (got: ArrayLike<number>) => {
    let e = 0;
    for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
    return e;
  };

  it('without a gradient (the inference form), from features and from prepared moments', async () => {
    const fromFeatures = adain(tf, content(), style());
    const packed = packedMoments(tf, style());
    expect(packed.shape).toEqual([2, 1, 1, 1, c]);
    const fromMoments = adain(tf, content(), styleMoments(tf, packed));
    expect(worst(await fromFeatures.data())).toBeLessThan(1e-4);
    expect(Array.from(await fromMoments.data())).toEqual(Array.from(await fromFeatures.data()));
  });

  it('the bound tells: the one-pass variance E[x^2] - mean^2 in float32 misses it here', async () => {
    const f = content();
    const n = h * w;
    const mean = tf.mean(f, [1, 2], true);
    const variance = tf.mul(tf.sub(tf.mean(tf.square(f), [1, 2], true), tf.square(mean)), n / (n - 1));
    const s = packedMoments(tf, style());
    const { mean: sm, std: ss } = styleMoments(tf, s);
    const a = tf.div(ss, tf.sqrt(tf.add(tf.relu(variance), 1e-5)));
    const naive = tf.add(tf.mul(tf.sub(f, mean), a), sm);
    expect(worst(await naive.data())).toBeGreaterThan(1e-4);
  });

  it('under a gradient (tf.moments and broadcast ops), with the same numbers and a gradient', async () => {
    const x0 = content();
    const s = style();
    let out: Float32Array | null = null;
    const grad = tf.grad((v: tf.Tensor) => {
      const r = adain(tf, v as tf.Tensor4D, s);
      out = r.dataSync() as Float32Array;
      return tf.sum(tf.square(r));
    })(x0);
    expect(worst(out!)).toBeLessThan(1e-4);
    expect(Number.isFinite((await tf.sum(tf.abs(grad)).data())[0]!)).toBe(true);
    expect((await tf.sum(tf.abs(grad)).data())[0]).toBeGreaterThan(0);
  });
});
