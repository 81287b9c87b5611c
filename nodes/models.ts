import { DECODER_CONV_INDICES, decoderFromStateDict, randomDecoder, type DecoderWeights } from '../src/models/adain';
import { randomSanet, sanetFromStateDict, type SANetWeights } from '../src/models/sanet';
import { trainableConvs } from '../src/models/trainable';
import { defineNodeType, type ComputeServices, type ModelHandle } from '../src/plugin/types';
import { describeNetwork, networkWeights, weightsParam } from './weights';

/** A decoder whose weights an optimiser can train; connect it to a Decoder node's model input. */
export type DecoderModel = ModelHandle & { decoder: DecoderWeights };
/** A SANet transformer whose weights an optimiser can train. */
export type SanetModel = ModelHandle & { sanet: SANetWeights };

const channelsParam = {
  kind: 'integer',
  default: 512,
  min: 8,
  description: 'relu4_1 channels (512 for VGG19).',
} as const;
const seedParam = { kind: 'integer', default: 0, min: 0 } as const;

/** The services and the parameters a network's weights come from: a checkpoint name, and the seed of the random fallback. */
type WeightsContext = ComputeServices & { params: { weights: string; seed: number } };

export function decoderWeights(ctx: WeightsContext, channels: number): DecoderWeights {
  const { tf } = ctx;
  return networkWeights(
    ctx,
    `decoder/${channels}`,
    ctx.params.weights,
    ctx.params.seed,
    (c) => decoderFromStateDict(tf, c.tensors, `${c.name} (${c.source})`),
    () => randomDecoder(tf, channels, ctx.params.seed),
  );
}

export function sanetWeights(ctx: WeightsContext, channels: number): SANetWeights {
  const { tf } = ctx;
  return networkWeights(
    ctx,
    `sanet/${channels}`,
    ctx.params.weights,
    ctx.params.seed,
    (c) => sanetFromStateDict(tf, c.tensors, `${c.name} (${c.source})`),
    () => randomSanet(tf, channels, ctx.params.seed),
  );
}

export const decoderModel = defineNodeType({
  type: 'decoder-model',
  title: 'Decoder weights (trainable)',
  category: 'Models',
  role: 'variable',
  description: 'Starts from the named checkpoint (or seeded random weights) and is updated by a Trainer.',
  inputs: {},
  outputs: { model: { type: 'Model' } },
  params: { weights: weightsParam('adain-decoder'), seed: seedParam, channels: channelsParam },
  infer: () => ({ model: { shape: [] } }),
  compute: (ctx) => {
    const base = decoderWeights(ctx, ctx.params.channels);
    const handle = trainableConvs(
      ctx.tf,
      ctx.nodeId,
      base.convs.map((w, i) => ({ key: String(DECODER_CONV_INDICES[i]), w })),
    );
    const model: DecoderModel = {
      ...handle,
      decoder: { source: base.source, convs: handle.convs, dispose: handle.dispose },
    };
    return { model };
  },
  checkpoint: (p) => p.weights,
  describeWeights: (p, services) => describeNetwork(services, 'Decoder (trainable)', p.weights, p.seed),
});

const SANET_PARTS = ['f', 'g', 'h', 'out_conv'] as const;

export const sanetModel = defineNodeType({
  type: 'sanet-model',
  title: 'SANet weights (trainable)',
  category: 'Models',
  role: 'variable',
  inputs: {},
  outputs: { model: { type: 'Model' } },
  params: { weights: weightsParam('sanet-transformer'), seed: seedParam, channels: channelsParam },
  infer: () => ({ model: { shape: [] } }),
  compute: (ctx) => {
    const base = sanetWeights(ctx, ctx.params.channels);
    const convs = (['sanet4_1', 'sanet5_1'] as const).flatMap((m) =>
      SANET_PARTS.map((p) => ({ key: `${m}.${p}`, w: base[m][p === 'out_conv' ? 'out' : p] })),
    );
    const handle = trainableConvs(ctx.tf, ctx.nodeId, [...convs, { key: 'merge_conv', w: base.merge }]);
    const c = handle.convs;
    const module = (o: number) => ({ f: c[o]!, g: c[o + 1]!, h: c[o + 2]!, out: c[o + 3]! });
    const model: SanetModel = {
      ...handle,
      sanet: { source: base.source, sanet4_1: module(0), sanet5_1: module(4), merge: c[8]!, dispose: handle.dispose },
    };
    return { model };
  },
  checkpoint: (p) => p.weights,
  describeWeights: (p, services) => describeNetwork(services, 'SANet transformer (trainable)', p.weights, p.seed),
});
