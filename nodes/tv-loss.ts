import { defineNodeType } from '../src/plugin/types';
import { totalVariation } from '../src/ops/losses';
import { SCALAR, inputTensor, lossWeight, weightParam } from './shared';

/** Total variation: penalises differences between neighbouring pixels, smoothing high-frequency noise. */
export default defineNodeType({
  type: 'tv-loss',
  title: 'Total variation loss',
  category: 'Losses',
  role: 'loss',
  inputs: { image: { type: 'Image' }, weight: { type: 'Scalar', optional: true } },
  outputs: { loss: { type: 'Scalar' } },
  params: { weight: weightParam(1e-3, 'Smoothness; ignored when the weight input is connected.') },
  roles: { loss: { output: 'loss', weight: { input: 'weight', param: 'weight' } } },
  infer: () => ({ loss: SCALAR }),
  compute: (ctx) => {
    const { tf } = ctx;
    return { loss: tf.tidy(() => tf.mul(totalVariation(tf, inputTensor(ctx, 'image')), lossWeight(ctx))) };
  },
});
