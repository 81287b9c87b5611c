import { defineNodeType, type ValueInfo } from '../src/plugin/types';
import { STYLE_NORMALISATIONS, maskedStyleGram, styleLoss, tiledStyleLoss } from '../src/ops/losses';
import {
  SCALAR,
  featureLossInputs,
  maskedLossRole,
  inputInfo,
  inputTensor,
  lossWeight,
  maskInput,
  optionalTensor,
  weightParam,
} from './shared';

/**
 * E_l: the difference between the Gram matrices of the image's and the style image's features at one layer.
 * The style Gram is prepared once, before the optimisation loop (with the style mask, when one is wired).
 * With masks, both Grams are guided Grams (Gatys et al. 2017, spatial control; src/ops/losses.ts guidedGram):
 * G_T = M / sum T^2 * sum_k (T_k F_k)(T_k F_k)^T, each mask resized bilinearly to its tap's H x W.
 */
export default defineNodeType({
  type: 'style-loss',
  title: 'Gram style loss',
  category: 'Losses',
  role: 'loss',
  inputs: {
    ...featureLossInputs('style features'),
    mask: maskInput,
    styleMask: { type: 'Image', optional: true, label: 'style mask' },
  },
  description:
    'The Gram style loss. With a mask (a painted region), the guided Gram of Gatys et al. 2017: the features are weighted by the mask (resized to the layer) before the Gram, G_T = M / sum T^2 * sum_k (T_k F_k)(T_k F_k)^T over the M positions, so a region is compared as a whole image would be and an all-white mask changes nothing; the style mask picks the part of the style image that counts. On tiles, each tile weights its features by its part of the mask.',
  roles: { loss: maskedLossRole },
  outputs: { loss: { type: 'Scalar' } },
  params: {
    weight: weightParam(1, 'w_l * beta in Gatys et al.; ignored when the weight input is connected.'),
    normalisation: {
      kind: 'enum',
      default: 'gatys',
      options: STYLE_NORMALISATIONS,
      description:
        'gatys: sum (G-A)^2 / (4 N^2 M^2); johnson: Grams divided by C*H*W, mean squared error; raw-mse: unnormalised Grams, mean squared error.',
    },
  },
  prepare: {
    target: {
      socket: 'Gram',
      info: (f) => ({ shape: [f.shape[f.shape.length - 1]!, f.shape[f.shape.length - 1]!], layer: f.layer }),
      with: ['styleMask'],
      run: (features, params, tf, others) => maskedStyleGram(tf, features, params.normalisation, others?.styleMask),
    },
  },
  infer: (ctx) => {
    const input = inputInfo(ctx, 'input');
    const target = inputInfo(ctx, 'target');
    const channels = (i: ValueInfo) => i.shape[i.shape.length - 1];
    if (channels(input) !== channels(target))
      throw new Error(
        `style loss: image features have ${channels(input)} channels (${input.layer ?? '?'}) but style features have ${channels(target)} (${target.layer ?? '?'}); tap the same layer`,
      );
    return { loss: SCALAR };
  },
  flops: (ctx) => {
    const f = inputInfo(ctx, 'input');
    const c = f.shape[f.shape.length - 1]!;
    return 2 * c * f.shape.reduce((a, b) => a * b, 1);
  },
  tiled: (params) => tiledStyleLoss(params.normalisation),
  compute: (ctx) => {
    const { tf } = ctx;
    return {
      loss: tf.tidy(() =>
        tf.mul(
          styleLoss(
            tf,
            inputTensor(ctx, 'input'),
            inputTensor(ctx, 'target'),
            ctx.params.normalisation,
            optionalTensor(ctx, 'mask'),
          ),
          lossWeight(ctx),
        ),
      ),
    };
  },
});
