import { defineNodeType } from '../src/plugin/types';

/** Seeded white noise, uniform in [0, 1]; the size of `like` if connected, else a square of the run size. */
export default defineNodeType({
  type: 'noise',
  title: 'Noise image',
  category: 'Inputs',
  inputs: { like: { type: 'Image', optional: true, label: 'size like' } },
  outputs: { image: { type: 'Image' } },
  params: { seed: { kind: 'integer', default: 0, min: 0, description: 'Same seed, same noise.' } },
  infer: (ctx) => {
    const like = ctx.inputs.like;
    const shape = like && !Array.isArray(like) ? like.shape : [1, ctx.size, ctx.size, 3];
    return { image: { shape: [...shape] } };
  },
  compute: (ctx) => ({
    image: ctx.tf.randomUniform(ctx.outputInfo.image!.shape, 0, 1, 'float32', ctx.params.seed),
  }),
});
