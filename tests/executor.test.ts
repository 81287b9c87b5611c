import { beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { defineNodeType } from '../src/plugin/types';
import { RunMemo } from '../src/runtime/executor';
import { compile } from '../src/compiler/compile';
import { registry } from './helpers';
import { graph, loadPreset, run, tf, useWasm, withParams } from './helpers';

beforeAll(useWasm);

const gatys = (params: Record<string, unknown>) =>
  withParams(loadPreset('gatys.json'), { 'optim.previewEvery': 0, ...params });

describe('executor on the Gatys preset (wasm, 32 px)', () => {
  it('keeps the tensor count constant over 10 Adam steps and frees everything at the end', async () => {
    const before = tf.memory().numTensors;
    const r = await run(gatys({ 'optim.method': 'adam', 'optim.steps': 10 }), 32);
    expect(r.status).toBe('done');
    expect(r.steps.map((s) => s.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.tensors.afterFirstStep).not.toBeNull();
    expect(r.tensors.atEnd).toBe(r.tensors.afterFirstStep);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps the tensor count constant over 10 L-BFGS steps', async () => {
    const before = tf.memory().numTensors;
    const r = await run(gatys({ 'optim.method': 'lbfgs', 'optim.steps': 10 }), 32);
    expect(r.status).toBe('done');
    expect(r.tensors.atEnd).toBe(r.tensors.afterFirstStep);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reads back probed values for node previews (targets once, the encoder of the result at the end) without leaking', async () => {
    const before = tf.memory().numTensors;
    const seen = new Map<string, number[]>();
    const keys = new Set(['style_relu2_1.target:prepared', 'enc_x.relu1_1', 'content.image', 'style_relu1_1.loss']);
    const r = await run(gatys({ 'optim.method': 'adam', 'optim.steps': 2 }), 32, {
      probe: { keys, read: (key, shape, data) => seen.set(key, [...shape, data.length]) },
    });
    expect(r.status).toBe('done');
    expect(seen.get('style_relu2_1.target:prepared')).toEqual([128, 128, 128 * 128]);
    expect(seen.get('enc_x.relu1_1')).toEqual([1, 32, 32, 64, 32 * 32 * 64]);
    expect(seen.get('content.image')?.slice(0, 1)).toEqual([1]);
    expect(seen.get('style_relu1_1.loss')).toEqual([1]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('lowers the loss, and the named terms add up to the total', async () => {
    const r = await run(gatys({ 'optim.method': 'lbfgs', 'optim.steps': 8 }), 32);
    const first = r.steps[0]!;
    const last = r.steps.at(-1)!;
    expect(last.loss).toBeLessThan(first.loss / 2);
    for (const s of r.steps) {
      const sum = Object.values(s.terms).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - s.loss) / s.loss).toBeLessThan(1e-4);
    }
    expect(Object.keys(first.terms)).toEqual([
      'tv',
      'content_loss',
      'style_relu1_1',
      'style_relu2_1',
      'style_relu3_1',
      'style_relu4_1',
      'style_relu5_1',
    ]);
    expect(r.outputs.output).toMatchObject({ width: 32, height: 32 });
    expect(r.weights.map((w) => w.weights)).toEqual(
      Array(3).fill('VGG19 torchvision: random (seed 0); no weights named "vgg19" were loaded'),
    );
  });

  it('stops when the signal is aborted and still returns the image so far', async () => {
    const controller = new AbortController();
    const r = await run(gatys({ 'optim.method': 'adam', 'optim.steps': 50 }), 32, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'step' && e.step === 2) controller.abort();
      },
    });
    expect(r.status).toBe('cancelled');
    expect(r.steps).toHaveLength(3);
    expect(r.outputs.output).toBeDefined();
  });

  it('sends previews every k steps', async () => {
    const previews: number[] = [];
    await run(gatys({ 'optim.method': 'adam', 'optim.steps': 6, 'optim.previewEvery': 2 }), 32, {
      onEvent: (e) => {
        if (e.type === 'preview') {
          previews.push(e.step);
          expect(e.image.data).toHaveLength(32 * 32 * 4);
        }
      },
    });
    expect(previews).toEqual([2, 4]);
  });
});

describe('executor failures', () => {
  // A loss term that turns NaN once the image moves off its start.
  const blowUp = defineNodeType({
    type: 'test/blow-up',
    title: 'Blow up',
    category: 'Losses',
    role: 'loss',
    inputs: { image: { type: 'Image' } },
    outputs: { loss: { type: 'Scalar' } },
    params: {},
    infer: () => ({ loss: { shape: [] } }),
    compute: ({ tf: t, inputs }) => ({
      loss: t.tidy(() => t.log(t.sub(t.scalar(1), t.sum(inputs.image as tf.Tensor)))),
    }),
  });
  const reg = builtinRegistry([blowUp]);
  const m = graph(
    [
      ['img', 'image', { source: 'images/astronaut.jpg' }],
      ['v', 'variable', { init: 'content' }],
      ['bad', 'test/blow-up'],
      ['tv', 'tv-loss'],
      ['sum', 'sum'],
      ['o', 'optimiser', { method: 'adam', steps: 5, previewEvery: 0 }],
      ['out', 'output'],
    ],
    [
      ['img.image', 'v.content'],
      ['v.image', 'bad.image'],
      ['v.image', 'tv.image'],
      ['bad.loss', 'sum.terms'],
      ['tv.loss', 'sum.terms'],
      ['v.image', 'o.variable'],
      ['sum.total', 'o.loss'],
      ['o.image', 'out.image'],
    ],
  );

  it('stops on NaN and names the term', async () => {
    const before = tf.memory().numTensors;
    const r = await run(m, 16, {}, reg);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/became NaN at step 0 in term "bad"/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports which node failed when a node throws', async () => {
    const thrower = defineNodeType({
      ...blowUp,
      type: 'test/throws',
      compute: () => {
        throw new Error('out of paint');
      },
    });
    const reg2 = builtinRegistry([thrower]);
    const m2 = structuredClone(m);
    m2.nodes.find((n) => n.id === 'bad')!.type = 'test/throws';
    const r = await run(m2, 16, {}, reg2);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/node "bad" \(test\/throws\) failed: out of paint/);
  });
});

