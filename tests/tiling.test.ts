import { beforeAll, describe, expect, it } from 'vitest';
import { randomVgg19Weights, vgg19Forward, vgg19Tiling } from '../src/models/vgg19';
import { chooseTiling, stitchedPass, tileGrid, tiledLoop } from '../src/runtime/tiling';
import { graph, loadPreset, planOf, registry, run, tf, useWasm } from './helpers';

beforeAll(useWasm);

describe('tile grid', () => {
  it('splits H x W into aligned cores that cover every pixel once, with clipped halos', () => {
    // Cores of at most 48 - 2*8 = 32 px, multiples of 16: 100 rows -> 4 cores of 32 (the last 4), 70 columns -> 3.
    const tiles = tileGrid(100, 70, 48, 8, 16);
    expect(tiles.map((t) => `${t.y0}-${t.y1}`).filter((v, i, a) => a.indexOf(v) === i)).toEqual([
      '0-32',
      '32-64',
      '64-96',
      '96-100',
    ]);
    expect(tiles.map((t) => `${t.x0}-${t.x1}`).slice(0, 3)).toEqual(['0-32', '32-64', '64-70']);
    expect(tiles[0]).toMatchObject({ ey0: 0, ey1: 40, ex0: 0, ex1: 40 });
    expect(tiles[4]).toMatchObject({ y0: 32, x0: 32, ey0: 24, ey1: 72, ex0: 24, ex1: 70 });
    expect(tiles.at(-1)).toMatchObject({ ey0: 88, ey1: 100, ex0: 56, ex1: 70 });
    const covered = new Uint8Array(100 * 70);
    for (const t of tiles) for (let y = t.y0; y < t.y1; y++) for (let x = t.x0; x < t.x1; x++) covered[y * 70 + x]!++;
    expect(covered.every((c) => c === 1)).toBe(true);
  });
});

