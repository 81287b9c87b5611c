import { defineNodeType } from '../src/plugin/types';

/** Collects a model's (trained) weights; the CLI writes them as .safetensors in the published checkpoint's names. */
export default defineNodeType({
  type: 'save-weights',
  title: 'Save weights',
  category: 'Outputs',
  role: 'output',
  inputs: { model: { type: 'Model' } },
  outputs: {},
  params: {},
  infer: () => ({}),
  compute: () => ({}),
});
