import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import contentLossNode from '../nodes/content-loss';
import styleLossNode from '../nodes/style-loss';
import { encodeGreyPng } from '../src/codecs/png';
import {
  STYLE_NORMALISATIONS,
  CONTENT_NORMALISATIONS,
  contentLoss,
  guidedGram,
  maskFor,
  maskedStyleGram,
  styleGram,
  styleLoss,
} from '../src/ops/losses';
import type { ComputeContext, ParamValues, Tensor } from '../src/plugin/types';
import { graph, planOf, run, tf, useWasm } from './helpers';

beforeAll(useWasm);

/** PyTorch's guided Gram and masked losses: scripts/make-mask-fixtures.py. */
interface Case {
  name: string;
  featureShape: [number, number, number, number];
  styleShape: [number, number, number, number];
  maskShape: [number, number, number, number];
  styleMaskShape: [number, number, number, number] | null;
  features: number[];
  style: number[];
  content: number[];
  mask: number[];
  styleMask: number[] | null;
  resizedMask: number[];
  guidedGram: number[];
  styleGram: number[];
  styleLoss: Record<string, number>;
  contentLoss: Record<string, number>;
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/masked-losses.json', import.meta.url), 'utf8')) as {
  cases: Case[];
};

function expectClose(actual: ArrayLike<number>, expected: number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(1, ...expected.map(Math.abs));
  const worst = Math.max(...expected.map((v, i) => Math.abs(v - actual[i]!)));
  expect(worst / scale).toBeLessThan(tolerance);
}

const relClose = (actual: number, expected: number, tolerance = 1e-5) =>
  expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThan(tolerance);

/** What a node's compute gets: the tf services it uses, its parameters and inputs (typed as the node's). */
function ctx(params: ParamValues, inputs: Record<string, Tensor>): never {
  return { tf, params, inputs } as Partial<ComputeContext> as never;
}

describe.each(fixtures.cases)('against PyTorch: $name', (c) => {
  const features = () => tf.tensor4d(c.features, c.featureShape);
  const first = () => tf.slice(features(), 0, 1);
  const style = () => tf.tensor4d(c.style, c.styleShape);
  const mask = () => tf.tensor4d(c.mask, c.maskShape);
  const styleMask = () => (c.styleMask ? tf.tensor4d(c.styleMask, c.styleMaskShape!) : undefined);

  it('resizes the mask to the features as F.interpolate(bilinear, align_corners=True) does', async () => {
    expectClose(await maskFor(tf, mask(), features()).data(), c.resizedMask, 1e-6);
  });

  it('computes the guided Gram M / sum T^2 * sum (T F)(T F)^T, and the style target under the style mask', async () => {
    expectClose(await guidedGram(tf, first(), mask()).data(), c.guidedGram, 1e-5);
    expectClose(await maskedStyleGram(tf, style(), 'gatys', styleMask()).data(), c.styleGram, 1e-5);
  });

  it.each(STYLE_NORMALISATIONS)('gives the masked style loss (%s) through the node', async (normalisation) => {
    const params = { normalisation, weight: 1 };
    // The node's prepare (the style mask flows in) and its compute (the image's mask).
    const prepare = styleLossNode.prepare!.target!;
    expect(prepare.with).toEqual(['styleMask']);
    const sm = styleMask();
    const target = prepare.run(style(), params as never, tf, sm ? { styleMask: sm } : {});
    const out = styleLossNode.compute!(ctx(params, { input: features(), target, mask: mask() }));
    const loss = (out as { loss: Tensor }).loss;
    relClose((await loss.data())[0]!, c.styleLoss[normalisation]!);
  });

  it.each(CONTENT_NORMALISATIONS)('gives the masked content loss (%s) through the node', async (normalisation) => {
    const params = { normalisation, weight: 1 };
    const content = tf.tensor4d(c.content, c.featureShape);
    const out = contentLossNode.compute!(ctx(params, { input: features(), target: content, mask: mask() }));
    relClose((await (out as { loss: Tensor }).loss.data())[0]!, c.contentLoss[normalisation]!, 1e-4);
  });
});

