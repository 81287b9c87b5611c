import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/**
 * Per-channel mean and standard deviation over positions, as pytorch-AdaIN's `calc_mean_std`:
 * the UNBIASED variance (divide by N - 1) plus eps, then the square root. Shapes [1, 1, 1, C].
 * With a mask [1, H, W, 1] of 0/1, only the positions where it is 1 count.
 */
export function meanStd(tf: TF, f: Tensor4D, eps = 1e-5, mask?: Tensor4D): { mean: Tensor4D; std: Tensor4D } {
  return tf.tidy(() => {
    if (!mask) {
      const n = f.shape[1] * f.shape[2];
      const { mean, variance } = tf.moments(f, [1, 2], true);
      return {
        mean: mean as Tensor4D,
        std: tf.sqrt(tf.add(tf.mul(variance, n / Math.max(1, n - 1)), eps)) as Tensor4D,
      };
    }
    // The weights' sum, floored: an empty mask gives finite statistics (a mean of 0), not 0/0.
    const n = tf.maximum(tf.sum(mask), 1e-6);
    const mean = tf.div(tf.sum(tf.mul(f, mask), [1, 2], true), n) as Tensor4D;
    const sq = tf.sum(tf.mul(tf.square(tf.sub(f, mean)), mask), [1, 2], true);
    return { mean, std: tf.sqrt(tf.add(tf.div(sq, tf.maximum(tf.sub(n, 1), 1)), eps)) as Tensor4D };
  });
}

/** Mean-variance normalisation (SANet's `mean_variance_norm`). */
export function mvn(tf: TF, f: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const { mean, std } = meanStd(tf, f);
    return tf.div(tf.sub(f, mean), std) as Tensor4D;
  });
}
