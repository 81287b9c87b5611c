import { defineNodeType, type ValueInfo } from '../src/plugin/types';
import { STYLE_NORMALISATIONS, styleGram, styleLoss, tiledStyleLoss } from '../src/ops/losses';
import { SCALAR, featureLossInputs, featureLossRole, inputInfo, inputTensor, lossWeight, weightParam } from './shared';

/**
 * E_l: the difference between the Gram matrices of the image's and the style image's features at one layer.
 * The style Gram is prepared once, before the optimisation loop.
 */
export default defineNodeType({
  type: 'style-loss',
  title: 'Gram style loss',
  category: 'Losses',
  role: 'loss',
  inputs: featureLossInputs('style features'),
  roles: { loss: featureLossRole },
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
      run: (features, params, tf) => styleGram(tf, features, params.normalisation),
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
          styleLoss(tf, inputTensor(ctx, 'input'), inputTensor(ctx, 'target'), ctx.params.normalisation),
          lossWeight(ctx),
        ),
      ),
    };
  },
});
