import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import type { GraphModel } from '../src/graph/model';
import { defineNodeType, type NodeTypeDef } from '../src/plugin/types';
import { checkRequest, parseRunRequest, prepareRun, type RunUnit } from '../src/runtime/request';
import { runSession } from '../src/runtime/session';
import { graph } from './helpers';
import { serialiseDocument } from '../src/graph/document';
import { RunMemo } from '../src/runtime/memo';
import { createModelCache } from '../src/runtime/models';
import { noCheckpoints } from '../src/runtime/sources';
import type { FromWorker } from '../src/web/protocol';
import { runInWorker } from '../src/web/runner';

const registry = builtinRegistry();

/** Content and style pictures, a variable, a pixel loss and an optimiser: the smallest optimisation graph. */
const small = (): GraphModel =>
  graph(
    [
      ['content', 'image', { source: 'images/astronaut.jpg', slot: 'content' }],
      ['style', 'image', { source: 'images/swirls.jpg', slot: 'style' }],
      ['x', 'variable', { init: 'noise' }],
      ['pixels', 'image-loss', { weight: 1 }],
      ['optim', 'optimiser', { method: 'adam', steps: 5, learningRate: 0.05, previewEvery: 0 }],
      ['output', 'output', {}],
    ],
    [
      ['content.image', 'x.content'],
      ['style.image', 'x.style'],
      ['x.image', 'pixels.input'],
      ['content.image', 'pixels.target'],
      ['x.image', 'optim.variable'],
      ['pixels.loss', 'optim.loss'],
      ['optim.image', 'output.image'],
    ],
  );

async function all(units: AsyncGenerator<RunUnit>): Promise<RunUnit[]> {
  const out: RunUnit[] = [];
  for await (const u of units) out.push(u);
  return out;
}

describe('a RunRequest', () => {
  it('is checked once: size, scales, steps per scale and modes, each said in the words of the request', () => {
    expect(checkRequest({ size: 32, seed: 0 })).toEqual([]);
    expect(checkRequest({ size: 7, seed: 0 })).toEqual([
      'the image size must be a whole number of pixels, at least 8 and at most 4096 (got 7)',
    ]);
    expect(checkRequest({ size: 32.5, seed: 0 })[0]).toMatch(/whole number/);
    expect(checkRequest({ size: 32, seed: 0, scales: [0.5, 0.25, 1] })[0]).toMatch(
      /increasing fractions .* \(got 0.5,0.25,1\)/,
    );
    expect(checkRequest({ size: 32, seed: 0, scales: [0.5] })[0]).toMatch(/ending at 1/);
    expect(checkRequest({ size: 32, seed: 0, scales: [0.5, 1], steps: [3] })).toEqual(['steps: 1 counts for 2 scales']);
    expect(checkRequest({ size: 32, seed: 0, frames: {}, batch: ['a.png'] })).toContain(
      'a stream of frames runs alone: no sweep, batch or coarse to fine',
    );
    expect(checkRequest({ size: 32, seed: 0, threads: 9 })[0]).toMatch(/^threads: /);
    expect(checkRequest({ size: 32, seed: 0, colour: 'red' })[0]).toMatch(/colour/);
    const ok = parseRunRequest({
      size: 64,
      seed: 3,
      steps: [4, 2],
      scales: [0.5, 1],
      backend: 'wasm',
      inputs: { style: ['a.png'] },
    });
    expect(ok.problems).toBeUndefined();
    expect(ok.request?.steps).toEqual([4, 2]);
  });

  it('applies its inputs, values, steps and preview interval through the roles nodes declare', () => {
    const prepared = prepareRun(small(), registry, {
      size: 32,
      seed: 0,
      steps: 3,
      previewEvery: 2,
      inputs: { content: 'c.png', style: ['s.png'] },
      set: ['pixels.weight=0.5'],
    });
    const m = prepared.run!.model;
    const params = (id: string) => m.nodes.find((n) => n.id === id)!.params;
    expect(params('content').source).toBe('c.png');
    expect(params('style').source).toBe('s.png');
    expect(params('pixels').weight).toBe(0.5);
    expect(params('optim')).toMatchObject({ steps: 3, previewEvery: 2 });
    const bad = prepareRun(small(), registry, {
      size: 32,
      seed: 0,
      inputs: { style: ['a.png', 'b.png'] },
      set: ['pixels.nope=1', 'ghost.weight=2'],
    });
    expect(bad.problems!.map((d) => d.message)).toEqual([
      'pixels.nope=1: node "pixels" has no parameter "nope" (parameters: weight)',
      'ghost.weight=2: no node "ghost" (nodes: content, style, x, pixels, optim, output)',
      'style: 2 style images given but the graph has 1 image node(s) with slot "style"',
    ]);
    expect(bad.problems![0]).toMatchObject({ nodeId: 'pixels', path: '$.nodes[3].params.nope' });
  });

  it('expands into units: one run with its scale passes, sweep cells, batch items, frames', async () => {
    const coarse = prepareRun(small(), registry, { size: 40, seed: 0, scales: [0.25, 0.5, 1], steps: [5, 3, 1] }).run!;
    const [one, ...none] = await all(coarse.units());
    expect(none).toEqual([]);
    expect(one!.kind).toBe('run');
    // Each scale's share of the size, at least 16 px, the last the size itself; each pass with its own step count.
    expect(one!.passes.map((p) => [p.size, p.model.nodes.find((n) => n.id === 'optim')!.params.steps])).toEqual([
      [16, 5],
      [20, 3],
      [40, 1],
    ]);

    const swept = {
      ...small(),
      metadata: {
        sweep: {
          columns: [
            { label: 'w=1', set: { 'pixels.weight': 1 } },
            { label: 'w=2', set: { 'pixels.weight': 2 } },
          ],
        },
      },
    };
    const sweep = prepareRun(swept, registry, { size: 32, seed: 0, sweep: true }).run!;
    expect(sweep.sheet).toEqual({ columns: 2 });
    expect(
      (await all(sweep.units())).map((u) => [
        u.kind,
        u.label,
        u.model.nodes.find((n) => n.id === 'pixels')!.params.weight,
      ]),
    ).toEqual([
      ['cell', 'w=1', 1],
      ['cell', 'w=2', 2],
    ]);
    const broken = { ...small(), metadata: { sweep: { columns: [{ label: 'bad', set: { 'ghost.weight': 1 } }] } } };
    expect(prepareRun(broken, registry, { size: 32, seed: 0, sweep: true }).problems![0]!.message).toBe(
      'sweep cell "bad": no node "ghost"',
    );

    const batch = prepareRun(small(), registry, { size: 32, seed: 0, batch: ['a.jpg', 'b.jpg'] }).run!;
    expect((await all(batch.units())).map((u) => [u.kind, u.item, u.model.nodes[0]!.params.source])).toEqual([
      ['item', 'a.jpg', 'a.jpg'],
      ['item', 'b.jpg', 'b.jpg'],
    ]);

    const stream = prepareRun(
      small(),
      registry,
      { size: 32, seed: 0, frames: { warmStart: true } },
      { frames: true },
    ).run!;
    const pixels = { width: 2, height: 2, data: new Uint8Array(16) };
    async function* two() {
      yield pixels;
      yield pixels;
    }
    expect(
      (await all(stream.units(two()))).map((u) => [
        u.kind,
        u.index,
        u.item,
        u.model.nodes[0]!.params.source,
        u.warmStart,
      ]),
    ).toEqual([
      ['frame', 0, 'frame:0', 'frame:0', true],
      ['frame', 1, 'frame:1', 'frame:1', true],
    ]);
    expect(prepareRun(small(), registry, { size: 32, seed: 0, frames: {} }).problems![0]!.message).toMatch(
      /needs a host that reads them/,
    );
    const noContent = {
      ...small(),
      nodes: small().nodes.map((n) => (n.id === 'content' ? { ...n, params: { ...n.params, slot: 'other' } } : n)),
    };
    expect(prepareRun(noContent, registry, { size: 32, seed: 0, batch: ['a.jpg'] }).problems![0]!.message).toBe(
      'a batch needs an image node with slot "content"',
    );
  });
});

