import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDocumentImages, documentAccess } from '../src/cli/node/node-session';
import { loadTfjsModelFrom } from '../src/cli/node/node-tfjs-model';
import { execute } from '../src/runtime/executor';
import { createModelCache } from '../src/runtime/models';
import { compileWithImages, loadGraphModels, makeServices } from '../src/runtime/sources';
import { graph, registry, tf, useWasm } from './helpers';
import type { GraphModel } from '../src/graph/model';

const modelJson = new URL('../../shared/fixtures/darknet-tiny-imagenet/model.json', import.meta.url).pathname;
const docPath = new URL('../presets/doc.json', import.meta.url).pathname;

beforeAll(useWasm);

/** Loads the graph's tfjs models and images, compiles at `size` and runs it. */
async function compileAndRun(m: GraphModel, size: number) {
  const { models, errors } = await loadGraphModels(m, registry, (s) => loadTfjsModelFrom(tf, s, '.'));
  const { images } = await loadDocumentImages(m, registry, docPath);
  const { plan, diagnostics } = compileWithImages(m, registry, images, size, models);
  const before = tf.memory().numTensors;
  const cache = createModelCache();
  const r =
    plan &&
    (await execute(
      plan,
      registry,
      makeServices(tf, images, size, 0, cache, undefined, { ...documentAccess(docPath), tfjsModels: models }),
    ));
  cache.dispose();
  return { errors, plan, diagnostics, r: r!, leaked: tf.memory().numTensors - before };
}

// The real pretrained Darknet-tiny classifier from ../shared/fixtures; skipped where that folder is absent.
describe.skipIf(!existsSync(modelJson))('generic tfjs encoder on Darknet-tiny', () => {
  const enc = { model: modelJson, taps: 'leaky_re_lu_1, leaky_re_lu_4' };
  const m = graph(
    [
      ['content', 'image', { source: 'images/astronaut.jpg' }],
      ['style', 'image', { source: 'images/mosaic.jpg' }],
      ['x', 'variable', { init: 'content' }],
      ['ex', 'tfjs-encoder', enc],
      ['es', 'tfjs-encoder', enc],
      ['s1', 'style-loss', { normalisation: 'johnson' }],
      ['s4', 'style-loss', { normalisation: 'johnson' }],
      ['sum', 'sum'],
      ['o', 'optimiser', { method: 'adam', steps: 3, learningRate: 0.02, previewEvery: 0 }],
      ['out', 'output'],
    ],
    [
      ['content.image', 'x.content'],
      ['x.image', 'ex.image'],
      ['style.image', 'es.image'],
      ['ex.leaky_re_lu_1', 's1.input'],
      ['es.leaky_re_lu_1', 's1.target'],
      ['ex.leaky_re_lu_4', 's4.input'],
      ['es.leaky_re_lu_4', 's4.target'],
      ['s1.loss', 'sum.terms'],
      ['s4.loss', 'sum.terms'],
      ['x.image', 'o.variable'],
      ['sum.total', 'o.loss'],
      ['o.image', 'out.image'],
    ],
  );

  it('lists the layers with shapes, taps two of them in one pass, and optimises an image through them', async () => {
    const { errors, plan, diagnostics, r } = await compileAndRun(m, 224);
    expect(errors).toEqual([]);
    expect(diagnostics).toEqual([]);
    const shapes = plan!.steps.find((s) => s.id === 'ex')!.outputs.map((o) => o.info.shape);
    expect(shapes).toEqual([
      [1, 224, 224, 16],
      [1, 56, 56, 128],
    ]);
    expect(r.status, r.error).toBe('done');
    expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss);
  });

  it('names the layers it has when a tap is unknown', async () => {
    const bad = structuredClone(m);
    bad.nodes.find((n) => n.id === 'ex')!.params.taps = 'leaky_re_lu_1, nope';
    bad.edges = bad.edges.filter((e) => e.from.output !== 'leaky_re_lu_4' && e.from.node !== 's4');
    bad.nodes = bad.nodes.filter((n) => n.id !== 's4');
    const { models } = await loadGraphModels(bad, registry, (s) => loadTfjsModelFrom(tf, s, '.'));
    const { diagnostics } = compileWithImages(bad, registry, new Map(), 224, models);
    expect(diagnostics.at(-1)!.message).toMatch(
      /has no layer "nope"; its layers: input_1 1x224x224x3, conv2d_1 1x224x224x16/,
    );
  });
});

const graphJson = new URL(
  '../../shared/fixtures/arbitrary-stylization-transformer-separable/model.json',
  import.meta.url,
).pathname;

// A real tfjs graph model (Ghiasi et al.'s style transformer, 2019 format) tapped as an encoder; its second input
// (the style vector) gets zeros.
describe.skipIf(!existsSync(graphJson))('generic tfjs encoder on a graph model', () => {
  const enc = { model: graphJson, taps: 'transformer/contract/conv1/Relu, transformer/contract/conv3/Relu' };
  const m = graph(
    [
      ['style', 'image', { source: 'images/mosaic.jpg' }],
      ['x', 'variable', { init: 'noise' }],
      ['ex', 'tfjs-encoder', enc],
      ['es', 'tfjs-encoder', enc],
      ['s1', 'style-loss', { normalisation: 'johnson' }],
      ['s3', 'style-loss', { normalisation: 'johnson' }],
      ['sum', 'sum'],
      ['o', 'optimiser', { method: 'adam', steps: 2, learningRate: 0.05, previewEvery: 0 }],
      ['out', 'output'],
    ],
    [
      ['style.image', 'x.content'],
      ['x.image', 'ex.image'],
      ['style.image', 'es.image'],
      ['ex.transformer/contract/conv1/Relu', 's1.input'],
      ['es.transformer/contract/conv1/Relu', 's1.target'],
      ['ex.transformer/contract/conv3/Relu', 's3.input'],
      ['es.transformer/contract/conv3/Relu', 's3.target'],
      ['s1.loss', 'sum.terms'],
      ['s3.loss', 'sum.terms'],
      ['x.image', 'o.variable'],
      ['sum.total', 'o.loss'],
      ['o.image', 'out.image'],
    ],
  );

  it('lists its nodes with shapes at the run size, taps two in one execution, and optimises an image through them', async () => {
    const { errors, plan, diagnostics, r, leaked } = await compileAndRun(m, 64);
    expect(errors).toEqual([]);
    expect(diagnostics).toEqual([]);
    // The shapes follow the input: the contracting path halves the size twice.
    const shapes = plan!.steps.find((s) => s.id === 'ex')!.outputs.map((o) => o.info.shape);
    expect(shapes[0]!.slice(0, 3)).toEqual([1, 64, 64]);
    expect(shapes[1]!.slice(0, 3)).toEqual([1, 16, 16]);
    expect(r.status, r.error).toBe('done');
    expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss);
    expect(leaked).toBe(0);
  });
});
