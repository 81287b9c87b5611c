import { defineNodeType } from '../src/plugin/types';
import { SCALAR } from './shared';

/** A constant, e.g. one style weight driving several loss terms. */
export default defineNodeType({
  type: 'scalar',
  title: 'Scalar',
  category: 'Inputs',
  inputs: {},
  outputs: { value: { type: 'Scalar' } },
  params: { value: { kind: 'number', default: 1 } },
  infer: () => ({ value: SCALAR }),
  compute: (ctx) => ({ value: ctx.tf.scalar(ctx.params.value) }),
});
