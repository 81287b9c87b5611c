import { trainableFastStyle, type FastStyleModel } from '../src/models/fast-style-trainable';
import { defineNodeType } from '../src/plugin/types';
import { FAST_STYLE_NETWORKS, fastStyleCheckpoint, fastStyleWeights } from './fast-style';
import { describeNetwork } from './weights';

/**
 * A fast style network whose weights a Trainer updates (Johnson et al. 2016): connect it to a Fast style network
 * node's model input, the Trainer and Save weights. It starts from the picked network's checkpoint where it is loaded
 * (fine-tuning), else from seeded random weights; the saved state dict has ml5's variable names and shapes, so
 * `--weights fast-style-NAME=trained.safetensors` runs it in presets/fast-style.json.
 */
export default defineNodeType({
  type: 'fast-style-model',
  title: 'Fast style weights (trainable)',
  category: 'Models',
  role: 'variable',
  description:
    "Starts from the picked network (checkpoint fast-style-NAME) or seeded random weights and is updated by a Trainer; saved with ml5's variable names (Variable .. Variable_47).",
  inputs: {},
  outputs: { model: { type: 'Model' } },
  params: {
    network: {
      kind: 'enum',
      default: 'wave',
      options: FAST_STYLE_NETWORKS,
      label: 'start from',
      description: 'The network fine-tuned (checkpoint fast-style-NAME); seeded random weights where it is not loaded.',
    },
    seed: { kind: 'integer', default: 0, min: 0, description: 'Seed of the random starting weights.' },
  },
  infer: () => ({ model: { shape: [] } }),
  compute: (ctx) => {
    const model: FastStyleModel = trainableFastStyle(
      ctx.tf,
      ctx.nodeId,
      fastStyleWeights(ctx, ctx.params.network, ctx.params.seed),
    );
    return { model };
  },
  checkpoint: (p) => fastStyleCheckpoint(p.network),
  describeWeights: (p, services) =>
    describeNetwork(services, 'Fast style network (trainable)', fastStyleCheckpoint(p.network), p.seed),
});
