import { efdm } from '../src/ops/sort-match';
import { defineNodeType } from '../src/plugin/types';
import { inputInfo } from './shared';

type T4 = Parameters<typeof efdm>[1];

/**
 * EFDM (Zhang et al., CVPR 2022, Exact Feature Distribution Matching): each channel of the content features takes
 * the style features' values in the content's rank order, so it gets the style's whole distribution (AdaIN matches
 * only its mean and spread) and keeps the content's ranks. A drop-in for the AdaIN node.
 */
export default defineNodeType({
  type: 'efdm',
  title: 'EFDM',
  category: 'Style statistics',
  description:
    "Exact feature distribution matching (Zhang et al. 2022): per channel, the content's k-th largest value becomes the style's k-th largest (interpolated when the sizes differ). Same sockets as AdaIN, so it can replace it in the AdaIN and MicroAST graphs.",
  inputs: { content: { type: 'Features' }, style: { type: 'Features' } },
  outputs: { features: { type: 'Features' } },
  params: {
    alpha: {
      kind: 'number',
      default: 1,
      min: 0,
      max: 1,
      step: 0.05,
      description: 'Content-style trade-off: 0 keeps the content features, 1 is full EFDM.',
    },
  },
  infer: (ctx) => {
    const c = inputInfo(ctx, 'content');
    const s = inputInfo(ctx, 'style');
    if (c.shape.at(-1) !== s.shape.at(-1))
      throw new Error(
        `content has ${c.shape.at(-1)} channels but style has ${s.shape.at(-1)}; encode both to the same layer`,
      );
    if (s.shape[0] !== 1 && s.shape[0] !== c.shape[0])
      throw new Error(
        `a batch of ${c.shape[0]} content images needs 1 or ${c.shape[0]} style images, not ${s.shape[0]}`,
      );
    return { features: { shape: [...c.shape], layer: c.layer } };
  },
  flops: (ctx) => {
    const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
    const [c, s] = [inputInfo(ctx, 'content').shape, inputInfo(ctx, 'style').shape];
    // Two sorts (n log n comparisons per channel) and a scatter.
    return (
      size(c) * Math.log2(Math.max(2, size(c) / c.at(-1)!)) +
      size(s) * Math.log2(Math.max(2, size(s) / s.at(-1)!)) +
      4 * size(c)
    );
  },
  compute: ({ tf, inputs, params }) => ({
    features: tf.tidy(() => {
      const content = inputs.content as T4;
      const t = efdm(tf, content, inputs.style as T4);
      return params.alpha === 1 ? t : tf.add(tf.mul(t, params.alpha), tf.mul(content, 1 - params.alpha));
    }),
  }),
});
