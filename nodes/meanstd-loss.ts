import { meanStd } from '../src/ops/moments';
import { defineNodeType, type Tensor } from '../src/plugin/types';
import { SCALAR, featureLossInputs, featureLossRole, inputInfo, inputTensor, lossWeight, weightParam } from './shared';

type T4 = Parameters<typeof meanStd>[1];

/**
 * AdaIN's style loss at one layer: MSE between the channel means plus MSE between the channel standard
 * deviations of the image's and the style's features (pytorch-AdaIN `calc_style_loss`, unbiased std + eps).
 */
export default defineNodeType({
  type: 'meanstd-loss',
  title: 'Mean/std style loss',
  category: 'Losses',
  role: 'loss',
  inputs: featureLossInputs('style features'),
  roles: { loss: featureLossRole },
  outputs: { loss: { type: 'Scalar' } },
  params: { weight: weightParam(1, 'lambda in L_c + lambda L_s (10 in pytorch-AdaIN, 3 in SANet).') },
  infer: (ctx) => {
    const [a, b] = [inputInfo(ctx, 'input'), inputInfo(ctx, 'target')];
    if (a.shape.at(-1) !== b.shape.at(-1) || a.shape[0] !== b.shape[0])
      throw new Error(
        `image features ${a.shape.join('x')} and style features ${b.shape.join('x')} need the same batch and channels`,
      );
    return { loss: SCALAR };
  },
  // Channel means and standard deviations come from the sums of F and F^2 over positions, which add up over tiles.
  tiled: () => ({
    target: 'global',
    stats: (f, _target, tf) => [tf.sum(f, [0, 1, 2]), tf.sum(tf.square(f), [0, 1, 2])],
    finish: ([s1, s2], target, full, weight, tf) =>
      tf.tidy(() => {
        const n = full.shape[1]! * full.shape[2]!;
        const mean = tf.div(s1!, n);
        const variance = tf.div(tf.sub(s2!, tf.mul(tf.square(mean), n)), Math.max(1, n - 1));
        const std = tf.sqrt(tf.add(tf.relu(variance), 1e-5));
        const s = meanStd(tf, target as T4);
        const mse = (a: Tensor, b: Tensor) => tf.mean(tf.squaredDifference(a, tf.reshape(b, a.shape)));
        return tf.mul(tf.add(mse(mean, s.mean), mse(std, s.std)), weight);
      }),
  }),
  compute: (ctx) => {
    const { tf } = ctx;
    return {
      loss: tf.tidy(() => {
        const x = meanStd(tf, inputTensor(ctx, 'input') as T4);
        const s = meanStd(tf, inputTensor(ctx, 'target') as T4);
        const mse = (a: T4, b: T4) => tf.mean(tf.squaredDifference(a, b));
        return tf.mul(tf.add(mse(x.mean, s.mean), mse(x.std, s.std)), lossWeight(ctx));
      }),
    };
  },
});
