import { vgg19FromStateDict, vgg19Widths } from '../src/models/checkpoints';
import { defineNodeType, defineParams, type ComputeServices, type ParamsOf } from '../src/plugin/types';
import { tapOutputs } from './shared';
import { describeNetwork, networkWeights } from './weights';
import { PADDINGS, type Padding } from '../src/ops/pad';
import {
  defaultPadding,
  VGG19_LAYERS,
  VGG19_LAYER_NAMES,
  VGG19_VARIANTS,
  deepestTap,
  forwardFlops,
  randomVgg19Weights,
  tapShape,
  vgg19Forward,
  vgg19Tiling,
  type Vgg19Variant,
  type Vgg19Weights,
} from '../src/models/vgg19';

const params = defineParams({
  taps: { kind: 'layers', default: ['relu4_1'], layers: VGG19_LAYER_NAMES, minItems: 1, label: 'layer taps' },
  variant: {
    kind: 'enum',
    default: 'torchvision',
    options: VGG19_VARIANTS,
    description:
      'torchvision: RGB, ImageNet mean/std; caffe: BGR 0-255 minus mean; normalised: AdaIN/SANet vgg_normalised (1x1 conv, reflection padding).',
  },
  pooling: { kind: 'enum', default: 'max', options: ['max', 'avg'] },
  weights: {
    kind: 'string',
    default: 'auto',
    label: 'weights',
    description:
      'Checkpoint name; auto: vgg19, vgg19-caffe or vgg_normalised by variant. Seeded random weights until it is loaded.',
  },
  seed: {
    kind: 'integer',
    default: 0,
    min: 0,
    description: 'Seed of the random weights used until pretrained weights are loaded.',
  },
  padding: {
    kind: 'enum',
    default: 'auto',
    options: ['auto', ...PADDINGS],
    description:
      "What the convs see past the image's edges. auto: the variant's own (reflect for normalised, zero otherwise); circular: the opposite edge, so an image optimised through it tiles without a seam (sizes divisible by 16 for taps up to relu5_1).",
  },
});
type Params = ParamsOf<typeof params>;

/**
 * Why a picture is too small for the deepest tap, or null: every conv up to it needs at least 1x1 features, and 2x2
 * with reflection padding (a 1-px pad of a 1-px map has nothing to mirror; a circular one wraps the pixel round).
 */
export function tooSmall(
  list: readonly string[],
  image: readonly number[],
  variant: Vgg19Variant,
  padding: Padding,
): string | null {
  const deepest = deepestTap(list);
  const need = padding === 'reflect' ? 2 : 1;
  for (const l of VGG19_LAYERS.slice(0, VGG19_LAYER_NAMES.indexOf(deepest) + 1)) {
    if (l.kind !== 'conv') continue;
    const [, h, w] = tapShape(l.name, image, variant);
    if (Math.min(h!, w!) >= need) continue;
    let px = need;
    while (Math.min(...tapShape(l.name, [1, px, px, 3], variant).slice(1, 3)) < need) px++;
    return (
      `the picture (${image[2]}x${image[1]} px) is too small for ${deepest}: ${l.name} would work on ${w}x${h} ` +
      `features${need === 1 ? '' : ` and its reflection padding needs ${need}x${need}`}; ` +
      `give it at least ${px} px on its shorter side (a style's own size: --style-size ${px})`
    );
  }
  return null;
}

/** The padding the convs use: the parameter, or the variant's own. */
const paddingOf = (p: Params): Padding => (p.padding === 'auto' ? defaultPadding(p.variant) : p.padding);

const taps = (p: Params) => p.taps;
/** The checkpoint name: the parameter, or the usual one for the variant. */
const DEFAULT_WEIGHTS: Record<Vgg19Variant, string> = {
  torchvision: 'vgg19',
  caffe: 'vgg19-caffe',
  normalised: 'vgg_normalised',
};
const weightsName = (p: Params) => (p.weights === 'auto' ? DEFAULT_WEIGHTS[p.variant] : p.weights);

function weightsFor(p: Params, services: ComputeServices): Vgg19Weights {
  const { tf } = services;
  return networkWeights(
    services,
    `vgg19/${p.variant}`,
    weightsName(p),
    p.seed,
    (c) => vgg19FromStateDict(tf, c.tensors, p.variant, `${c.name} (${c.source})`),
    () => randomVgg19Weights(tf, p.variant, p.seed),
  );
}

/**
 * VGG19's feature extractor with one output per tapped layer. Encoders with the same settings reading
 * the same image share one forward pass, which stops at the deepest tap.
 */
export default defineNodeType({
  type: 'vgg19',
  title: 'VGG19 encoder',
  category: 'Encoders',
  description: 'Tap conv (pre-ReLU) or relu outputs; average pooling suits image synthesis (Gatys et al.).',
  inputs: { image: { type: 'Image' } },
  outputs: (p) => tapOutputs(taps(p)),
  params,
  roles: { encoder: { image: 'image', taps: 'taps' } },
  infer: (ctx) => {
    const image = ctx.inputs.image;
    if (!image || Array.isArray(image)) throw new Error('input "image" is not connected');
    const small = tooSmall(taps(ctx.params), image.shape, ctx.params.variant, paddingOf(ctx.params));
    if (small) throw new Error(small);
    // A loaded checkpoint of other widths (reduced-width) sets the channels the taps will have.
    const shapes = ctx.checkpointShapes?.(weightsName(ctx.params));
    const widths = shapes ? vgg19Widths(shapes, ctx.params.variant) : undefined;
    return Object.fromEntries(
      taps(ctx.params).map((t) => {
        const shape = tapShape(t, image.shape, ctx.params.variant);
        return [t, { shape: [...shape.slice(0, 3), widths?.get(t) ?? shape[3]!], layer: t }];
      }),
    );
  },
  shared: {
    // The variant's own padding keeps the key it always had (memos and shared passes of older documents).
    key: (p) =>
      `vgg19/${p.variant}/${p.pooling}/${weightsName(p)}/${p.seed}` +
      (paddingOf(p) === defaultPadding(p.variant) ? '' : `/${paddingOf(p)}`),
    taps,
    tapInfo: (tap, image, p) => ({ shape: tapShape(tap, image, p.variant), layer: tap }),
    cost(list, image, p) {
      const deepest = VGG19_LAYER_NAMES.indexOf(deepestTap(list));
      let activations = 0;
      let weights = 0;
      for (const l of VGG19_LAYERS.slice(0, deepest + 1)) {
        activations += tapShape(l.name, image, p.variant).reduce((a, b) => a * b, 1) * 4;
        if (l.kind === 'conv') weights += (9 * l.cin * l.cout * 2 + l.cout) * 4;
      }
      return {
        flops: forwardFlops(deepestTap(list), image, p.variant),
        // Every VGG19 conv is 3x3 at stride 1 (the normalised variant's 1x1 input conv is not counted in flops).
        winogradFlops: forwardFlops(deepestTap(list), image, p.variant),
        activationBytes: activations,
        weightBytes: weights,
      };
    },
    // Circular padding wraps the whole image: a tile's halo would wrap the tile instead.
    tiling: (list, p) => (paddingOf(p) === 'circular' ? undefined : vgg19Tiling(list)),
    run: (image, list, p, services) =>
      vgg19Forward(
        services.tf,
        image as Parameters<typeof vgg19Forward>[1],
        list,
        weightsFor(p, services),
        p.pooling,
        paddingOf(p),
      ),
  },
  checkpoint: (p) => weightsName(p),
  describeWeights: (p, services) => describeNetwork(services, `VGG19 ${p.variant}`, weightsName(p), p.seed),
});
