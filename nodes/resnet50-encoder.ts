import {
  RESNET50_TAPS,
  randomResnetStateDict,
  resnet50Forward,
  resnetFlops,
  resnetFromStateDict,
  resnetTapShape,
  type ResNet50Weights,
} from '../src/models/resnet50';
import { defineNodeType, defineParams, type ComputeServices, type ParamsOf } from '../src/plugin/types';
import { tapOutputs } from './shared';
import { describeNetwork, networkWeights } from './weights';

const params = defineParams({
  taps: { kind: 'layers', default: ['layer1'], layers: RESNET50_TAPS, minItems: 1, label: 'layer taps' },
  weights: {
    kind: 'string',
    default: 'resnet50',
    label: 'weights',
    description: 'Checkpoint name. Seeded random weights until it is loaded.',
  },
  seed: { kind: 'integer', default: 0, min: 0 },
});
type Params = ParamsOf<typeof params>;

const taps = (p: Params) => p.taps;
const deepest = (list: string[]) => RESNET50_TAPS.filter((t) => list.includes(t)).at(-1)!;

function weightsFor(p: Params, services: ComputeServices): ResNet50Weights {
  const { tf } = services;
  return networkWeights(
    services,
    'resnet50',
    p.weights,
    p.seed,
    (c) => resnetFromStateDict(tf, c.tensors, `${c.name} (${c.source})`),
    () => resnetFromStateDict(tf, randomResnetStateDict(p.seed), `random (seed ${p.seed})`),
  );
}

/**
 * torchvision's ResNet50 as an encoder (the PyTorch blog's seed-004 recipe): taps after conv1, after
 * bn1 + relu + maxpool, and after each of the four stages. BatchNorm is folded into the convs at load time.
 */
export default defineNodeType({
  type: 'resnet50',
  title: 'ResNet50 encoder',
  category: 'Encoders',
  description: 'RGB in [0, 1], normalised with the ImageNet mean and std inside the node.',
  inputs: { image: { type: 'Image' } },
  outputs: (p) => tapOutputs(taps(p)),
  params,
  roles: { encoder: { image: 'image', taps: 'taps' } },
  infer: (ctx) => {
    const image = ctx.inputs.image;
    if (!image || Array.isArray(image)) throw new Error('input "image" is not connected');
    return Object.fromEntries(taps(ctx.params).map((t) => [t, { shape: resnetTapShape(t, image.shape), layer: t }]));
  },
  shared: {
    key: (p) => `resnet50/${p.weights}/${p.seed}`,
    taps,
    tapInfo: (tap, image) => ({ shape: resnetTapShape(tap, image), layer: tap }),
    cost(list, image) {
      const end = RESNET50_TAPS.indexOf(deepest(list) as (typeof RESNET50_TAPS)[number]);
      const activations = RESNET50_TAPS.slice(0, end + 1).reduce(
        (a, t) => a + resnetTapShape(t, image).reduce((x, y) => x * y, 1) * 4 * 4,
        0,
      );
      return { flops: resnetFlops(deepest(list), image), activationBytes: activations, weightBytes: 25.5e6 * 4 * 2 };
    },
    run: (image, list, p, services) =>
      resnet50Forward(services.tf, image as Parameters<typeof resnet50Forward>[1], list, weightsFor(p, services)),
  },
  checkpoint: (p) => p.weights,
  describeWeights: (p, services) => describeNetwork(services, 'ResNet50', p.weights, p.seed),
});
