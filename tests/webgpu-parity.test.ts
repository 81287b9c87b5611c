import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { importPack } from '../src/cli/security/plugins';
import { registerNodeWebgpu } from '../src/cli/node/node-webgpu';
import { convValid } from '../src/models/conv';
import { mulberry32, randomNormal } from '../src/models/random';
import { convBiasRelu } from '../src/models/vgg19';
import { gramMatrix } from '../src/ops/losses';
import { matMul } from '../src/ops/matmul';
import { addMany } from '../src/ops/sum';
import { PackHost } from '../src/plugin/packs';
import type { RunOptions } from '../src/runtime/executor';
import type { LoadedCheckpoint } from '../src/plugin/types';
import { checkpoint, fixture } from './parity';
import { documentAccess, loadDocumentImages } from '../src/cli/node/node-session';
import type { GraphModel } from '../src/graph/model';
import { execute } from '../src/runtime/executor';
import { createModelCache } from '../src/runtime/models';
import { compileWithImages, makeServices } from '../src/runtime/sources';
import { loadPreset, tf, useWasm, withParams } from './helpers';

/**
 * Every preset on tfjs's webgpu backend against wasm, in one process (both backends start once): step 0's loss and
 * gradient within 1e-4 for optimisations and trainings, the picture within 2/255 for feed-forward graphs; and the
 * custom kernels (fused conv + bias + relu, valid convs with their filter gradient, products without transpose flags,
 * Gram matrices in chunks, tiles) on webgpu against tfjs's cpu backend. This machine has no GPU: Dawn's Node binding
 * runs on SwiftShader's Vulkan driver (software, from Debian's chromium), so sizes are tiny. Without an adapter the
 * suite is skipped with the reason, except on CI, which installs one (.ci/run: chromium, libvulkan1).
 */