describe('a run that breaks in a node', () => {
  beforeAll(async () => void (await tf.setBackend('cpu')));
  it('is failed, not invalid, and says which node on that node', async () => {
    const boom = defineNodeType({
      type: 'test/boom',
      title: 'Boom',
      category: 'Test',
      inputs: { image: { type: 'Image' } },
      outputs: { image: { type: 'Image' } },
      params: {},
      infer: (ctx) => ({ image: ctx.inputs.image as { shape: number[] } }),
      compute: () => {
        throw new Error('no luck');
      },
    });
    const reg = builtinRegistry();
    expect(reg.register(boom as NodeTypeDef)).toBeNull();
    const m = graph(
      [
        ['photo', 'image', { source: 'images/astronaut.jpg' }],
        ['boom', 'test/boom', {}],
        ['output', 'output', {}],
      ],
      [
        ['photo.image', 'boom.image'],
        ['boom.image', 'output.image'],
      ],
    );
    const readImage = async () => ({ width: 16, height: 12, data: new Uint8Array(16 * 12 * 4).fill(128) });
    const r = await runSession(m, reg, { size: 16, seed: 0 }, { tf, readImage });
    expect(r.status).toBe('failed');
    expect(r.error).toBe('node "boom" (test/boom) failed: no luck');
    expect(r.diagnostics).toEqual([
      {
        severity: 'error',
        code: 'run',
        nodeId: 'boom',
        path: '$.nodes[1]',
        message: 'node "boom" (test/boom) failed: no luck',
      },
    ]);
    // A graph that is wrong is invalid, and nothing runs.
    const wrong = await runSession({ ...m, edges: m.edges.slice(1) }, reg, { size: 16, seed: 0 }, { tf, readImage });
    expect(wrong.status).toBe('invalid');
    expect(wrong.diagnostics.some((d) => d.code === 'run')).toBe(false);

    // The editor's worker keeps them apart, and hands the failing node's diagnostic to the canvas.
    const inWorker = async (model: GraphModel) => {
      const posted: FromWorker[] = [];
      await runInWorker(
        {
          type: 'run',
          id: 1,
          document: serialiseDocument(model),
          base: '/',
          uploads: {},
          request: { size: 16, seed: 0 },
        },
        {
          tf,
          registry: reg,
          state: { models: createModelCache(), memo: new RunMemo(), images: new Map() },
          checkpoints: noCheckpoints,
          decode: readImage,
          loadModel: () => Promise.reject(new Error('no models')),
          post: (msg) => posted.push(msg),
        },
        new AbortController().signal,
      );
      const done = posted.find((msg) => msg.type === 'done');
      return done?.type === 'done' ? done : null;
    };
    const broke = await inWorker(m);
    expect(broke?.status).toBe('failed');
    expect(broke?.diagnostics.filter((d) => d.code === 'run').map((d) => d.nodeId)).toEqual(['boom']);
    expect((await inWorker({ ...m, edges: m.edges.slice(1) }))?.status).toBe('invalid');
  });
});
