import { defineNodeType } from '../src/plugin/types';
import { histogramLoss, histogramTarget } from '../src/ops/losses';
import { SCALAR, featureLossInputs, featureLossRole, inputInfo, inputTensor, lossWeight, weightParam } from './shared';

/**
 * Risser et al. 2017's histogram loss at one layer: each channel of the image's features against the style's values
 * in the same rank order (exact per-channel histogram matching), next to the Gram loss, which lets the activations'
 * distributions drift (colours wash out, textures flicker between runs). The style's sorted values are prepared once.
 * Not tiled: a value's rank depends on the whole feature map.
 */
export default defineNodeType({
  type: 'histogram-loss',
  title: 'Histogram style loss',
  category: 'Losses',
  role: 'loss',
  description:
    "Risser et al. 2017: the mean squared difference between each channel of the image's features and the style's values taken at the same ranks (per-channel histogram matching). Pair it with Gram losses for stable colours and textures.",
  inputs: featureLossInputs('style features'),
  roles: { loss: featureLossRole },
  outputs: { loss: { type: 'Scalar' } },
  params: {
    weight: weightParam(1, "The term's weight (Risser et al.'s gamma_l); ignored when the weight input is connected."),
  },
  prepare: {
    target: {
      socket: 'Stats',
      info: (f) => ({
        shape: [f.shape[f.shape.length - 1]!, f.shape.slice(0, -1).reduce((a, b) => a * b, 1)],
        layer: f.layer,
      }),
      run: (features, _params, tf) => histogramTarget(tf, features),
    },
  },
  infer: (ctx) => {
    const input = inputInfo(ctx, 'input');
    const target = inputInfo(ctx, 'target');
    const [c, t] = [input.shape.at(-1), target.shape.at(-1)];
    if (c !== t)
      throw new Error(
        `histogram loss: image features have ${c} channels (${input.layer ?? '?'}) but style features have ${t} (${target.layer ?? '?'}); tap the same layer`,
      );
    return { loss: SCALAR };
  },
  flops: (ctx) => {
    // A sort of every channel (n log n comparisons) and a few passes over the features.
    const s = inputInfo(ctx, 'input').shape;
    const size = s.reduce((a, b) => a * b, 1);
    const n = size / s[s.length - 1]!;
    return size * (Math.log2(Math.max(2, n)) + 6);
  },
  compute: (ctx) => {
    const { tf } = ctx;
    return {
      loss: tf.tidy(() =>
        tf.mul(histogramLoss(tf, inputTensor(ctx, 'input'), inputTensor(ctx, 'target')), lossWeight(ctx)),
      ),
    };
  },
});
