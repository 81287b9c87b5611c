import { defineNodeType, type ShapeContext, type Tensor, type TF, type ValueInfo } from '../src/plugin/types';
import { maskFor } from '../src/ops/losses';
import { inputInfo } from './shared';

/**
 * m * inside + (1 - m) * outside, with m the mask (the mean of its channels, clipped to [0, 1]) resized bilinearly
 * to the inputs' height and width: two results composed by a painted region. Grey in the painting mixes the two.
 */
export function regionMix(tf: TF, inside: Tensor, outside: Tensor, mask: Tensor): Tensor {
  return tf.tidy(() => {
    // As the masked losses resize their mask (src/ops/losses.ts maskFor), then clipped.
    const m = tf.clipByValue(maskFor(tf, mask, inside), 0, 1);
    return tf.add(outside, tf.mul(m, tf.sub(inside, outside)));
  });
}

/** The output info: inside's, once inside and outside have one shape and the mask is a picture. */
function regionInfo(ctx: ShapeContext, what: string): ValueInfo {
  const a = inputInfo(ctx, 'inside');
  const b = inputInfo(ctx, 'outside');
  if (a.shape.join('x') !== b.shape.join('x'))
    throw new Error(
      `inside is ${a.shape.join('x')} but outside is ${b.shape.join('x')}; compose two ${what} of the same size`,
    );
  if (a.shape.length !== 4)
    throw new Error(`inside should be [batch, height, width, channels], got ${a.shape.join('x')}`);
  const m = inputInfo(ctx, 'mask').shape;
  if (m.length !== 4 || m[0] !== 1)
    throw new Error(`mask should be a picture [1, height, width, 1], got ${m.join('x')}`);
  return { shape: [...a.shape], layer: a.layer };
}

const description = (what: string, where: string) =>
  `Composes two ${what} by a painted region: the mask (resized to their size) picks \`inside\` where it is white and \`outside\` where it is black, and mixes them where it is grey (m * inside + (1 - m) * outside). ${where}`;

/** Two feature maps composed by a region, before one decoder (SANet or AdaIN with a style per region). */
export const regionBlend = defineNodeType({
  type: 'region-blend',
  title: 'Region blend (features)',
  category: 'Style statistics',
  description: description(
    'feature maps',
    'Blend two transfers (two SANet or AdaIN outputs) so that one decoder paints each region in its own style.',
  ),
  inputs: {
    inside: { type: 'Features', label: 'inside (white)' },
    outside: { type: 'Features', label: 'outside (black)' },
    mask: { type: 'Image', label: 'mask (white: inside)' },
  },
  outputs: { features: { type: 'Features' } },
  params: {},
  infer: (ctx) => ({ features: regionInfo(ctx, 'feature maps') }),
  compute: ({ tf, inputs }) => ({
    features: regionMix(tf, inputs.inside as Tensor, inputs.outside as Tensor, inputs.mask as Tensor),
  }),
});

/** Two pictures composed by a region: any one-pass transfer decoded twice (MicroAST, fast style), one per region. */
export const regionComposite = defineNodeType({
  type: 'region-composite',
  title: 'Region composite (pictures)',
  category: 'Image ops',
  description: description(
    'pictures',
    "For transfers whose style is global to the decoder (MicroAST's modulator, a fast style network): decode once per style and compose the pictures here.",
  ),
  inputs: {
    inside: { type: 'Image', label: 'inside (white)' },
    outside: { type: 'Image', label: 'outside (black)' },
    mask: { type: 'Image', label: 'mask (white: inside)' },
  },
  outputs: { image: { type: 'Image' } },
  params: {},
  infer: (ctx) => ({ image: regionInfo(ctx, 'pictures') }),
  compute: ({ tf, inputs }) => ({
    image: regionMix(tf, inputs.inside as Tensor, inputs.outside as Tensor, inputs.mask as Tensor),
  }),
});
