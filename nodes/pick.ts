import { defineNodeType } from '../src/plugin/types';
import { inputInfo, inputTensor } from './shared';

const CHOICES = ['a', 'b', 'c'] as const;

/**
 * Passes one of up to three images on: an A/B(/C) switch for comparing methods on one photo. A sweep over `pick`
 * lays the methods out side by side (presets/lesson-one-pass-methods.json); every connected branch is computed.
 */
export default defineNodeType({
  type: 'pick',
  title: 'Pick image (A/B/C)',
  category: 'Image ops',
  inputs: {
    a: { type: 'Image' },
    b: { type: 'Image', optional: true },
    c: { type: 'Image', optional: true },
  },
  outputs: { image: { type: 'Image' } },
  params: {
    pick: {
      kind: 'enum',
      default: 'a',
      options: [...CHOICES],
      description: 'Which input goes on: a, b or c (one that is connected).',
    },
  },
  infer: (ctx) => {
    const which = ctx.params.pick;
    if (!ctx.inputs[which]) throw new Error(`pick is "${which}" but input ${which} is not connected`);
    return { image: { shape: [...inputInfo(ctx, which).shape] } };
  },
  // A copy (tfjs shares the data): the executor owns each node's outputs apart from its inputs.
  compute: (ctx) => ({ image: ctx.tf.clone(inputTensor(ctx, ctx.params.pick)) }),
});
