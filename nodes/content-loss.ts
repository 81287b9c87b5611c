import { defineNodeType } from '../src/plugin/types';
import { CONTENT_NORMALISATIONS, contentLoss, tiledContentLoss } from '../src/ops/losses';
import {
  SCALAR,
  featureLossInputs,
  maskedLossRole,
  inputInfo,
  inputTensor,
  lossWeight,
  maskInput,
  optionalTensor,
  sameShape,
  weightParam,
} from './shared';

/**
 * How far the image's features at one layer are from the content image's; with a mask, only where it is white:
 * the squared differences weighted by the mask's square and normalised by its sum (src/ops/losses.ts contentLoss).
 */
export default defineNodeType({
  type: 'content-loss',
  title: 'Content loss',
  category: 'Losses',
  role: 'loss',
  inputs: { ...featureLossInputs('content features'), mask: maskInput },
  description:
    'How far the image is from the content at one layer. With a mask (a painted region), only there: the squared differences weighted by T^2 (T the mask resized to the layer) and scaled by M / sum T^2 over the M positions, so an all-white mask changes nothing. On tiles, each tile weights its features by its part of the mask.',
  roles: { loss: maskedLossRole },
  outputs: { loss: { type: 'Scalar' } },
  params: {
    weight: weightParam(1, 'alpha in Gatys et al.; ignored when the weight input is connected.'),
    normalisation: {
      kind: 'enum',
      default: 'gatys',
      options: CONTENT_NORMALISATIONS,
      description:
        'gatys: 1/2 sum of squared differences; mse: their mean (neural-style, AdaIN training); mvn-mse: the mean after normalising each channel (SANet).',
    },
  },
  infer: (ctx) => {
    sameShape(inputInfo(ctx, 'input'), inputInfo(ctx, 'target'), 'content loss');
    return { loss: SCALAR };
  },
  tiled: (params) => tiledContentLoss(params.normalisation),
  compute: (ctx) => {
    const { tf } = ctx;
    return {
      loss: tf.tidy(() =>
        tf.mul(
          contentLoss(
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
