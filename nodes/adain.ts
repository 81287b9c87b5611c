import { adain, packedMoments, styleMoments } from '../src/models/adain';
import { maskFor } from '../src/ops/losses';
import { defineNodeType, type Tensor, type ValueInfo } from '../src/plugin/types';
import { alphaParam, blendAlpha, transferInfo } from './shared';

type T4 = Parameters<typeof adain>[1];

/**
 * A style side's moments, taken once before the run's other steps (a prepared input): a feed-forward graph's style
 * side is kept in the run memo, so the live camera and a clip's frames no longer take the painting's moments every
 * frame. [2, B, 1, 1, C]: the mean, then the standard deviation.
 */
const moments = {
  socket: 'Stats',
  info: (f: ValueInfo): ValueInfo => ({ ...f, shape: [2, f.shape[0]!, 1, 1, f.shape.at(-1)!] }),
  run: (features: Tensor, _params: unknown, tf: Parameters<typeof packedMoments>[0]) =>
    packedMoments(tf, features as T4),
} as const;

/** The style input as AdaIN takes it: its prepared moments, or features (a caller of compute that prepared nothing). */
const styleSide = (tf: Parameters<typeof packedMoments>[0], t: Tensor) =>
  t.rank === 5 ? styleMoments(tf, t) : (t as T4);

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
  prepare: { style: moments, style2: moments },
  infer: (ctx) => ({ features: transferInfo(ctx) }),
  compute: ({ tf, inputs, params }) => ({
    features: tf.tidy(() => {
      const content = inputs.content as T4;
      const style = styleSide(tf, inputs.style as Tensor);
      let t: Tensor;
      if (inputs.mask) {
        // Grey is partly inside, as for the masked losses and the region nodes: each side's statistics are weighted
        // by its mask, and the two results blended by it. A side the mask leaves empty has no weight (meanStd
        // floors the weights' sum, so its statistics stay finite) and adds nothing.
        const m = tf.clipByValue(maskFor(tf, inputs.mask as T4, content), 0, 1) as T4;
        const outsideMask = tf.sub(1, m) as T4;
        const inside = adain(tf, content, style, m);
        const outside = inputs.style2
          ? adain(tf, content, styleSide(tf, inputs.style2 as Tensor), outsideMask)
          : content;
        t = tf.add(tf.mul(inside, m), tf.mul(outside, outsideMask));
      } else t = adain(tf, content, style);
      return blendAlpha(tf, t, content, params.alpha);
    }),
  }),
});
