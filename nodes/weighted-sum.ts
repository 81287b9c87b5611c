import { defineNodeType } from '../src/plugin/types';
import { SCALAR, weightParam } from './shared';
import { addMany } from '../src/ops/sum';

/** weight * (sum of the connected terms). Nest sums to weight groups of terms (all style layers by beta). */
export default defineNodeType({
  type: 'sum',
  title: 'Weighted sum',
  category: 'Losses',
  inputs: { terms: { type: 'Scalar', multiple: true } },
  outputs: { total: { type: 'Scalar' } },
  params: { weight: weightParam(1, 'Multiplies the sum.') },
  roles: { sum: { terms: 'terms', weight: 'weight' } },
  infer: () => ({ total: SCALAR }),
  compute: (ctx) => {
    const { tf } = ctx;
    const terms = (ctx.inputs.terms ?? []) as ReturnType<typeof tf.scalar>[];
    return { total: tf.tidy(() => tf.mul(terms.length ? addMany(tf, terms) : tf.scalar(0), ctx.params.weight)) };
  },
});
