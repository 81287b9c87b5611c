import { defineNodeType } from '../src/plugin/types';
import { SCALAR, inputInfo, inputTensor, lossWeight, sameShape, weightParam } from './shared';

/** Mean squared error between two images: SANet's identity loss on pixels, L_id1 = MSE(I_cc, I_c). */
export default defineNodeType({
  type: 'image-loss',
  title: 'Pixel loss',
  category: 'Losses',
  role: 'loss',
  inputs: { input: { type: 'Image' }, target: { type: 'Image' }, weight: { type: 'Scalar', optional: true } },
  outputs: { loss: { type: 'Scalar' } },
  params: { weight: weightParam(1, 'lambda_id1 (50 in SANet) when used as the identity loss.') },
  roles: { loss: { output: 'loss', weight: { input: 'weight', param: 'weight' } } },
  infer: (ctx) => {
    sameShape(inputInfo(ctx, 'input'), inputInfo(ctx, 'target'), 'pixel loss');
    return { loss: SCALAR };
  },
  compute: (ctx) => {
    const { tf } = ctx;
    return {
      loss: tf.tidy(() =>
        tf.mul(tf.mean(tf.squaredDifference(inputTensor(ctx, 'input'), inputTensor(ctx, 'target'))), lossWeight(ctx)),
      ),
    };
  },
});
