import { defineNodeType } from '../src/plugin/types';
import { resizeTo } from '../src/ops/image';

/**
 * The image an optimiser changes. Its size is the content image's; it starts as noise, the content, the style, or
 * any picture wired to `start` (resized to the content's size).
 */
export default defineNodeType({
  type: 'variable',
  title: 'Image variable',
  category: 'Optimisation',
  role: 'variable',
  inputs: {
    content: { type: 'Image' },
    style: { type: 'Image', optional: true },
    start: { type: 'Image', optional: true, label: 'start from (init: image)' },
  },
  outputs: { image: { type: 'Image' } },
  params: {
    init: {
      kind: 'enum',
      default: 'noise',
      options: ['noise', 'content', 'style', 'image'],
      description:
        'noise: white noise as in the paper; content: start from the photo (faster, keeps layout); style: start from the painting; image: start from the picture wired to "start" (an earlier result, a sketch, another photo).',
    },
  },
  infer: (ctx) => {
    const c = ctx.inputs.content;
    if (!c || Array.isArray(c)) throw new Error('input "content" is not connected');
    if (ctx.params.init === 'style' && !ctx.inputs.style)
      throw new Error('init is "style" but the style input is not connected');
    if (ctx.params.init === 'image' && !ctx.inputs.start)
      throw new Error('init is "image" but no picture is connected to "start"');
    return { image: { shape: [...c.shape] } };
  },
  compute: (ctx) => {
    const { tf } = ctx;
    const shape = ctx.outputInfo.image!.shape;
    const content = ctx.inputs.content as ReturnType<typeof tf.zeros>;
    switch (ctx.params.init) {
      case 'content':
        return { image: tf.clone(content) };
      case 'style':
        return { image: resizeTo(tf, ctx.inputs.style as ReturnType<typeof tf.zeros>, shape[1]!, shape[2]!) };
      case 'image':
        return { image: resizeTo(tf, ctx.inputs.start as ReturnType<typeof tf.zeros>, shape[1]!, shape[2]!) };
      default:
        return { image: tf.randomUniform(shape, 0, 1, 'float32', ctx.seed) };
    }
  },
});
