import { mulberry32, seedFor } from '../src/models/random';
import { defineNodeType } from '../src/plugin/types';

type Tensor = ReturnType<typeof import('@tensorflow/tfjs').zeros>;

/**
 * Training images: every PNG or JPEG in a folder, resized to a square of the run size (as the AdaIN
 * and SANet training code resizes to 512x512), served as a new seeded random batch at every step.
 */
export default defineNodeType({
  type: 'image-folder',
  title: 'Image folder (batches)',
  category: 'Inputs',
  role: 'stream',
  inputs: {},
  outputs: { images: { type: 'Image', label: 'batch' } },
  params: {
    folder: {
      kind: 'string',
      default: 'images',
      description: 'A folder of PNG or JPEG files, relative to the graph file.',
    },
    batch: { kind: 'integer', default: 4, min: 1, max: 64 },
    seed: { kind: 'integer', default: 0, min: 0 },
    order: {
      kind: 'enum',
      default: 'random',
      options: ['random', 'sequential'],
      description: 'random: a seeded random batch each step; sequential: the files in name order, cycling.',
    },
  },
  roles: { source: { kind: 'folder', param: 'folder' } },
  infer: (ctx) => ({ images: { shape: [ctx.params.batch, ctx.size, ctx.size, 3] } }),
  load: async ({ tf, size, params, listImages, loadImage }) => {
    if (!listImages) throw new Error('this host cannot read folders (use the command line)');
    const files = await listImages(params.folder);
    if (!files.length) throw new Error(`no PNG or JPEG files in ${params.folder}`);
    const images: Tensor[] = [];
    for (const f of files) {
      const img = await loadImage(f, size);
      images.push(
        tf.tidy(() =>
          tf.image.resizeBilinear(img as Parameters<typeof tf.image.resizeBilinear>[0], [size, size], true),
        ),
      );
      img.dispose();
    }
    const all = tf.concat(images, 0);
    tf.dispose(images);
    return { all, dispose: () => all.dispose() };
  },
  compute: ({ tf, params, state, step }) => {
    const { all } = state as { all: Tensor };
    const rand = mulberry32(seedFor(params.seed, `batch ${step}`));
    const n = all.shape[0]!;
    const b = params.batch;
    const indices = Array.from({ length: b }, (_, i) =>
      params.order === 'sequential' ? (step * b + i) % n : Math.floor(rand() * n),
    );
    return { images: tf.gather(all, indices) };
  },
});