const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
const vulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(
  existsSync,
);
if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
if (!process.env.XDG_RUNTIME_DIR) {
  const xdg = join(mkdtempSync(join(tmpdir(), 'stylegraph-parity-')), 'xdg');
  mkdirSync(xdg, { mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = xdg;
}
const why =
  !existsSync(icd) && !process.env.VK_ICD_FILENAMES
    ? "no Vulkan driver (SwiftShader comes with Debian's chromium)"
    : !vulkan
      ? 'no Vulkan loader (libvulkan1)'
      : null;
if (why && process.env.CI) throw new Error(`${why}: .ci/run installs it`);
if (why) console.warn(`webgpu parity skipped: ${why}`);

const SIZE = 24;
/**
 * The networks at a sixteenth of their widths (tests/fixtures, written by scripts/make-parity-fixtures.py from
 * PyTorch): the same kernels at a fraction of SwiftShader's time. A name without a fixture gets seeded random weights.
 */
const tiny = (name: string, file: string): LoadedCheckpoint => ({
  name,
  source: fixture(file).pathname,
  tensors: checkpoint(file),
});
/** Compiles (at the checkpoints' widths, which tiling needs) and runs a preset-relative model on the current backend. */
async function run(
  model: GraphModel,
  size: number,
  options: RunOptions,
  reg: typeof registry,
  ckpts: LoadedCheckpoint[],
) {
  const docPath = new URL('../presets/doc.json', import.meta.url).pathname;
  const { images, errors } = await loadDocumentImages(model, reg, docPath);
  if (errors.length) throw new Error(errors.join('\n'));
  const store = { get: (name: string) => ckpts.find((c) => c.name === name) };
  const { plan, diagnostics } = compileWithImages(model, reg, images, size, undefined, store);
  if (!plan) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const models = createModelCache();
  try {
    return await execute(plan, reg, makeServices(tf, images, size, 0, models, store, documentAccess(docPath)), options);
  } finally {
    models.dispose();
  }
}
const checkpoints = [
  tiny('vgg19', 'vgg19-tiny.pth'),
  tiny('vgg_normalised', 'vgg_normalised-tiny.pth'),
  tiny('adain-decoder', 'decoder-tiny.pth'),
  tiny('sanet-transformer', 'sanet-transformer-tiny.pth'),
  tiny('sanet-decoder', 'decoder-tiny.pth'),
  tiny('resnet50', 'resnet50-tiny.pth'),
  tiny('vgg19-caffe', 'vgg19-tiny.pth'),
];
const registry = builtinRegistry();
let adapter = '';

beforeAll(async () => {
  await useWasm();
  const { module, origin } = await importPack('examples/pack-wct', new URL('..', import.meta.url).pathname);
  const r = new PackHost(registry).install(module, origin);
  if (!r.ok) throw new Error(r.error);
  if (why) return;
  const gpu = await registerNodeWebgpu(true);
  if ('reason' in gpu) throw new Error(`webgpu: ${gpu.reason}`);
  adapter = gpu.adapter;
  expect(await tf.setBackend('webgpu')).toBe(true);
  await tf.setBackend('wasm');
}, 120_000);
afterAll(() => tf.setBackend('wasm'));

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
/** Largest |a - b| over the largest |b|: an error relative to the array's scale. */
function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let [err, scale] = [0, 0];
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / scale;
}

type Kind = 'optimisation' | 'training' | 'feed-forward';
function kindOf(name: string): { kind: Kind; optimiser?: string } {
  const opt = loadPreset(name).nodes.find((n) => registry.get(n.type)?.role === 'optimiser');
  if (!opt) return { kind: 'feed-forward' };
  return { kind: opt.type === 'optimiser' ? 'optimisation' : 'training', optimiser: opt.id };
}

/** A preset as a headless run takes it: a live camera's frame is a photo here (as `--content` gives it). */
function presetModel(name: string) {
  const model = loadPreset(name);
  model.nodes = model.nodes.map((n) =>
    n.type === 'camera' ? { ...n, type: 'image', params: { source: 'images/astronaut.jpg', slot: 'content' } } : n,
  );
  return model;
}

interface StepZero {
  loss: number;
  terms: Record<string, number>;
  /** The gradient of every variable at step 0, laid end to end. */
  grad: Float32Array | null;
  outputs: Record<string, Uint8Array | Uint8ClampedArray>;
}

/** Step 0 of a preset on a backend: one gradient evaluation and the loss before any update. */
async function stepZero(
  name: string,
  backend: 'wasm' | 'webgpu',
  options: RunOptions = {},
  params: Record<string, unknown> = {},
): Promise<StepZero> {
  expect(await tf.setBackend(backend)).toBe(true);
  const { kind, optimiser } = kindOf(name);
  let model = withParams(presetModel(name), params);
  // One update of plain gradient descent: a single evaluation of loss and gradient at the starting point.
  if (kind === 'optimisation')
    model = withParams(model, {
      [`${optimiser}.steps`]: 1,
      [`${optimiser}.method`]: 'sgd',
      [`${optimiser}.previewEvery`]: 0,
    });
  if (kind === 'training') {
    // Trained networks at the tiny encoder's widths (relu4_1: 32 channels), as tests/training.test.ts trains them.
    const widths = Object.fromEntries(
      model.nodes
        .filter((n) => n.type === 'decoder-model' || n.type === 'sanet-model')
        .map((n) => [`${n.id}.channels`, 32]),
    );
    // Batches of one photo: the same kernels in a quarter of the time.
    for (const n of model.nodes) if (n.type === 'image-folder') widths[`${n.id}.batch`] = 1;
    model = withParams(model, { [`${optimiser}.steps`]: 1, ...widths });
  }
  const kept: tf.Tensor[] = [];
  const r = await run(
    model,
    SIZE,
    { ...options, onGradient: (e, grads) => e === 0 && kept.push(...grads.map((g) => tf.clone(g))) },
    registry,
    checkpoints,
  );
  expect(r.status, r.error).toBe('done');
  expect(tf.getBackend()).toBe(backend);
  let grad: Float32Array | null = null;
  if (kept.length) {
    const flat = tf.concat(kept.map((g) => tf.reshape(g, [-1])));
    grad = (await flat.data()) as Float32Array;
    tf.dispose([flat, ...kept]);
  }
  const first = r.steps[0];
  return {
    loss: first?.loss ?? NaN,
    terms: first?.terms ?? {},
    grad,
    outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.data])),
  };
}

