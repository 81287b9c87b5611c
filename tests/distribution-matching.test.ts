import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { histogramLoss, histogramTarget } from '../src/ops/losses';
import { efdm, rankMap } from '../src/ops/sort-match';
import { graph, loadPreset, planOf, registry, run, tf, useWasm } from './helpers';

beforeAll(useWasm);

/** PyTorch's EFDM (the paper's code) and histogram loss: scripts/make-distribution-fixtures.py. */
interface Case {
  name: string;
  contentShape: [number, number, number, number];
  styleShape: [number, number, number, number];
  content: number[];
  style: number[];
  weight: number[];
  efdm: number[];
  efdmGradContent: number[];
  efdmGradStyle: number[];
  x: number[];
  histogramLoss: number;
  histogramGrad: number[];
}
const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/distribution-matching.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

function expectClose(actual: ArrayLike<number>, expected: number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  const worst = Math.max(...expected.map((v, i) => Math.abs(v - actual[i]!)));
  expect(worst).toBeLessThan(tolerance);
}

describe('rankMap', () => {
  it('reads the k-th sorted value at equal sizes, and evenly spaced interpolated ranks otherwise', () => {
    const same = rankMap(4, 4);
    expect(Array.from(same.lo)).toEqual([0, 1, 2, 3]);
    expect(Array.from(same.frac)).toEqual([0, 0, 0, 0]);
    // 3 ranks over 5 sorted values: positions 0, 2, 4. 4 ranks over 3 values: 0, 2/3, 4/3, 2.
    expect(Array.from(rankMap(3, 5).lo)).toEqual([0, 2, 4]);
    const up = rankMap(4, 3);
    expect(Array.from(up.lo)).toEqual([0, 0, 1, 2]);
    expect(Array.from(up.hi)).toEqual([1, 1, 2, 2]);
    [0, 2 / 3, 1 / 3, 0].forEach((f, i) => expect(up.frac[i]).toBeCloseTo(f, 6));
  });
});

describe.each(fixtures.cases)('against PyTorch: $name', (c) => {
  const content = () => tf.tensor4d(c.content, c.contentShape);
  const style = () => tf.tensor4d(c.style, c.styleShape);

  it("EFDM gives the content the style sorted values at its ranks (the paper's sort matching)", async () => {
    expectClose(await efdm(tf, content(), style()).data(), c.efdm, 1e-5);
  });

  it("EFDM's gradient: the identity for the content, through the sort for the style", async () => {
    const w = tf.tensor4d(c.weight, c.contentShape);
    const [gc, gs] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(efdm(tf, a as tf.Tensor4D, b as tf.Tensor4D), w)),
    )([content(), style()]);
    expectClose(await gc!.data(), c.efdmGradContent, 1e-6);
    expect(gs!.shape).toEqual(c.styleShape);
    expectClose(await gs!.data(), c.efdmGradStyle, 1e-5);
  });

  it('the histogram loss and its gradient (the remapped features a constant)', async () => {
    const target = histogramTarget(tf, style());
    expect(target.shape).toEqual([c.styleShape[3], c.style.length / c.styleShape[3]]);
    const x = tf.tensor4d(c.x, c.contentShape);
    expect((await histogramLoss(tf, x, target).data())[0]).toBeCloseTo(c.histogramLoss, 5);
    const g = tf.grad((v: tf.Tensor) => histogramLoss(tf, v, target))(x);
    expectClose(await g.data(), c.histogramGrad, 1e-6);
  });
});

describe('EFDM', () => {
  it('keeps the content ranks and takes exactly the style values per channel (a hand-made case)', async () => {
    // One channel, 4 positions: the content's ascending ranks are 2, 0, 3, 1; the style sorted is 10, 20, 30, 40.
    const out = await efdm(
      tf,
      tf.tensor4d([0.5, -1, 2, 0], [1, 2, 2, 1]),
      tf.tensor4d([40, 20, 10, 30], [1, 2, 2, 1]),
    ).data();
    expect(Array.from(out)).toEqual([30, 10, 40, 20]);
  });
});