describe('an all-white mask', () => {
  let f: Tensor, p: Tensor, s: Tensor, white: Tensor, grey: Tensor;
  beforeAll(() => {
    f = tf.randomNormal([1, 6, 5, 4], 0, 1, 'float32', 1);
    p = tf.randomNormal([1, 6, 5, 4], 0, 1, 'float32', 2);
    s = tf.randomNormal([1, 7, 3, 4], 0, 1, 'float32', 3);
    // Another size than the features, as a painted region is.
    white = tf.ones([1, 11, 9, 1]);
    grey = tf.fill([1, 3, 3, 1], 0.4);
  });

  it.each(STYLE_NORMALISATIONS)('gives the unmasked style loss (%s), and so does a uniform grey', async (n) => {
    const plain = (await styleLoss(tf, f, styleGram(tf, s, n), n).data())[0]!;
    const masked = (await styleLoss(tf, f, maskedStyleGram(tf, s, n, white), n, white).data())[0]!;
    expect(plain).toBeGreaterThan(0);
    relClose(masked, plain, 1e-6);
    relClose((await styleLoss(tf, f, maskedStyleGram(tf, s, n, grey), n, grey).data())[0]!, plain, 1e-5);
  });

  it.each(STYLE_NORMALISATIONS)('gives the plain style target (%s) of a batch of style images too', async (n) => {
    // The mask is one picture, the same for each image of the batch: the Gram of the whole batch is unchanged.
    const batch = tf.concat([s, tf.mul(s, 0.5)], 0);
    const plain = await styleGram(tf, batch, n).data();
    expectClose(await maskedStyleGram(tf, batch, n, white).data(), Array.from(plain), 1e-5);
    expectClose(await maskedStyleGram(tf, batch, n, grey).data(), Array.from(plain), 1e-5);
  });

  it.each(CONTENT_NORMALISATIONS)('gives the unmasked content loss (%s)', async (n) => {
    const plain = (await contentLoss(tf, f, p, n).data())[0]!;
    expect(plain).toBeGreaterThan(0);
    relClose((await contentLoss(tf, f, p, n, white).data())[0]!, plain, 1e-6);
  });

  it('but a half mask does not: only the painted half counts', async () => {
    const half = tf.concat([tf.ones([1, 3, 5, 1]), tf.zeros([1, 3, 5, 1])], 1);
    const top = tf.slice(f, [0, 0, 0, 0], [1, 3, 5, 4]);
    // The top half's Gram scaled to the whole map's positions: 2 x its raw Gram.
    const g = await guidedGram(tf, f, half).data();
    expectClose(g, Array.from(await tf.mul(styleGram(tf, top, 'gatys'), 2).data()), 1e-5);
    const plain = (await contentLoss(tf, f, p, 'mse').data())[0]!;
    const topOnly = (await contentLoss(tf, top, tf.slice(p, [0, 0, 0, 0], [1, 3, 5, 4]), 'mse').data())[0]!;
    relClose((await contentLoss(tf, f, p, 'mse', half).data())[0]!, topOnly, 1e-5);
    expect(Math.abs(topOnly - plain)).toBeGreaterThan(1e-3);
  });
});

/** A grey PNG data URL: the left `left` columns white, the rest black. */
function halfMask(width: number, height: number, left: number): string {
  const grey = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) grey.fill(255, y * width, y * width + left);
  return `data:image/png;base64,${Buffer.from(encodeGreyPng(width, height, grey)).toString('base64')}`;
}

