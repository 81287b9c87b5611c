import { efdm } from '../src/ops/sort-match';
import { defineNodeType } from '../src/plugin/types';
import { alphaParam, blendAlpha, inputInfo, transferInfo } from './shared';

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
  params: { alpha: alphaParam('EFDM') },
  infer: (ctx) => {
    const features = transferInfo(ctx);
    const [c, s] = [features, inputInfo(ctx, 'style')];
    if (s.shape[0] !== 1 && s.shape[0] !== c.shape[0])
      throw new Error(
        `a batch of ${c.shape[0]} content images needs 1 or ${c.shape[0]} style images, not ${s.shape[0]}`,
      );
    return { features };
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
      return blendAlpha(tf, efdm(tf, content, inputs.style as T4), content, params.alpha);
    }),
  }),
});
