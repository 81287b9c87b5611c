import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { graph, registry, run, useWasm } from './helpers';

beforeAll(useWasm);

/** Content (the photo) sets the size; the optimised image starts from the picture wired to `start` (the painting). */
const startFrom = (init: string, steps: number, withStart = true) =>
  graph(
    [
      ['content', 'image', { source: 'images/astronaut.jpg', slot: 'content' }],
      ['sketch', 'image', { source: 'images/swirls.jpg' }],
      ['x', 'variable', { init }],
      ['tv', 'tv-loss', { weight: 1 }],
      ['optim', 'optimiser', { method: 'adam', learningRate: 0.01, steps, previewEvery: 0 }],
      ['out', 'output', {}],
    ],
    [
      ['content.image', 'x.content'],
      ...(withStart ? ([['sketch.image', 'x.start']] as [string, string][]) : []),
      ['x.image', 'tv.image'],
      ['x.image', 'optim.variable'],
      ['tv.loss', 'optim.loss'],
      ['optim.image', 'out.image'],
    ],
  );

const pixels = async (init: string, steps: number) => {
  const r = await run(startFrom(init, steps), 32);
  expect(r.status, r.error).toBe('done');
  return Object.values(r.outputs)[0]!;
};

describe('the image variable starts from any picture', () => {
  it('init image: the picture wired to start, resized to the content size (0 steps: the start itself)', async () => {
    const fromImage = await pixels('image', 0);
    const fromContent = await pixels('content', 0);
    expect([fromImage.width, fromImage.height]).toEqual([fromContent.width, fromContent.height]);
    // The painting, not the photo: the same picture a graph starting from the style (the same file) gives.
    const styleGraph = startFrom('style', 0);
    styleGraph.edges.push({ from: { node: 'sketch', output: 'image' }, to: { node: 'x', input: 'style' } });
    const fromStyle = Object.values((await run(styleGraph, 32)).outputs)[0]!;
    expect(Array.from(fromImage.data)).toEqual(Array.from(fromStyle.data));
    const diff = fromImage.data.reduce((s, v, i) => s + Math.abs(v - fromContent.data[i]!), 0) / fromImage.data.length;
    expect(diff).toBeGreaterThan(10);
  });

  it('optimises on from there', async () => {
    const r = await run(startFrom('image', 5), 32);
    expect(r.status, r.error).toBe('done');
    expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss);
  });

  it('init image with nothing wired to start is an error that says so', () => {
    const { plan, diagnostics } = compile(startFrom('image', 1, false), registry, { size: 32 });
    expect(plan).toBeNull();
    expect(diagnostics.map((d) => d.message).join('\n')).toContain('no picture is connected to "start"');
  });
});