describe('the histogram loss node', () => {
  it('is a loss term the optimiser lowers, the style sorted once before the loop', async () => {
    const g = graph(
      [
        ['style', 'image', { source: 'images/swirls.jpg', slot: 'style' }],
        ['x', 'variable', { init: 'noise' }],
        ['enc_s', 'vgg19', { pooling: 'avg', taps: ['relu1_1', 'relu2_1'] }],
        ['enc_x', 'vgg19', { pooling: 'avg', taps: ['relu1_1', 'relu2_1'] }],
        ['h1', 'histogram-loss', { weight: 1 }],
        ['h2', 'histogram-loss', { weight: 2 }],
        ['total', 'sum', { weight: 1 }],
        ['optim', 'optimiser', { method: 'adam', learningRate: 0.05, steps: 6, previewEvery: 0 }],
        ['out', 'output', {}],
      ],
      [
        ['style.image', 'enc_s.image'],
        ['style.image', 'x.content'],
        ['x.image', 'enc_x.image'],
        ['enc_x.relu1_1', 'h1.input'],
        ['enc_s.relu1_1', 'h1.target'],
        ['enc_x.relu2_1', 'h2.input'],
        ['enc_s.relu2_1', 'h2.target'],
        ['h1.loss', 'total.terms'],
        ['h2.loss', 'total.terms'],
        ['x.image', 'optim.variable'],
        ['total.total', 'optim.loss'],
        ['optim.image', 'out.image'],
      ],
    );
    const { plan } = await planOf(g, 32);
    const prepare = plan.steps.find((s) => s.id === 'h1.target:prepare')!;
    expect(prepare.phase).toBe('once');
    expect(prepare.outputs[0]!.info.shape).toEqual([64, 32 * 32]);
    const r = await run(g, 32, { tiling: false });
    expect(r.status, r.error).toBe('done');
    expect(Object.keys(r.steps[0]!.terms).sort()).toEqual(['h1', 'h2']);
    expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss * 0.9);
  });
});

describe('the EFDM node', () => {
  it("has AdaIN's content and style sockets and its features output", () => {
    const [a, e] = [registry.get('adain')!, registry.get('efdm')!];
    for (const socket of ['content', 'style'] as const) expect(e.inputs[socket]!.type).toBe(a.inputs[socket]!.type);
    expect(e.outputs).toEqual(a.outputs);
  });

  it('replaces AdaIN in the AdaIN graph and in both places of the MicroAST graph', async () => {
    for (const [preset, ids] of [
      ['adain.json', ['adain']],
      ['microast.json', ['adain1', 'adain2']],
    ] as const) {
      const model = loadPreset(preset);
      for (const n of model.nodes) if ((ids as readonly string[]).includes(n.id)) n.type = 'efdm';
      const { plan } = await planOf(model, 64);
      expect(plan.steps.filter((s) => s.type === 'efdm').map((s) => s.id)).toEqual(expect.arrayContaining([...ids]));
      const r = await run(model, 64);
      expect(r.status, r.error).toBe('done');
      expect(Object.values(r.outputs)[0]!.width).toBe(64);
    }
  });

  it('blends with the content features by alpha', async () => {
    const def = registry.get('efdm')!;
    const content = tf.tensor4d([0.5, -1, 2, 0], [1, 2, 2, 1]);
    const style = tf.tensor4d([40, 20, 10, 30], [1, 2, 2, 1]);
    type Compute = NonNullable<typeof def.compute>;
    const context = { tf, inputs: { content, style }, params: { alpha: 0.25 } } as unknown as Parameters<Compute>[0];
    const out = (await def.compute!(context)) as { features: tf.Tensor };
    // 0.25 * [30, 10, 40, 20] + 0.75 * content.
    expect(Array.from(await out.features.data())).toEqual([7.875, 1.75, 11.5, 5]);
  });
});
