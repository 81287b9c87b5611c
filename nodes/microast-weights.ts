import {
  encodedSize,
  encoderFlops,
  microDecoderFromStateDict,
  microEncode,
  microEncoderFromStateDict,
  modulatorFromStateDict,
  randomMicroDecoder,
  randomMicroEncoder,
  randomModulator,
  type MicroDecoderWeights,
  type MicroEncoderWeights,
  type ModulatorWeights,
} from '../src/models/microast';
import type { MicroastModel, MicroastPart } from '../src/models/microast-trainable';
import { defineNodeType, type ComputeServices } from '../src/plugin/types';
import { inputInfo, paddingParam } from './shared';
import { describeNetwork, networkWeights, weightsParam } from './weights';

/**
 * MicroAST's parts (Wang et al., AAAI 2023; the network in src/models/microast.ts): the weights each node type reads,
 * and the two encoders, which share one architecture and differ only in their checkpoints.
 */

export const microSeedParam = {
  kind: 'integer',
  default: 0,
  min: 0,
  description: 'Seed of the random weights used until the checkpoint is loaded.',
} as const;

type WeightsContext = ComputeServices & { params: { weights: string; seed: number } };

/** The optional input of a trainable part's weights (a MicroAST weights (trainable) node). */
export const microModelInput = { type: 'Model', optional: true, label: 'weights' } as const;

/** The part connected to a node's model input, checked to be the part the node runs; undefined when none is. */
export function connectedPart<P extends MicroastPart>(
  ctx: { inputs: Record<string, unknown> },
  part: P,
): Extract<MicroastModel, { part: P }> | undefined {
  const m = ctx.inputs.model as MicroastModel | undefined;
  if (!m) return undefined;
  if (m.part !== part)
    throw new Error(`the connected trainable weights are MicroAST's ${m.part}, this node needs the ${part}`);
  return m as Extract<MicroastModel, { part: P }>;
}

export function microEncoderWeights(ctx: WeightsContext, role: 'content' | 'style'): MicroEncoderWeights {
  const { tf } = ctx;
  return networkWeights(
    ctx,
    `microast/${role}-encoder`,
    ctx.params.weights,
    ctx.params.seed,
    (c) => microEncoderFromStateDict(tf, c.tensors, `${c.name} (${c.source})`),
    () => randomMicroEncoder(tf, ctx.params.seed, `${role}-encoder`),
  );
}

export function microModulatorWeights(ctx: WeightsContext): ModulatorWeights {
  const { tf } = ctx;
  return networkWeights(
    ctx,
    'microast/modulator',
    ctx.params.weights,
    ctx.params.seed,
    (c) => modulatorFromStateDict(tf, c.tensors, `${c.name} (${c.source})`),
    () => randomModulator(tf, ctx.params.seed),
  );
}

/** The whole decoder checkpoint, read once and shared by the residual-block nodes and the upsampling decoder node. */
export function microDecoderWeights(ctx: WeightsContext): MicroDecoderWeights {
  const { tf } = ctx;
  return networkWeights(
    ctx,
    'microast/decoder',
    ctx.params.weights,
    ctx.params.seed,
    (c) => microDecoderFromStateDict(tf, c.tensors, `${c.name} (${c.source})`),
    () => randomMicroDecoder(tf, ctx.params.seed),
  );
}

/** [b, h, w, c] of a Features input, or an error naming the socket. */
export function featureShape(
  ctx: Parameters<typeof inputInfo>[0],
  name: string,
  channels = 64,
): [number, number, number, number] {
  const s = inputInfo(ctx, name).shape;
  if (s.length !== 4) throw new Error(`input "${name}" should be features [1, H, W, ${channels}], got ${s.join('x')}`);
  if (s[3] !== channels)
    throw new Error(
      `input "${name}" has ${s[3]} channels; MicroAST's features have ${channels} (connect a MicroAST encoder's level)`,
    );
  return s as [number, number, number, number];
}

/** A micro encoder node: the content and the style encoder are this with their own names and checkpoints. */
export function microEncoderNode(type: string, role: 'content' | 'style', description: string) {
  const title = role === 'content' ? 'MicroAST content encoder' : 'MicroAST style encoder';
  return defineNodeType({
    type,
    title,
    category: 'Encoders',
    description,
    inputs: { image: { type: 'Image' }, model: microModelInput },
    outputs: {
      level1: { type: 'Features', label: 'level 1 (enc1)' },
      level2: { type: 'Features', label: 'level 2 (enc2)' },
    },
    params: {
      weights: weightsParam(`microast-${role}-encoder`),
      seed: microSeedParam,
      padding: paddingParam('reflect'),
    },
    infer: (ctx) => {
      const s = inputInfo(ctx, 'image').shape;
      if (s.length !== 4 || s[3] !== 3) throw new Error(`input "image" should be an RGB image, got ${s.join('x')}`);
      const shape = [s[0]!, encodedSize(s[1]!), encodedSize(s[2]!), 64];
      return { level1: { shape, layer: 'level1' }, level2: { shape: [...shape], layer: 'level2' } };
    },
    flops: (ctx) => {
      const [b, h, w] = inputInfo(ctx, 'image').shape as [number, number, number];
      return b * encoderFlops(h, w);
    },
    compute: (ctx) => {
      const image = ctx.inputs.image as Parameters<typeof microEncode>[1];
      const trained = connectedPart(ctx, `${role}-encoder`);
      // A trainable part's dense kernels are made from its variables in this pass: the tidy frees them.
      const { level1, level2 } = ctx.tf.tidy(() =>
        microEncode(ctx.tf, image, trained ? trained.encoder() : microEncoderWeights(ctx, role), ctx.params.padding),
      );
      return { level1, level2 };
    },
    checkpoint: (p) => p.weights,
    describeWeights: (p, services, connected) =>
      connected.has('model') ? `${title}: the connected model` : describeNetwork(services, title, p.weights, p.seed),
  });
}
