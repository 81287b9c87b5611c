import { defineNodeType } from '../src/plugin/types';
import { fitSize } from '../src/ops/image';

/**
 * A painted region over the content photo: a grey picture (white: inside, black: outside, grey: partly), painted in
 * the editor's mask painter or read from a file. Each region is one node, named (`--mask NAME=file.png` in the CLI)
 * and coloured (the painter shows every region over the photo in its colour). Its `mask` and `inverse` outputs guide
 * the losses (guided Gram, masked content loss) and the one-pass transfers (AdaIN's mask, region blends); each
 * consumer resizes the mask to the size it works at.
 */
export default defineNodeType({
  type: 'mask',
  title: 'Painted region',
  category: 'Inputs',
  role: 'source',
  roles: { source: { kind: 'mask', param: 'source', name: 'name' } },
  description:
    'A region painted over the content photo (white: inside). Wire `mask` or `inverse` into a loss or a transfer to give that region its own style.',
  inputs: {},
  outputs: {
    mask: { type: 'Image', label: 'mask (1 inside)' },
    inverse: { type: 'Image', label: 'inverse (1 outside)' },
  },
  params: {
    source: {
      kind: 'image',
      default: '',
      label: 'painting',
      description: 'The painted mask: a grey PNG (white: inside). Empty: the whole picture.',
    },
    name: {
      kind: 'string',
      default: 'region',
      label: 'region name',
      description: 'Names the region in the painter and in the CLI (--mask NAME=file.png).',
    },
    colour: {
      kind: 'string',
      default: '#ff5a5a',
      label: 'colour',
      description: 'How the painter shows this region over the photo (#rrggbb).',
    },
  },
  infer: (ctx) => {
    const known = ctx.params.source ? ctx.imageSize?.(ctx.params.source) : undefined;
    const [h, w] = known ? fitSize(known[0], known[1], ctx.size) : [ctx.size, ctx.size];
    const info = { shape: [1, h, w, 1] };
    return { mask: info, inverse: { shape: [1, h, w, 1] } };
  },
  compute: async (ctx) => {
    const { tf } = ctx;
    if (!ctx.params.source)
      return { mask: tf.ones([1, ctx.size, ctx.size, 1]), inverse: tf.zeros([1, ctx.size, ctx.size, 1]) };
    const picture = await ctx.loadImage(ctx.params.source, ctx.size);
    const mask = tf.tidy(() => tf.clipByValue(tf.mean(picture, 3, true), 0, 1));
    picture.dispose();
    return { mask, inverse: tf.tidy(() => tf.sub(1, mask)) };
  },
});
