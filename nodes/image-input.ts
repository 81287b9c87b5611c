import { defineNodeType } from '../src/plugin/types';
import { fitSize } from '../src/ops/image';

/** An image from a file next to the document, a URL or a data: URL, scaled so its longest side is the run size. */
export default defineNodeType({
  type: 'image',
  title: 'Image',
  category: 'Inputs',
  role: 'source',
  description: 'A photo or painting. The run size sets its longest side; the aspect ratio is kept.',
  inputs: {},
  outputs: { image: { type: 'Image' } },
  params: {
    source: { kind: 'image', default: 'images/astronaut.jpg', label: 'image' },
    slot: {
      kind: 'enum',
      default: 'other',
      options: ['content', 'style', 'other'],
      description: 'Which command-line option replaces this image: --content or --style.',
    },
  },
  roles: { source: { kind: 'image', param: 'source', slot: 'slot' } },
  infer: (ctx) => {
    const known = ctx.imageSize?.(ctx.params.source);
    const [h, w] = known ? fitSize(known[0], known[1], ctx.size) : [ctx.size, ctx.size];
    return { image: { shape: [1, h, w, 3] } };
  },
  compute: async (ctx) => ({ image: await ctx.loadImage(ctx.params.source, ctx.size) }),
});