/** Node types whose loss depends on the order of values (sorting, topk): exact ties break per backend. */
const RANK_BASED = new Set(['wct/histogram-loss']);
const presets = readdirSync(new URL('../presets', import.meta.url)).filter((f) => f.endsWith('.json'));
/** Measured errors, printed at the end (PARITY_TABLE=1) for docs/benchmarks.md. */
const table: string[] = [];
afterAll(() => {
  if (process.env.PARITY_TABLE) console.log(`webgpu (${adapter}) against wasm, ${SIZE} px:\n${table.join('\n')}`);
});

describe.skipIf(why)('every preset on webgpu against wasm', () => {
  it.each(presets)(
    '%s',
    async (name) => {
      const { kind } = kindOf(name);
      let wasm = await stepZero(name, 'wasm');
      let gpu = await stepZero(name, 'webgpu');
      if (kind === 'feed-forward') {
        expect(Object.keys(gpu.outputs)).toEqual(Object.keys(wasm.outputs));
        expect(Object.keys(wasm.outputs).length).toBeGreaterThan(0);
        let worst = 0;
        for (const [k, want] of Object.entries(wasm.outputs)) {
          const got = gpu.outputs[k]!;
          expect(got.length).toBe(want.length);
          for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        }
        table.push(`| ${name} | picture: ${worst}/255 |`);
        expect(worst).toBeLessThanOrEqual(2);
        return;
      }
      // A loss that ranks values (the histogram loss sorts activations) orders ties, such as relu's zeros, as each
      // backend's topk happens to: it agrees only to about 1%. Such terms are checked on their own, and the rest
      // of the loss and its gradient strictly, with their weights at 0.
      const ranked = loadPreset(name)
        .nodes.filter((n) => RANK_BASED.has(n.type))
        .map((n) => n.id);
      for (const id of ranked) {
        const e = rel(gpu.terms[id]!, wasm.terms[id]!);
        table.push(`| ${name} | ${id} (rank-based): ${e.toExponential(1)} |`);
        expect(e, id).toBeLessThan(0.02);
      }
      if (ranked.length) {
        const zero = Object.fromEntries(ranked.map((id) => [`${id}.weight`, 0]));
        [wasm, gpu] = [await stepZero(name, 'wasm', {}, zero), await stepZero(name, 'webgpu', {}, zero)];
      }
      const [lossErr, gradErr] = [rel(gpu.loss, wasm.loss), relMax(gpu.grad!, wasm.grad!)];
      table.push(
        `| ${name}${ranked.length ? ` without ${ranked.join(', ')}` : ''} | loss ${lossErr.toExponential(1)}, gradient ${gradErr.toExponential(1)} |`,
      );
      expect(Number.isFinite(wasm.loss)).toBe(true);
      expect(wasm.grad!.some((v) => v !== 0)).toBe(true);
      expect(lossErr, 'step-0 loss').toBeLessThan(1e-4);
      expect(gradErr, 'step-0 gradient').toBeLessThan(1e-4);
    },
    300_000,
  );
});

describe.skipIf(why)('tiles on webgpu', () => {
  it('Gatys on 4 tiles of 16 px: step 0 as wasm on tiles and as webgpu whole, within 1e-4', async () => {
    const tiles: number[] = [];
    const onEvent: RunOptions['onEvent'] = (e) => e.type === 'tile' && tiles.push(e.tiles);
    const gpuTiled = await stepZero('gatys.json', 'webgpu', { tiling: { extent: 16 }, onEvent });
    expect(Math.max(...tiles)).toBeGreaterThanOrEqual(4);
    const wasmTiled = await stepZero('gatys.json', 'wasm', { tiling: { extent: 16 } });
    const gpuWhole = await stepZero('gatys.json', 'webgpu', { tiling: false });
    expect(rel(gpuTiled.loss, wasmTiled.loss)).toBeLessThan(1e-4);
    expect(relMax(gpuTiled.grad!, wasmTiled.grad!)).toBeLessThan(1e-4);
    expect(rel(gpuTiled.loss, gpuWhole.loss)).toBeLessThan(1e-4);
    expect(relMax(gpuTiled.grad!, gpuWhole.grad!)).toBeLessThan(1e-4);
  }, 300_000);
});

