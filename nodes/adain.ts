import { adain } from '../src/models/adain';
import { maskFor } from '../src/ops/losses';
import { defineNodeType, type Tensor } from '../src/plugin/types';
import { alphaParam, blendAlpha, transferInfo } from './shared';

type T4 = Parameters<typeof adain>[1];

/**
 * AdaIN(f(c), f(s)) = sigma(s) (f(c) - mu(c)) / sigma(c) + mu(s), blended with the content features by alpha.
 * With a mask, the style applies where the mask is white (statistics of that region only) and `style2`
 * (or the unchanged content) elsewhere: AdaIN per region, as in the paper's spatial control. A grey mask is partly
 * inside: the statistics are weighted by it and the two sides blended by it (a binary mask gives the paper's).
 */
export default defineNodeType({
  type: 'adain',
  title: 'AdaIN',
  category: 'Style statistics',
  inputs: {
    content: { type: 'Features' },
    style: { type: 'Features' },
    mask: { type: 'Image', optional: true, label: 'mask (white: style)' },
    style2: { type: 'Features', optional: true, label: 'style outside the mask' },
  },
  outputs: { features: { type: 'Features' } },
  params: { alpha: alphaParam('AdaIN') },
  infer: (ctx) => ({ features: transferInfo(ctx) }),
  compute: ({ tf, inputs, params }) => ({
    features: tf.tidy(() => {
      const content = inputs.content as T4;
      const style = inputs.style as T4;
      let t: Tensor;
      if (inputs.mask) {
        // Grey is partly inside, as for the masked losses and the region nodes: each side's statistics are weighted
        // by its mask, and the two results blended by it. A side the mask leaves empty has no weight (meanStd
        // floors the weights' sum, so its statistics stay finite) and adds nothing.
        const m = tf.clipByValue(maskFor(tf, inputs.mask as T4, content), 0, 1) as T4;
        const outsideMask = tf.sub(1, m) as T4;
        const inside = adain(tf, content, style, m);
        const outside = inputs.style2 ? adain(tf, content, inputs.style2 as T4, outsideMask) : content;
        t = tf.add(tf.mul(inside, m), tf.mul(outside, outsideMask));
      } else t = adain(tf, content, style);
      return blendAlpha(tf, t, content, params.alpha);
    }),
  }),
});