describe('VGG19 on tiles', () => {
  it('has halos that cover the receptive field (worked by hand) and strides per tap', () => {
    // relu1_1: one 3x3 conv, radius 1. relu3_1: 2 + 0.5 (pool) + 4 + 1 (pool) + 4 = 11.5 -> 12 at stride 4.
    // relu5_1: 77.5 -> 80 at stride 16.
    expect(vgg19Tiling(['relu1_1'])).toEqual({ strides: { relu1_1: 1 }, halo: 1 });
    expect(vgg19Tiling(['relu1_1', 'relu3_1'])).toEqual({ strides: { relu1_1: 1, relu3_1: 4 }, halo: 12 });
    expect(vgg19Tiling(['relu5_1', 'conv4_2']).halo).toBe(80);
  });

  it('gives a tile the same relu5_1 and relu1_1 inside its core as the whole image', () => {
    const w = randomVgg19Weights(tf, 'torchvision', 3);
    const image = tf.randomUniform([1, 208, 208, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const whole = vgg19Forward(tf, image, ['relu1_1', 'relu5_1'], w, 'max');
    // Core rows 96..112, columns 96..208 (the image's edge); extent 16..192 x 16..208.
    const tile = vgg19Forward(tf, tf.slice(image, [0, 16, 16, 0], [1, 176, 192, 3]), ['relu1_1', 'relu5_1'], w, 'max');
    const pairs: [tf.Tensor, tf.Tensor][] = [
      [tf.slice(whole.relu5_1!, [0, 6, 6, 0], [1, 1, 7, 512]), tf.slice(tile.relu5_1!, [0, 5, 5, 0], [1, 1, 7, 512])],
      [
        tf.slice(whole.relu1_1!, [0, 96, 96, 0], [1, 16, 112, 64]),
        tf.slice(tile.relu1_1!, [0, 80, 80, 0], [1, 16, 112, 64]),
      ],
    ];
    for (const [a, b] of pairs) {
      const err = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
      const scale = tf.max(tf.abs(a)).dataSync()[0]!;
      expect(scale).toBeGreaterThan(0);
      expect(err / scale).toBeLessThan(1e-5);
    }
    // Without the halo the tile's border features differ: the halo is needed.
    const bare = vgg19Forward(tf, tf.slice(image, [0, 96, 96, 0], [1, 16, 112, 3]), ['relu1_1'], w, 'max');
    expect(tf.max(tf.abs(tf.sub(bare.relu1_1!, pairs[1]![0]))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([image, ...Object.values(whole), ...Object.values(tile), ...pairs.flat(), bare.relu1_1!]);
    w.dispose();
  });
});

describe('a target pass on tiles', () => {
  it('stitches the same taps as one pass over the whole image, sizes that do not divide included', async () => {
    const w = randomVgg19Weights(tf, 'torchvision', 2);
    const image = tf.randomUniform([1, 70, 90, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const taps = ['relu1_1', 'relu2_2', 'relu3_1'];
    const whole = vgg19Forward(tf, image, taps, w, 'avg');
    const infos = Object.fromEntries(taps.map((t) => [t, { shape: whole[t]!.shape }]));
    const seen: number[] = [];
    const stitched = await stitchedPass(
      tf,
      (x) => vgg19Forward(tf, x as tf.Tensor4D, taps, w, 'avg'),
      image,
      vgg19Tiling(taps),
      40,
      infos,
      (_p, k) => seen.push(k),
    );
    // Cores of 40 - 2 * 12 = 16 px: 5 rows x 6 columns of tiles.
    expect(seen).toEqual([...Array(30).keys()].map((k) => k + 1));
    for (const t of taps) {
      expect(stitched[t]!.shape).toEqual(whole[t]!.shape);
      const err = tf.max(tf.abs(tf.sub(stitched[t]!, whole[t]!))).dataSync()[0]!;
      expect(err / tf.max(whole[t]!).dataSync()[0]!).toBeLessThan(1e-5);
    }
    tf.dispose([image, ...Object.values(whole), ...Object.values(stitched)]);
    w.dispose();
  });
});

/** A Gatys-like graph on shallow taps: Gram, content and mean/std losses on tiles, total variation on the whole image. */
const shallow = (method: string, contentNormalisation = 'gatys', lineSearch = 'strong-wolfe') =>
  graph(
    [
      ['content', 'image', { source: 'images/astronaut.jpg', slot: 'content' }],
      ['style', 'image', { source: 'images/swirls.jpg', slot: 'style' }],
      ['x', 'variable', { init: 'noise' }],
      ['enc_c', 'vgg19', { pooling: 'max', taps: ['relu2_2'] }],
      ['enc_s', 'vgg19', { pooling: 'max', taps: ['relu1_1', 'relu2_1', 'relu3_1'] }],
      ['enc_x', 'vgg19', { pooling: 'max', taps: ['relu1_1', 'relu2_1', 'relu2_2', 'relu3_1'] }],
      ['c', 'content-loss', { weight: 1e-3, normalisation: contentNormalisation }],
      ['s1', 'style-loss', { weight: 1 }],
      ['s3', 'style-loss', { weight: 1, normalisation: 'johnson' }],
      ['ms', 'meanstd-loss', { weight: 0.5 }],
      ['styles', 'sum', { weight: 100 }],
      ['tv', 'tv-loss', { weight: 0.01 }],
      ['total', 'sum', {}],
      ['optim', 'optimiser', { method, steps: 3, learningRate: 0.05, previewEvery: 0, lineSearch }],
      ['out', 'output', {}],
    ],
    [
      ['content.image', 'enc_c.image'],
      ['style.image', 'enc_s.image'],
      ['content.image', 'x.content'],
      ['x.image', 'enc_x.image'],
      ['enc_x.relu2_2', 'c.input'],
      ['enc_c.relu2_2', 'c.target'],
      ['enc_x.relu1_1', 's1.input'],
      ['enc_s.relu1_1', 's1.target'],
      ['enc_x.relu3_1', 's3.input'],
      ['enc_s.relu3_1', 's3.target'],
      ['enc_x.relu2_1', 'ms.input'],
      ['enc_s.relu2_1', 'ms.target'],
      ['s1.loss', 'styles.terms'],
      ['s3.loss', 'styles.terms'],
      ['ms.loss', 'styles.terms'],
      ['styles.total', 'total.terms'],
      ['c.loss', 'total.terms'],
      ['x.image', 'tv.image'],
      ['tv.loss', 'total.terms'],
      ['x.image', 'optim.variable'],
      ['total.total', 'optim.loss'],
      ['optim.image', 'out.image'],
    ],
  );

describe('a run on tiles', () => {
  it('splits the loop: passes over the variable, losses on their taps, the rest on the whole image', async () => {
    const { plan } = await planOf(shallow('adam'), 64);
    const loop = tiledLoop(plan, registry);
    if ('reason' in loop) throw new Error(loop.reason);
    expect(loop.passes.map((p) => p.nodes)).toEqual([['enc_x']]);
    expect(loop.terms.map((t) => [t.step.id, t.multiplier])).toEqual([
      ['c', 1],
      ['s1', 100],
      ['s3', 100],
      ['ms', 100],
    ]);
    expect(loop.rest.map((s) => s.id)).toEqual(['tv', 'styles', 'total']);
    expect(loop).toMatchObject({ halo: 12, align: 4, size: [64, 64] });
  });

  it('says why a loop cannot be tiled', async () => {
    const { plan } = await planOf(shallow('adam', 'mvn-mse'), 64);
    expect(tiledLoop(plan, registry)).toEqual({ reason: '"c" (content-loss) has no tiled form with these settings' });
    expect(chooseTiling(plan, registry, 'wasm', { extent: 40 })).toEqual({
      warning: 'not tiled (tiles were asked for): "c" (content-loss) has no tiled form with these settings',
    });
    expect(chooseTiling(plan, registry, 'wasm')).toBeNull();
  });

  // L-BFGS without a line search: a strong-Wolfe search turns float-rounding differences in the loss (1e-5,
  // Grams summed tile by tile) into a different accepted step, so it is not a test of the gradient.
  it('tiles on WebGPU when one activation would exceed its 128 MiB binding, however much memory there is', async () => {
    const { plan } = await planOf(loadPreset('gatys.json'), 768);
    // relu1_1 of a 768 px image is 64 x 768 x 768 floats: 144 MiB.
    const choice = chooseTiling(plan, registry, 'webgpu', { limit: 2 ** 40 });
    if (!choice || !('loop' in choice)) throw new Error('expected tiles');
    // At most sqrt(128 MiB / 256 B per px) = 724 px a side: cores of 724 - 160 -> 560 px, spread as 2 x 2 of 384.
    expect(choice.message).toBe(
      "tiling 768x768 into 4 tiles of 384 px (+80 px halo): one activation would be 144 MiB, over WebGPU's 128 MiB binding",
    );
    expect(Math.max(...choice.tiles.map((t) => (t.ey1 - t.ey0) * (t.ex1 - t.ex0))) * 64 * 4).toBeLessThanOrEqual(
      128 * 2 ** 20,
    );
    expect(chooseTiling(plan, registry, 'wasm', { limit: 2 ** 40 })).toBeNull();
  });

  it('runs a loop whose every term is on tiles (no total variation), with the same steps', async () => {
    const styleOnly = graph(
      [
        ['style', 'image', { source: 'images/swirls.jpg', slot: 'style' }],
        ['x', 'variable', { init: 'noise' }],
        ['enc_s', 'vgg19', { pooling: 'max', taps: ['relu1_1', 'relu2_1'] }],
        ['enc_x', 'vgg19', { pooling: 'max', taps: ['relu1_1', 'relu2_1'] }],
        ['s1', 'style-loss', {}],
        ['s2', 'style-loss', {}],
        ['total', 'sum', { weight: 10 }],
        ['optim', 'optimiser', { method: 'sgd', steps: 2, learningRate: 0.05, previewEvery: 0 }],
        ['out', 'output', {}],
      ],
      [
        ['style.image', 'enc_s.image'],
        ['style.image', 'x.content'],
        ['x.image', 'enc_x.image'],
        ['enc_x.relu1_1', 's1.input'],
        ['enc_s.relu1_1', 's1.target'],
        ['enc_x.relu2_1', 's2.input'],
        ['enc_s.relu2_1', 's2.target'],
        ['s1.loss', 'total.terms'],
        ['s2.loss', 'total.terms'],
        ['x.image', 'optim.variable'],
        ['total.total', 'optim.loss'],
        ['optim.image', 'out.image'],
      ],
    );
    const whole = await run(styleOnly, 32, { tiling: false });
    const before = tf.memory().numTensors;
    const tiled = await run(styleOnly, 32, { tiling: { extent: 16 } });
    expect(tiled.status, tiled.error).toBe('done');
    whole.steps.forEach((s, i) => expect(Math.abs(tiled.steps[i]!.loss - s.loss) / s.loss).toBeLessThan(1e-4));
    expect(whole.steps.at(-1)!.loss).toBeLessThan(whole.steps[0]!.loss);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("matches the whole image for VGG's normalised variant (reflection padding, ceil pooling), an odd size and a weight input", async () => {
    const g = shallow('sgd', 'gatys', 'none');
    for (const id of ['enc_c', 'enc_s', 'enc_x']) g.nodes.find((n) => n.id === id)!.params.variant = 'normalised';
    // Features of 0..255 inputs: a much smaller step.
    g.nodes.find((n) => n.id === 'optim')!.params.learningRate = 1e-7;
    g.nodes.push({ id: 'w1', type: 'scalar', position: { x: 0, y: 0 }, params: { value: 3 } });
    g.edges.push({ from: { node: 'w1', output: 'value' }, to: { node: 's1', input: 'weight' } });
    // 62 px: relu3_1 is 16 x 16 (ceil), the last row of cores is 14 px.
    const whole = await run(g, 62, { tiling: false });
    const before = tf.memory().numTensors;
    const tiled = await run(g, 62, { tiling: { extent: 40 } });
    expect(tiled.status, tiled.error).toBe('done');
    whole.steps.forEach((s, i) => {
      expect(Math.abs(tiled.steps[i]!.loss - s.loss) / s.loss).toBeLessThan(2e-4);
      expect(Math.abs(tiled.steps[i]!.terms.s1! - s.terms.s1!) / s.terms.s1!).toBeLessThan(2e-4);
    });
    expect(whole.steps.at(-1)!.loss).toBeLessThan(whole.steps[0]!.loss);
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const method of ['sgd', 'adam', 'lbfgs']) {
    it(`gives the same losses and steps as the whole image (${method}, 16 tiles)`, async () => {
      const graph = shallow(method, 'gatys', 'none');
      // L-BFGS's line search amplifies rounding: with Winograd's F(4x4) tiles, which fall differently on a tile
      // than on the whole image, one pixel ended 3/255 apart. Tiling is what this compares: the direct convs.
      const direct = method === 'lbfgs' ? { winograd: 'off' as const } : {};
      const whole = await run(graph, 64, { tiling: false, ...direct });
      const before = tf.memory().numTensors;
      const events: string[] = [];
      const tiled = await run(graph, 64, {
        ...direct,
        tiling: { extent: 40 },
        onEvent: (e) => e.type === 'status' && events.push(e.message),
      });
      expect(tiled.status).toBe('done');
      expect(events).toContain('tiling 64x64 into 16 tiles of 16 px (+12 px halo)');
      expect(tiled.steps).toHaveLength(whole.steps.length);
      whole.steps.forEach((s, i) => {
        const t = tiled.steps[i]!;
        expect(Math.abs(t.loss - s.loss) / s.loss).toBeLessThan(2e-4);
        for (const [k, v] of Object.entries(s.terms))
          expect(Math.abs(t.terms[k]! - v)).toBeLessThanOrEqual(2e-4 * Math.abs(v) + 1e-6);
      });
      // The loss moved, so the gradients agreed too (a wrong gradient would move it elsewhere).
      expect(whole.steps.at(-1)!.loss).toBeLessThan(whole.steps[0]!.loss);
      const a = whole.outputs.out!.data;
      const b = tiled.outputs.out!.data;
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      expect(diff).toBeLessThanOrEqual(2);
      expect(tiled.tensors.atEnd).toBe(tiled.tensors.afterFirstStep);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
