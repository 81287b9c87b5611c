import type * as tfjs from '@tensorflow/tfjs';

import { matMul } from './matmul';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;
type M3 = number[][];

const matmul = (a: M3, b: M3): M3 => a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const transpose = (a: M3): M3 => a[0]!.map((_, j) => a.map((r) => r[j]!));

/** Eigen-decomposition of a symmetric 3x3 matrix by Jacobi rotations: a = V diag(d) V^T. */
export function symmetricEigen(a: M3): { values: number[]; vectors: M3 } {
  const m = a.map((r) => [...r]);
  let v: M3 = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = m[0]![1]! ** 2 + m[0]![2]! ** 2 + m[1]![2]! ** 2;
    if (off < 1e-30) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      if (Math.abs(m[p]![q]!) < 1e-300) continue;
      const theta = (m[q]![q]! - m[p]![p]!) / (2 * m[p]![q]!);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      const r: M3 = [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ];
      r[p]![p] = c;
      r[q]![q] = c;
      r[p]![q] = s;
      r[q]![p] = -s;
      const next = matmul(matmul(transpose(r), m), r);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) m[i]![j] = next[i]![j]!;
      v = matmul(v, r);
    }
  }
  return { values: [m[0]![0]!, m[1]![1]!, m[2]![2]!], vectors: v };
}

/** a^(power) for a symmetric positive definite 3x3 matrix. */
export function symmetricPower(a: M3, power: number): M3 {
  const { values, vectors } = symmetricEigen(a);
  const d = values.map((x) => Math.max(x, 1e-12) ** power);
  return matmul(
    matmul(vectors, [
      [d[0]!, 0, 0],
      [0, d[1]!, 0],
      [0, 0, d[2]!],
    ]),
    transpose(vectors),
  );
}

/** Per-channel mean, unbiased std and the "covariance + I" of the standardised pixels (pytorch-AdaIN's CORAL). */
async function colourStats(tf: TF, image: Tensor4D) {
  const flat = tf.reshape(image, [-1, 3]);
  const n = flat.shape[0]!;
  const { mean, variance } = tf.moments(flat, 0);
  const std = tf.sqrt(tf.mul(variance, n / Math.max(1, n - 1)));
  const norm = tf.div(tf.sub(flat, mean), std);
  const cov = tf.add(matMul(tf, norm, norm, true), tf.eye(3));
  const [m, s, c] = await Promise.all([mean.data(), std.data(), cov.data()]);
  tf.dispose([flat, mean, variance, std, norm, cov]);
  return { mean: Array.from(m), std: Array.from(s), cov: [0, 1, 2].map((i) => Array.from(c.slice(3 * i, 3 * i + 3))) };
}

/**
 * CORAL as in pytorch-AdaIN's `coral(source, target)`: gives `image` the colour mean and covariance
 * of `reference` (both [1, H, W, 3] in [0, 1]; sizes may differ).
 */
export async function matchColour(tf: TF, image: Tensor4D, reference: Tensor4D): Promise<Tensor4D> {
  const src = await colourStats(tf, image);
  const ref = await colourStats(tf, reference);
  // x' = sqrt(C_ref) sqrt(C_src)^-1 x_norm, then the reference's std and mean.
  const a = matmul(symmetricPower(ref.cov, 0.5), symmetricPower(src.cov, -0.5));
  return tf.tidy(() => {
    const flat = tf.div(tf.sub(tf.reshape(image, [-1, 3]), src.mean), src.std);
    const mapped = tf.matMul(flat, tf.tensor2d(transpose(a)));
    return tf.reshape(tf.add(tf.mul(mapped, ref.std), ref.mean), image.shape) as Tensor4D;
  });
}

const RGB_TO_YIQ = [
  [0.299, 0.587, 0.114],
  [0.595716, -0.274453, -0.321263],
  [0.211456, -0.522591, 0.311135],
];

/**
 * Luminance-only transfer (Gatys et al., "Preserving colour"): the luminance of `image` with the
 * chrominance (YIQ's I and Q) of `reference`, resized to `image`'s size.
 */
export function transferLuminance(tf: TF, image: Tensor4D, reference: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const toYiq = tf.tensor2d(transpose(RGB_TO_YIQ));
    const fromYiq = tf.tensor2d(transpose(matInverse(RGB_TO_YIQ)));
    const ref = tf.image.resizeBilinear(reference, [image.shape[1], image.shape[2]], true);
    const y = tf.slice(tf.matMul(tf.reshape(image, [-1, 3]), toYiq), [0, 0], [-1, 1]);
    const iq = tf.slice(tf.matMul(tf.reshape(ref, [-1, 3]), toYiq), [0, 1], [-1, 2]);
    return tf.reshape(tf.matMul(tf.concat([y, iq], 1), fromYiq), image.shape) as Tensor4D;
  });
}

function matInverse(m: M3): M3 {
  const [[a, b, c], [d, e, f], [g, h, i]] = m as [
    [number, number, number],
    [number, number, number],
    [number, number, number],
  ];
  const A = e * i - f * h,
    B = -(d * i - f * g),
    C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}
