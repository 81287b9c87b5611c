import {
  fastStyle,
  fastStyleFromStateDict,
  fastStyleMacs,
  randomFastStyle,
  type FastStyleWeights,
} from '../src/models/fast-style';
import type { FastStyleModel } from '../src/models/fast-style-trainable';
import { defineNodeType, type ComputeServices } from '../src/plugin/types';
import { inputInfo, inputTensor } from './shared';
import { describeNetwork, networkWeights } from './weights';

/** The nine networks ml5 publishes (ml5-data-and-models, models/style-transfer/NAME/), each trained on one painting. */
export const FAST_STYLE_NETWORKS = [
  'wave',
  'udnie',
  'la_muse',
  'rain_princess',
  'scream',
  'wreck',
  'mathura',
  'matilde_perez',
  'matta',
] as const;
export type FastStyleNetwork = (typeof FAST_STYLE_NETWORKS)[number];

/** The weights manifest's name of a network's checkpoint folder. */
export const fastStyleCheckpoint = (network: string): string => `fast-style-${network}`;

export function fastStyleWeights(services: ComputeServices, network: string, seed: number): FastStyleWeights {
  const { tf } = services;
  return networkWeights(
    services,
    'fast-style',
    fastStyleCheckpoint(network),
    seed,
    (c) => fastStyleFromStateDict(tf, c.tensors, `${c.name} (${c.source})`),
    () => randomFastStyle(tf, seed),
  );
}

type Image4D = Parameters<typeof fastStyle>[1];

/**
 * Johnson et al.'s fast style transfer (2016): one feed-forward network per painting, trained with a perceptual loss
 * (VGG features and Gram matrices) so that a single pass does what Gatys's optimisation does in hundreds of steps.
 */
export default defineNodeType({
  type: 'fast-style',
  title: 'Fast style network',
  category: 'Decoders',
  description:
    'Johnson et al. (2016): an encoder-decoder trained on one painting. A 9x9 conv and two stride-2 convs encode the ' +
    'photo at a quarter of its size, five residual blocks restyle it there, two transposed convs and a 9x9 conv paint ' +
    'it back, with instance norm after every conv and 150 tanh + 127.5 at the end. One pass, no style image: the ' +
    "painting is in the weights, so pick the network (ml5's published checkpoints; seeded random weights until loaded).",
  inputs: {
    image: { type: 'Image', label: 'photo' },
    model: { type: 'Model', optional: true, label: 'trained weights' },
  },
  outputs: { image: { type: 'Image' } },
  params: {
    network: {
      kind: 'enum',
      default: 'wave',
      options: FAST_STYLE_NETWORKS,
      label: 'painting',
      description:
        "Which trained network (checkpoint fast-style-NAME): Hokusai's wave, Picabia's Udnie, Picasso's La Muse, Afremov's Rain Princess, Munch's Scream, Turner's Wreck, and the Mathura, Matilde Perez and Matta networks.",
    },
    seed: {
      kind: 'integer',
      default: 0,
      min: 0,
      description: 'Seed of the random weights used until the checkpoint is loaded.',
    },
  },
  infer: (ctx) => {
    const { shape } = inputInfo(ctx, 'image');
    return { image: { shape: [...shape] } };
  },
  flops: (ctx) => {
    const [b, h, w] = inputInfo(ctx, 'image').shape as [number, number, number];
    return 2 * b * fastStyleMacs(h, w);
  },
  compute: (ctx) => {
    const image = inputTensor(ctx, 'image') as Image4D;
    const model = ctx.inputs.model as FastStyleModel | undefined;
    // A trained model's transposed convs are made from its variables in this pass: the tidy frees them.
    const out = ctx.tf.tidy(() =>
      fastStyle(ctx.tf, image, model ? model.fastStyle() : fastStyleWeights(ctx, ctx.params.network, ctx.params.seed)),
    );
    return { image: out };
  },
  checkpoint: (p) => fastStyleCheckpoint(p.network),
  describeWeights: (p, services, connected) =>
    connected.has('model')
      ? 'Fast style network: the connected model'
      : describeNetwork(services, `Fast style network (${p.network})`, fastStyleCheckpoint(p.network), p.seed),
});
