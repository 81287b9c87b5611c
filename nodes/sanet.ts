import { sanetTransform } from '../src/models/sanet';
import { defineNodeType } from '../src/plugin/types';
import { sanetWeights, type SanetModel } from './models';
import { inputInfo } from './shared';
import { describeNetwork, weightsParam } from './weights';

type T4 = Parameters<typeof sanetTransform>[1];

/**
 * SANet's style-attentional transform (Park & Lee 2019): one SANet on relu4_1 and one on relu5_1,
 * the second upsampled and added, then a 3x3 merge conv. The result feeds the decoder.
 */
export default defineNodeType({
  type: 'sanet',
  title: 'SANet',
  category: 'Style statistics',
  description:
    'Content sizes that are multiples of 16 match the reference; other sizes resize relu5_1 to relu4_1 (nearest).',
  inputs: {
    content4_1: { type: 'Features', label: 'content relu4_1' },
    style4_1: { type: 'Features', label: 'style relu4_1' },
    content5_1: { type: 'Features', label: 'content relu5_1' },
    style5_1: { type: 'Features', label: 'style relu5_1' },
    model: { type: 'Model', optional: true, label: 'trained weights' },
  },
  outputs: { features: { type: 'Features' } },
  params: {
    weights: weightsParam('sanet-transformer'),
    seed: { kind: 'integer', default: 0, min: 0 },
    chunk: {
      kind: 'integer',
      default: 1024,
      min: 1,
      description: 'Content positions per attention block: memory is chunk x style positions.',
    },
  },
  infer: (ctx) => {
    const c4 = inputInfo(ctx, 'content4_1');
    for (const n of ['style4_1', 'content5_1', 'style5_1'])
      if (inputInfo(ctx, n).shape.at(-1) !== c4.shape.at(-1))
        throw new Error(`${n} has ${inputInfo(ctx, n).shape.at(-1)} channels, content4_1 has ${c4.shape.at(-1)}`);
    return { features: { shape: [...c4.shape], layer: 'sanet' } };
  },
  flops: (ctx) => {
    const [c4, s4, c5, s5] = ['content4_1', 'style4_1', 'content5_1', 'style5_1'].map((n) => inputInfo(ctx, n).shape);
    const pos = (s: number[]) => s[1]! * s[2]!;
    const c = c4![3]!;
    const attention = (a: number[], b: number[]) => 2 * pos(a) * pos(b) * c * 2 + 2 * c * c * (3 * pos(a) + pos(b));
    return attention(c4!, s4!) + attention(c5!, s5!) + 2 * 9 * c * c * pos(c4!);
  },
  compute: (ctx) => {
    const { tf, inputs } = ctx;
    const c4 = inputs.content4_1 as T4;
    const model = inputs.model as SanetModel | undefined;
    const weights = model ? model.sanet : sanetWeights(ctx, c4.shape[3]);
    return {
      features: sanetTransform(
        tf,
        c4,
        inputs.style4_1 as T4,
        inputs.content5_1 as T4,
        inputs.style5_1 as T4,
        weights,
        ctx.params.chunk,
      ),
    };
  },
  checkpoint: (p) => p.weights,
  describeWeights: (p, services, connected) =>
    connected.has('model')
      ? 'SANet transformer: the connected model'
      : describeNetwork(services, 'SANet transformer', p.weights, p.seed),
});