describe.skipIf(why)('device L-BFGS on webgpu', () => {
  it('takes the same Gatys steps as the float64 one (within 1%), with a steady tensor count', async () => {
    expect(await tf.setBackend('webgpu')).toBe(true);
    const gatys = (on: string) =>
      withParams(loadPreset('gatys.json'), { 'optim.steps': 5, 'optim.previewEvery': 0, 'optim.lbfgsOn': on });
    const statuses: string[] = [];
    const auto = await run(
      gatys('auto'),
      SIZE,
      { onEvent: (e) => e.type === 'status' && statuses.push(e.message) },
      registry,
      checkpoints,
    );
    const host = await run(gatys('host'), SIZE, {}, registry, checkpoints);
    expect(auto.status, auto.error).toBe('done');
    expect(host.status, host.error).toBe('done');
    // auto is the device on webgpu.
    expect(statuses).toContain('optimising with lbfgs (on the device, float32)');
    expect(auto.steps.length).toBe(host.steps.length);
    auto.steps.forEach((s, i) => expect(rel(s.loss, host.steps[i]!.loss), `step ${i}`).toBeLessThan(0.01));
    expect(auto.steps.at(-1)!.loss).toBeLessThan(auto.steps[0]!.loss);
    expect(auto.tensors.afterFirstStep).toBe(auto.tensors.atEnd);
    await tf.setBackend('wasm');
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------------------------
// The custom kernels, each on webgpu against tfjs's own ops on the cpu backend (plain autodiff, float32). A tensor a
// custom gradient closes over must be made outside the function being differentiated (else the tape frees it before
// the backward pass, which on webgpu breaks the backend for every later op: "reading 'backend'").

const REFERENCE = 'cpu';
const rand = (shape: number[], seed: number) =>
  tf.tensor(
    randomNormal(
      shape.reduce((a, b) => a * b),
      1,
      mulberry32(seed),
    ),
    shape,
  );

/** Runs `f` on a backend and reads every tensor it returns (value and gradients). */
async function on(backend: 'cpu' | 'wasm' | 'webgpu', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  expect(await tf.setBackend(backend)).toBe(true);
  const before = tf.memory().numTensors;
  const out = tf.tidy(f);
  // One read at a time: concurrent reads trip tfjs-webgpu 4.22's pending disposals ("reading 'backend'").
  const data: Float32Array[] = [];
  for (const t of out) data.push((await t.data()) as Float32Array);
  tf.dispose(out);
  expect(tf.memory().numTensors).toBe(before);
  return data;
}
async function expectKernel(ours: () => tf.Tensor[], reference: () => tf.Tensor[], tolerance = 1e-5) {
  const [got, want] = [await on('webgpu', ours), await on(REFERENCE, reference)];
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(relMax(g, want[i]!), `output ${i}`).toBeLessThan(tolerance));
  await tf.setBackend('wasm');
}
/** Sum of the output times a fixed random weight: a loss whose gradient is not all ones. */
const weigh = (y: tf.Tensor, seed: number) => tf.sum(tf.mul(y, rand(y.shape, seed)));

describe.skipIf(why)('custom kernels on webgpu against tfjs on cpu', () => {
  const x = () => rand([1, 7, 6, 3], 1) as tf.Tensor4D;
  const w = () => ({ kernel: rand([3, 3, 3, 5], 2) as tf.Tensor4D, bias: rand([5], 3) });

  it.each([false, true])(
    'fused conv + bias + relu and its input gradient (reflection padding: %s)',
    async (reflect) => {
      type Conv = (input: tf.Tensor4D, k: { kernel: tf.Tensor4D; bias: tf.Tensor; flipped: tf.Tensor4D }) => tf.Tensor;
      const reference: Conv = (input, { kernel, bias }) =>
        tf.relu(
          tf.add(
            tf.conv2d(
              reflect
                ? tf.mirrorPad(
                    input,
                    [
                      [0, 0],
                      [1, 1],
                      [1, 1],
                      [0, 0],
                    ],
                    'reflect',
                  )
                : input,
              kernel,
              1,
              reflect ? 'valid' : 'same',
            ),
            bias,
          ),
        );
      const ours: Conv = (input, k) => convBiasRelu(tf, input, k, reflect);
      const both = (f: Conv) => () => {
        // The flipped kernel is made before the gradient is taken, as VGG19's weights hold it.
        const { kernel, bias } = w();
        const k = { kernel, bias, flipped: tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D };
        const grad = tf.grad((i: tf.Tensor) => weigh(f(i as tf.Tensor4D, k), 4))(x());
        return [f(x(), k), grad];
      };
      await expectKernel(both(ours), both(reference));
    },
  );

  it('a valid conv of a trained kernel: value, input gradient and filter gradient', async () => {
    const both = (conv: (i: tf.Tensor4D, k: tf.Tensor4D) => tf.Tensor) => () => {
      const k = tf.variable(rand([3, 3, 3, 5], 2), true);
      const input = x();
      const { value, grads } = tf.variableGrads(
        () => weigh(conv(input, k as unknown as tf.Tensor4D), 4) as tf.Scalar,
        [k],
      );
      value.dispose();
      const dx = tf.grad((i: tf.Tensor) => weigh(conv(i as tf.Tensor4D, k as unknown as tf.Tensor4D), 4))(input);
      const out = [conv(input, k as unknown as tf.Tensor4D), grads[k.name]!, dx];
      k.dispose();
      return out;
    };
    await expectKernel(
      both((i, k) => convValid(tf, i, k)),
      both((i, k) => tf.conv2d(i, k, 1, 'valid')),
    );
  });

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('products with operands transposed by copy (transpose a: %s, b: %s) and their gradients', async (ta, tb) => {
    const both = (mm: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => () => {
      const a = rand(ta ? [6, 4] : [4, 6], 5);
      const b = rand(tb ? [3, 6] : [6, 3], 6);
      const grads = tf.grads((p: tf.Tensor, q: tf.Tensor) => weigh(mm(p, q), 7))([a, b]);
      return [mm(a, b), ...grads];
    };
    await expectKernel(
      both((a, b) => matMul(tf, a, b, ta, tb)),
      both((a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb)),
    );
  });

  it.each([2, 7, 8, 20])('a sum of %i tensors (a weighted sum of many loss terms) and its gradient', async (n) => {
    // tf.addN of 8 or more tensors is an invalid pipeline on WebGPU (8 storage buffers a stage): addMany groups them.
    const both = (sum: (ts: tf.Tensor[]) => tf.Tensor) => () => {
      const ts = Array.from({ length: n }, (_, i) => rand([3, 4], 20 + i));
      const grads = tf.grads((...xs: tf.Tensor[]) => weigh(sum(xs), 9))(ts);
      return [sum(ts), ...grads];
    };
    await expectKernel(
      both((ts) => addMany(tf, ts)),
      both((ts) => tf.addN(ts)),
    );
  });

  it.each([1000, 10, 7])('a Gram matrix in chunks of %i positions and its gradient', async (chunk) => {
    // 1 x 6 x 6 x 5 features: 36 positions, so chunks of 10 and 7 leave a shorter last chunk.
    const both = (gram: (f: tf.Tensor) => tf.Tensor) => () => {
      const f = rand([1, 6, 6, 5], 8);
      const grad = tf.grad((t: tf.Tensor) => weigh(gram(t), 9))(f);
      return [gram(f), grad];
    };
    await expectKernel(
      both((f) => gramMatrix(tf, f, chunk)),
      both((f) => {
        const m = tf.reshape(f, [36, 5]) as tf.Tensor2D;
        return tf.matMul(m, m, true, false);
      }),
    );
  });
});
