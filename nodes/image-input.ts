import { defineNodeType } from '../src/plugin/types';
import { fitSize } from '../src/ops/image';

/**
 * An image from a file next to the document, a URL or a data: URL, scaled so its longest side is the run size, or
 * its own size (`size` px, else `scale` times the run size; 0: the run size): a style picture sized apart from the
 * output (a smaller one paints larger strokes).
 */
export function pictureSize(runSize: number, size: number, scale: number): number {
  if (size > 0) return Math.round(size);
  if (scale > 0) return Math.max(1, Math.round(runSize * scale));
  return runSize;
}

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
    size: {
      kind: 'integer',
      default: 0,
      min: 0,
      max: 4096,
      label: 'own size (px)',
      description: 'The longest side in px, apart from the run size (0: the run size). --style-size sets it on styles.',
    },
    scale: {
      kind: 'number',
      default: 0,
      min: 0,
      max: 8,
      step: 0.05,
      label: 'scale to run size',
      description: 'The longest side as a fraction of the run size, where size is 0 (0: the run size). --style-scale.',
    },
  },
  roles: { source: { kind: 'image', param: 'source', slot: 'slot' } },
  infer: (ctx) => {
    const known = ctx.imageSize?.(ctx.params.source);
    const px = pictureSize(ctx.size, ctx.params.size, ctx.params.scale);
    const [h, w] = known ? fitSize(known[0], known[1], px) : [px, px];
    return { image: { shape: [1, h, w, 3] } };
  },
  compute: async (ctx) => ({
    image: await ctx.loadImage(ctx.params.source, pictureSize(ctx.size, ctx.params.size, ctx.params.scale)),
  }),
});
