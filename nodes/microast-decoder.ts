import { headFlops, microDecodeHead } from '../src/models/microast';
import { defineNodeType } from '../src/plugin/types';
import { connectedPart, featureShape, microDecoderWeights, microModelInput, microSeedParam } from './microast-weights';
import { paddingParam } from './shared';
import { describeNetwork, weightsParam } from './weights';

/**
 * The end of MicroAST's decoder (dec3): features at a quarter of the image size -> the picture. The decoder's two
 * modulated residual blocks come before it as their own nodes, with the second AdaIN between them.
 */
export default defineNodeType({
  type: 'microast-decoder',
  title: 'MicroAST decoder',
  category: 'Decoders',
  description:
    "MicroAST's micro decoder, after its modulated residual blocks: twice bilinear 2x upsampling followed by a grouped 3x3 conv (two input channels per output) and a 1x1 conv, then a 9x9 conv to RGB. Reflection padding throughout.",
  inputs: { features: { type: 'Features' }, model: microModelInput },
  outputs: { image: { type: 'Image' } },
  params: { weights: weightsParam('microast-decoder'), seed: microSeedParam, padding: paddingParam('reflect') },
  infer: (ctx) => {
    const [b, h, w] = featureShape(ctx, 'features');
    return { image: { shape: [b, h * 4, w * 4, 3] } };
  },
  flops: (ctx) => {
    const [b, h, w] = featureShape(ctx, 'features');
    return b * headFlops(h, w);
  },
  compute: (ctx) => {
    const trained = connectedPart(ctx, 'decoder');
    const features = ctx.inputs.features as Parameters<typeof microDecodeHead>[1];
    return {
      image: ctx.tf.tidy(() =>
        microDecodeHead(ctx.tf, features, trained ? trained.decoder() : microDecoderWeights(ctx), ctx.params.padding),
      ),
    };
  },
  checkpoint: (p) => p.weights,
  describeWeights: (p, services, connected) =>
    connected.has('model')
      ? 'MicroAST decoder: the connected model'
      : describeNetwork(services, 'MicroAST decoder', p.weights, p.seed),
});
