import {
  MICROAST_PARTS,
  trainableMicroDecoder,
  trainableMicroEncoder,
  trainableModulator,
  type MicroastModel,
  type MicroastPart,
} from '../src/models/microast-trainable';
import { defineNodeType } from '../src/plugin/types';
import { microDecoderWeights, microEncoderWeights, microModulatorWeights, microSeedParam } from './microast-weights';
import { describeNetwork } from './weights';

/** The checkpoint a part reads: the parameter, or the official one's manifest name for `auto`. */
export const microastCheckpoint = (p: { part: MicroastPart; weights: string }): string =>
  p.weights === 'auto' ? `microast-${p.part}` : p.weights;

/**
 * One of MicroAST's four parts with weights a Trainer updates (the official train_microAST.py trains all four with one
 * Adam): connect it to the part's model input (the decoder's to both residual blocks and the decoder node), the
 * Trainer and Save weights. It starts from the part's checkpoint where it is loaded, else from seeded random weights;
 * the saved state dict has the official module's names, so `--weights microast-PART=trained.safetensors` runs it.
 */
export default defineNodeType({
  type: 'microast-model',
  title: 'MicroAST weights (trainable)',
  category: 'Models',
  role: 'variable',
  description:
    'A MicroAST part (content encoder, style encoder, modulator or decoder) updated by a Trainer, starting from its checkpoint or seeded random weights; saved with the official state-dict names.',
  inputs: {},
  outputs: { model: { type: 'Model' } },
  params: {
    part: {
      kind: 'enum',
      default: 'decoder',
      options: MICROAST_PARTS,
      description: "Which part: connect it to that node's model input.",
    },
    weights: {
      kind: 'string',
      default: 'auto',
      label: 'weights',
      description:
        'Checkpoint to start from; auto: the official part (microast-PART). Seeded random weights where it is not loaded.',
    },
    seed: microSeedParam,
  },
  infer: () => ({ model: { shape: [] } }),
  compute: (ctx) => {
    const { tf, params } = ctx;
    const named = { ...ctx, params: { weights: microastCheckpoint(params), seed: params.seed } };
    const p = params.part;
    const model: MicroastModel =
      p === 'content-encoder' || p === 'style-encoder'
        ? trainableMicroEncoder(
            tf,
            ctx.nodeId,
            p,
            microEncoderWeights(named, p === 'content-encoder' ? 'content' : 'style'),
          )
        : p === 'modulator'
          ? trainableModulator(tf, ctx.nodeId, microModulatorWeights(named))
          : trainableMicroDecoder(tf, ctx.nodeId, microDecoderWeights(named));
    return { model };
  },
  checkpoint: (p) => microastCheckpoint(p),
  describeWeights: (p, services) =>
    describeNetwork(services, `MicroAST ${p.part} (trainable)`, microastCheckpoint(p), p.seed),
});
