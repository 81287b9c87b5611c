import { modulate } from '../src/models/microast';
import { defineNodeType } from '../src/plugin/types';
import {
  connectedPart,
  featureShape,
  microModelInput,
  microModulatorWeights,
  microSeedParam,
} from './microast-weights';
import { describeNetwork, weightsParam } from './weights';

type T4 = Parameters<typeof modulate>[1];

/**
 * MicroAST's modulator: turns each level of the style features into a filter weight and a filter bias per channel
 * (a depthwise 3x3 conv averaged over all positions), which scale the decoder's residual blocks.
 */
export default defineNodeType({
  type: 'microast-modulator',
  title: 'MicroAST modulator',
  category: 'Style statistics',
  description:
    "Filter modulation signals from the style: for each level, one depthwise 3x3 conv averaged over positions gives a weight per channel and another a bias. Level 2's modulate the decoder's first residual block (dec1), level 1's its second (dec2).",
  inputs: {
    level1: { type: 'Features', label: 'style level 1' },
    level2: { type: 'Features', label: 'style level 2' },
    model: microModelInput,
  },
  outputs: {
    weight1: { type: 'Stats', label: 'weight (level 1)' },
    bias1: { type: 'Stats', label: 'bias (level 1)' },
    weight2: { type: 'Stats', label: 'weight (level 2)' },
    bias2: { type: 'Stats', label: 'bias (level 2)' },
  },
  params: { weights: weightsParam('microast-modulator'), seed: microSeedParam },
  infer: (ctx) => {
    const [b] = featureShape(ctx, 'level1');
    featureShape(ctx, 'level2');
    const info = () => ({ shape: [b, 1, 1, 64] });
    return { weight1: info(), bias1: info(), weight2: info(), bias2: info() };
  },
  flops: (ctx) => {
    // Four depthwise 3x3 convs over 64 channels, two per level.
    const [b, h1, w1] = featureShape(ctx, 'level1');
    const [, h2, w2] = featureShape(ctx, 'level2');
    return b * 2 * 2 * 9 * 64 * (h1 * w1 + h2 * w2);
  },
  compute: (ctx) => {
    const trained = connectedPart(ctx, 'modulator');
    const m = ctx.tf.tidy(() =>
      modulate(
        ctx.tf,
        ctx.inputs.level1 as T4,
        ctx.inputs.level2 as T4,
        trained ? trained.modulator() : microModulatorWeights(ctx),
      ),
    );
    return { ...m };
  },
  checkpoint: (p) => p.weights,
  describeWeights: (p, services, connected) =>
    connected.has('model')
      ? 'MicroAST modulator: the connected model'
      : describeNetwork(services, 'MicroAST modulator', p.weights, p.seed),
});