/** A tiny Gatys graph: one painted region, swirls inside it, the astronaut's colours outside. */
const regions = (source: string) =>
  graph(
    [
      ['content', 'image', { source: 'images/astronaut.jpg', slot: 'content' }],
      ['style', 'image', { source: 'images/swirls.jpg', slot: 'style' }],
      ['style2', 'image', { source: 'images/astronaut.jpg', slot: 'other' }],
      ['sky', 'mask', { source, name: 'sky' }],
      ['x', 'variable', { init: 'noise' }],
      ['enc_s', 'vgg19', { pooling: 'avg', taps: ['relu1_1', 'relu2_1'] }],
      ['enc_s2', 'vgg19', { pooling: 'avg', taps: ['relu1_1', 'relu2_1'] }],
      ['enc_x', 'vgg19', { pooling: 'avg', taps: ['relu1_1', 'relu2_1'] }],
      ['enc_c', 'vgg19', { pooling: 'avg', taps: ['relu2_1'] }],
      ['c', 'content-loss', { weight: 1e-3, normalisation: 'mse' }],
      ['in1', 'style-loss', {}],
      ['in2', 'style-loss', {}],
      ['out1', 'style-loss', {}],
      ['total', 'sum', { weight: 10 }],
      ['optim', 'optimiser', { method: 'adam', steps: 4, learningRate: 0.05, previewEvery: 0 }],
      ['out', 'output', {}],
    ],
    [
      ['style.image', 'enc_s.image'],
      ['style2.image', 'enc_s2.image'],
      ['content.image', 'x.content'],
      ['x.image', 'enc_x.image'],
      ['enc_x.relu1_1', 'in1.input'],
      ['enc_s.relu1_1', 'in1.target'],
      ['sky.mask', 'in1.mask'],
      ['enc_x.relu2_1', 'in2.input'],
      ['enc_s.relu2_1', 'in2.target'],
      ['sky.mask', 'in2.mask'],
      ['enc_x.relu1_1', 'out1.input'],
      ['enc_s2.relu1_1', 'out1.target'],
      ['sky.inverse', 'out1.mask'],
      // The style image's left half only counts for the region outside.
      ['sky.mask', 'out1.styleMask'],
      ['content.image', 'enc_c.image'],
      ['enc_x.relu2_1', 'c.input'],
      ['enc_c.relu2_1', 'c.target'],
      ['sky.inverse', 'c.mask'],
      ['c.loss', 'total.terms'],
      ['in1.loss', 'total.terms'],
      ['in2.loss', 'total.terms'],
      ['out1.loss', 'total.terms'],
      ['x.image', 'optim.variable'],
      ['total.total', 'optim.loss'],
      ['optim.image', 'out.image'],
    ],
  );

describe('a Gatys graph with a painted region', () => {
  it('prepares the style target with the style mask once, before the loop, and the loss falls', async () => {
    const g = regions(halfMask(8, 8, 4));
    const { plan } = await planOf(g, 32);
    const prep = plan.steps.find((s) => s.id === 'out1.target:prepare')!;
    expect(prep.phase).toBe('once');
    expect(Object.keys(prep.inputs)).toEqual(['target', 'styleMask']);
    // The style mask is the preparation's: the node's step in the loop does not read it.
    expect(Object.keys(plan.steps.find((s) => s.id === 'out1')!.inputs)).not.toContain('styleMask');
    const result = await run(g, 32);
    expect(result.status, result.error).toBe('done');
    expect(result.steps).toHaveLength(5); // step 0 and 4 steps
    expect(result.steps.at(-1)!.loss).toBeLessThan(result.steps[0]!.loss);
    for (const t of ['in1', 'in2', 'out1', 'c']) expect(result.steps[0]!.terms[t]).toBeGreaterThan(0);
  });

  // A soft mask of another aspect than the picture: each tile's part of it, resized as the whole is.
  const soft = () => {
    const grey = Uint8Array.from({ length: 12 * 7 }, (_, i) => (i * 37) % 256);
    return `data:image/png;base64,${Buffer.from(encodeGreyPng(12, 7, grey)).toString('base64')}`;
  };

  it('gives the same losses and steps on tiles as on the whole image, masked style and content losses included', async () => {
    const g = regions(soft());
    const whole = await run(g, 32, { tiling: false });
    const said: string[] = [];
    const tiled = await run(g, 32, {
      tiling: { extent: 16 },
      onEvent: (e) => e.type === 'status' && said.push(e.message),
    });
    expect(tiled.status, tiled.error).toBe('done');
    expect(said.filter((m) => m.startsWith('tiling 32x'))).toHaveLength(1);
    whole.steps.forEach((s, i) => {
      for (const [k, v] of Object.entries(s.terms))
        expect(Math.abs(tiled.steps[i]!.terms[k]! - v)).toBeLessThanOrEqual(2e-4 * Math.abs(v) + 1e-9);
    });
    expect(whole.steps.at(-1)!.loss).toBeLessThan(whole.steps[0]!.loss);
  });

  it('tiles when only the style mask is wired: it shapes the prepared target, not the loss in the loop', async () => {
    const g = regions(halfMask(8, 8, 4));
    g.edges = g.edges.filter((e) => e.to.input !== 'mask');
    const whole = await run(g, 32, { tiling: false });
    const said: string[] = [];
    const tiled = await run(g, 32, {
      tiling: { extent: 16 },
      onEvent: (e) => e.type === 'status' && said.push(e.message),
    });
    expect(tiled.status, tiled.error).toBe('done');
    expect(said.filter((m) => m.startsWith('tiling 32x32 into'))).toHaveLength(1);
    whole.steps.forEach((s, i) => expect(Math.abs(tiled.steps[i]!.loss - s.loss) / s.loss).toBeLessThan(2e-4));
  });
});
