import { defineNodeType } from '../src/plugin/types';

/** A result: the CLI writes it to --out, the editor shows it and offers it as PNG. */
export default defineNodeType({
  type: 'output',
  title: 'Output image',
  category: 'Outputs',
  role: 'output',
  inputs: { image: { type: 'Image' } },
  outputs: {},
  params: {},
  infer: () => ({}),
  compute: () => ({}),
});
