import { adain } from '../src/models/adain';
import { defineNodeType, type Tensor } from '../src/plugin/types';
import { alphaParam, blendAlpha, transferInfo } from './shared';

type T4 = Parameters<typeof adain>[1];

/**
 * AdaIN(f(c), f(s)) = sigma(s) (f(c) - mu(c)) / sigma(c) + mu(s), blended with the content features by alpha.
 * With a mask, the style applies where the mask is white (statistics of that region only) and `style2`
 * (or the unchanged content) elsewhere: AdaIN per region, as in the paper's spatial control.
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
        const [, h, w] = content.shape;
        const grey = tf.mean(tf.image.resizeBilinear(inputs.mask as T4, [h, w], true), 3, true);
        const isIn = tf.greater(grey, 0.5);
        const m = tf.cast(isIn, 'float32') as T4;
        const inside = adain(tf, content, style, m);
        const outside = inputs.style2 ? adain(tf, content, inputs.style2 as T4, tf.sub(1, m) as T4) : content;
        // A side the mask leaves empty (a white mask: the whole picture) has no statistics (0/0): where, not
        // m * inside + (1 - m) * outside, keeps its NaNs out of the other side.
        t = tf.where(tf.broadcastTo(isIn, content.shape), inside, outside);
      } else t = adain(tf, content, style);
      return blendAlpha(tf, t, content, params.alpha);
    }),
  }),
});
