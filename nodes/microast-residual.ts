import { modulatedResidual, residualFlops } from '../src/models/microast';
import { defineNodeType, type Tensor } from '../src/plugin/types';
import { connectedPart, featureShape, microDecoderWeights, microModelInput, microSeedParam } from './microast-weights';
import { inputInfo, paddingParam } from './shared';
import { describeNetwork, weightsParam } from './weights';

type T4 = Parameters<typeof modulatedResidual>[1];

/**
 * One of the two residual blocks at the start of MicroAST's decoder (dec1, dec2), with the paper's filter
 * modulation. A node of its own so that the second AdaIN, which sits between them, shows in the graph.
 */
export default defineNodeType({
  type: 'microast-residual',
  title: 'MicroAST modulated residual block',
  category: 'Decoders',
  description:
    "A residual block of MicroAST's decoder whose convs are modulated by the style: each conv's output y of input x becomes w*y + b*x (w, b: the modulator's per-channel weight and bias), and the block adds its input. dec1 reads the first AdaIN's output with level 2's signals; dec2 reads the second AdaIN's with level 1's. Its weights are part of the decoder checkpoint.",
  inputs: {
    features: { type: 'Features' },
    weight: { type: 'Stats', label: 'filter weight' },
    bias: { type: 'Stats', label: 'filter bias' },
    model: microModelInput,
  },
  outputs: { features: { type: 'Features' } },
  params: {
    block: {
      kind: 'enum',
      default: 'dec1',
      options: ['dec1', 'dec2'],
      description: "Which of the decoder's two modulated residual blocks this is.",
    },
    weights: weightsParam('microast-decoder'),
    seed: microSeedParam,
    padding: paddingParam('reflect'),
  },
  infer: (ctx) => {
    const shape = featureShape(ctx, 'features');
    for (const name of ['weight', 'bias']) {
      const s = inputInfo(ctx, name).shape;
      if (s.at(-1) !== shape[3] || s.length !== 4 || s[1] !== 1 || s[2] !== 1)
        throw new Error(
          `input "${name}" should be [1, 1, 1, ${shape[3]}] (a MicroAST modulator output), got ${s.join('x')}`,
        );
    }
    return { features: { shape: [...shape], layer: ctx.params.block } };
  },
  flops: (ctx) => {
    const [b, h, w] = featureShape(ctx, 'features');
    return b * residualFlops(h, w);
  },
  compute: (ctx) => {
    const trained = connectedPart(ctx, 'decoder');
    const out: Tensor = ctx.tf.tidy(() => {
      const d = trained ? trained.decoder() : microDecoderWeights(ctx);
      return modulatedResidual(
        ctx.tf,
        ctx.inputs.features as T4,
        ctx.params.block === 'dec1' ? d.dec1 : d.dec2,
        ctx.inputs.weight as Tensor,
        ctx.inputs.bias as Tensor,
        ctx.params.padding,
      );
    });
    return { features: out };
  },
  checkpoint: (p) => p.weights,
  describeWeights: (p, services, connected) =>
    connected.has('model')
      ? `MicroAST decoder (${p.block}): the connected model`
      : describeNetwork(services, `MicroAST decoder (${p.block})`, p.weights, p.seed),
});
