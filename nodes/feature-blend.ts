import { defineNodeType, type ValueInfo } from '../src/plugin/types';
import { addMany } from '../src/ops/sum';

function parseWeights(text: string, count: number): number[] {
  const w = text.split(',').map((s) => Number(s.trim()));
  if (w.some((x) => !Number.isFinite(x))) throw new Error(`weights "${text}" are not all numbers`);
  if (w.length !== count)
    throw new Error(`${count} features are connected but ${w.length} weights are given ("${text}")`);
  const sum = w.reduce((a, b) => a + b, 0);
  if (sum === 0) throw new Error('the weights add up to 0');
  return w.map((x) => x / sum);
}

/** sum_k w_k F_k with the weights normalised to sum to 1: AdaIN's style interpolation over K styles. */
export default defineNodeType({
  type: 'blend',
  title: 'Feature blend',
  category: 'Style statistics',
  inputs: { features: { type: 'Features', multiple: true } },
  outputs: { features: { type: 'Features' } },
  params: {
    weights: {
      kind: 'string',
      default: '1, 1',
      description: 'One weight per connected input, in connection order; normalised to sum to 1.',
    },
  },
  infer: (ctx) => {
    const inputs = (ctx.inputs.features ?? []) as ValueInfo[];
    if (!inputs.length) throw new Error('connect at least one Features input');
    parseWeights(ctx.params.weights, inputs.length);
    const shape = inputs[0]!.shape.join('x');
    const bad = inputs.find((i) => i.shape.join('x') !== shape);
    if (bad) throw new Error(`all inputs need the same shape: ${shape} and ${bad.shape.join('x')}`);
    return { features: { shape: [...inputs[0]!.shape], layer: inputs[0]!.layer } };
  },
  compute: ({ tf, inputs, params }) => {
    const list = inputs.features as ReturnType<typeof tf.zeros>[];
    const w = parseWeights(params.weights, list.length);
    return {
      features: tf.tidy(() =>
        addMany(
          tf,
          list.map((f, i) => tf.mul(f, w[i]!)),
        ),
      ),
    };
  },
});
