import { describe, expect, it } from 'vitest';
import { builtinNodes } from '../nodes';
import { createRegistry } from '../src/plugin/registry';
import { defineNodeType } from '../src/plugin/types';

const custom = defineNodeType({
  type: 'test/invert',
  title: 'Invert',
  category: 'Image ops',
  inputs: { image: { type: 'Image' } },
  outputs: { image: { type: 'Image' } },
  params: {},
  infer: (ctx) => ({ image: ctx.inputs.image as { shape: number[] } }),
  compute: (ctx) => ({ image: ctx.tf.sub(1, ctx.inputs.image as ReturnType<typeof ctx.tf.scalar>) }),
});

describe('node registry', () => {
  it('registers every built-in node type', () => {
    const r = createRegistry(builtinNodes);
    expect(r.problems).toEqual([]);
    expect(r.list().map((d) => d.type)).toEqual(
      expect.arrayContaining(['image', 'vgg19', 'style-loss', 'optimiser', 'output']),
    );
  });

  it('rejects a duplicate type name', () => {
    const r = createRegistry([custom]);
    expect(r.register(custom)).toMatch(/already registered/);
    expect(r.list()).toHaveLength(1);
  });

  it('keeps loading when one plugin throws or is invalid', () => {
    const r = createRegistry();
    const problems = r.use([
      function brokenPack() {
        throw new Error('boom');
      },
      { ...custom, type: 'Bad Name' },
      { ...custom, params: { k: { kind: 'number', default: 5, max: 1 } }, type: 'test/range' },
      custom,
    ]);
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/brokenPack|boom/),
      expect.stringMatching(/invalid node type name/),
      expect.stringMatching(/default of parameter "k" is invalid/),
    ]);
    expect(r.has('test/invert')).toBe(true);
  });
});
