import { matchColour, transferLuminance } from '../src/ops/colour';
import { defineNodeType } from '../src/plugin/types';
import { inputInfo } from './shared';

type T4 = Parameters<typeof matchColour>[1];

/**
 * Keeps the colours of `reference`. coral: gives the image the reference's colour mean and covariance
 * (pytorch-AdaIN applies it to the style image before encoding). luminance: keeps the image's
 * luminance and takes the reference's chrominance (Gatys et al., applied to a result). none: passes through.
 */
export default defineNodeType({
  type: 'preserve-colour',
  title: 'Preserve colour',
  category: 'Image ops',
  inputs: { image: { type: 'Image' }, reference: { type: 'Image', label: 'colours of' } },
  outputs: { image: { type: 'Image' } },
  params: { method: { kind: 'enum', default: 'coral', options: ['coral', 'luminance', 'none'] } },
  infer: (ctx) => ({ image: { shape: [...inputInfo(ctx, 'image').shape] } }),
  // CORAL reads colour statistics back, so it is asynchronous (it cannot sit inside an optimisation loop).
  compute: ({ tf, inputs, params }) => {
    const image = inputs.image as T4;
    const reference = inputs.reference as T4;
    if (params.method === 'none') return { image: tf.clone(image) };
    if (params.method === 'luminance') return { image: transferLuminance(tf, image, reference) };
    return matchColour(tf, image, reference).then((out) => ({ image: out }));
  },
});
