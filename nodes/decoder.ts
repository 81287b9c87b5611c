import { decode } from '../src/models/adain';
import { defineNodeType } from '../src/plugin/types';
import { decoderWeights, type DecoderModel } from './models';
import { inputInfo, paddingParam } from './shared';
import { describeNetwork, weightsParam } from './weights';

/**
 * The AdaIN decoder g (SANet uses the same architecture with its own weights): relu4_1-sized
 * features -> an image 8x larger, with reflection padding and nearest-neighbour upsampling.
 */
export default defineNodeType({
  type: 'decoder',
  title: 'Decoder',
  category: 'Decoders',
  inputs: { features: { type: 'Features' }, model: { type: 'Model', optional: true, label: 'trained weights' } },
  outputs: { image: { type: 'Image' } },
  params: {
    weights: weightsParam('adain-decoder'),
    seed: {
      kind: 'integer',
      default: 0,
      min: 0,
      description: 'Seed of the random weights used until the checkpoint is loaded.',
    },
    padding: paddingParam('reflect'),
  },
  infer: (ctx) => {
    const [b, h, w, c] = inputInfo(ctx, 'features').shape as [number, number, number, number];
    if (c % 8) throw new Error(`the decoder needs a channel count divisible by 8 (relu4_1 has 512); got ${c}`);
    return { image: { shape: [b, h * 8, w * 8, 3] } };
  },
  flops: (ctx) => {
    const [b, h, w, c] = inputInfo(ctx, 'features').shape as [number, number, number, number];
    // Nine 3x3 convs at 1x, 2x, 4x, 8x the feature size (channel plan c -> c/2 -> c/4 -> c/8 -> 3).
    const px = b * h * w;
    const convs: [number, number, number][] = [
      [c, c / 2, 1],
      [c / 2, c / 2, 4],
      [c / 2, c / 2, 4],
      [c / 2, c / 2, 4],
      [c / 2, c / 4, 4],
      [c / 4, c / 4, 16],
      [c / 4, c / 8, 16],
      [c / 8, c / 8, 64],
      [c / 8, 3, 64],
    ];
    return convs.reduce((a, [i, o, s]) => a + 2 * 9 * i * o * px * s, 0);
  },
  compute: (ctx) => {
    const features = ctx.inputs.features as Parameters<typeof decode>[1];
    const model = ctx.inputs.model as DecoderModel | undefined;
    const weights = model ? model.decoder : decoderWeights(ctx, features.shape[3]);
    return { image: decode(ctx.tf, features, weights, ctx.params.padding) };
  },
  checkpoint: (p) => p.weights,
  describeWeights: (p, services, connected) =>
    connected.has('model') ? 'Decoder: the connected model' : describeNetwork(services, 'Decoder', p.weights, p.seed),
});