describe('reusing results between runs', () => {
  it('a second run with another loss weight reuses every unchanged image, encoder pass and target, with the same numbers', async () => {
    const before = tf.memory().numTensors;
    const memo = new RunMemo();
    const first = gatys({ 'optim.method': 'adam', 'optim.steps': 3 });
    const second = gatys({ 'optim.method': 'adam', 'optim.steps': 3, 'style_total.weight': 500 });
    const a = await run(first, 32, { memo });
    expect(memo.hits).toBe(0);
    const once = compile(second, registry, { size: 32 }).plan!.steps.filter((s) => s.phase === 'once' && s.signature);
    const b = await run(second, 32, { memo });
    expect(memo.hits).toBe(once.length);
    expect(once.map((s) => s.id)).toEqual(
      expect.arrayContaining([
        'content',
        'style',
        'pass:enc_style',
        'pass:enc_content',
        'style_relu1_1.target:prepare',
      ]),
    );
    const fresh = await run(second, 32);
    expect(b.steps.map((s) => s.loss)).toEqual(fresh.steps.map((s) => s.loss));
    expect(a.steps[0]!.loss).not.toBe(b.steps[0]!.loss);
    // A changed image source is not reused.
    const hits = memo.hits;
    await run(withParams(second, { 'style.source': 'images/mosaic.jpg' }), 32, { memo });
    expect(memo.hits - hits).toBe(2); // the content image and its pass
    memo.clear();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('temporal loss (a video frame, Ruder et al. 2016)', () => {
  const m = graph(
    [
      ['img', 'image', { source: 'images/astronaut.jpg' }],
      ['v', 'variable', { init: 'content' }],
      ['tv', 'tv-loss', { weight: 1e-9 }],
      ['sum', 'sum'],
      ['o', 'optimiser', { method: 'adam', steps: 30, learningRate: 0.02, previewEvery: 0 }],
      ['out', 'output'],
    ],
    [
      ['img.image', 'v.content'],
      ['v.image', 'tv.image'],
      ['tv.loss', 'sum.terms'],
      ['v.image', 'o.variable'],
      ['sum.total', 'o.loss'],
      ['o.image', 'out.image'],
    ],
  );
  const N = 16;
  // The start: flat colour (no total variation); the warped previous result: flat grey; trusted on the left half only.
  const start = { width: N, height: N, data: new Uint8ClampedArray(N * N * 4) };
  for (let i = 0; i < N * N; i++) start.data.set([200, 40, 160, 255], i * 4);
  const target = { width: N, height: N, data: new Uint8ClampedArray(N * N * 4).fill(128) };
  const mask = { width: N, height: N, data: Float32Array.from({ length: N * N }, (_, i) => (i % N < N / 2 ? 1 : 0)) };
  const weight = 50;

  it('adds weight * mean(c (x - warped)^2) to the total as the term "temporal", and pulls the trusted pixels only', async () => {
    const before = tf.memory().numTensors;
    const r = await run(m, N, { initImage: start, temporal: { target, mask, weight } });
    expect(r.status).toBe('done');
    const out = r.outputs.out!;
    expect([out.width, out.height]).toEqual([N, N]);
    // Step 0 is the start: the term by a direct sum over the bytes.
    let direct = 0;
    for (let i = 0; i < N * N; i++)
      for (let c = 0; c < 3; c++) direct += mask.data[i]! * ((start.data[i * 4 + c]! - 128) / 255) ** 2;
    direct = (weight * direct) / (N * N * 3);
    expect(r.steps[0]!.terms.temporal).toBeCloseTo(direct, 4);
    expect(r.steps[0]!.loss).toBeCloseTo(r.steps[0]!.terms.temporal! + r.steps[0]!.terms.tv!, 4);
    // After the run: the left half moved towards grey much further than the right.
    const distance = (left: boolean, image: { data: ArrayLike<number> }) => {
      let s = 0;
      for (let i = 0; i < N * N; i++)
        if (i % N < N / 2 === left) for (let c = 0; c < 3; c++) s += Math.abs(image.data[i * 4 + c]! - 128);
      return s;
    };
    expect(distance(true, out) / distance(true, start)).toBeLessThan(0.5);
    expect(distance(false, out) / distance(false, start)).toBeGreaterThan(0.8);
    expect(tf.memory().numTensors).toBe(before);
  });
  it('leaves the run as it was without a weight', async () => {
    const r = await run(m, N, { initImage: start, temporal: { target, mask, weight: 0 } });
    expect(r.steps[0]!.terms.temporal).toBeUndefined();
  });
});
