/**
 * Benchmarks, measured in one run so the ratios compare like with like (docs/benchmarks.md has a run's tables).
 *   npm run bench                  Gatys iteration: the compiled plan against plain tfjs and PyTorch (wasm 128/256,
 *                                  cpu 128), AdaIN and SANet feed-forward at 256/512, memory over 500 steps
 *   npm run bench -- --cpu-256     adds the cpu backend at 256 px (about 2 minutes a step)
 *   npm run bench -- --only NAME   one section: gatys, feedforward, memory, tiles, browser
 *   npm run bench -- --browser     adds headless Chromium (webgl and wasm), from the built app (npm run build first)
 *   npm run bench -- --write       writes docs/benchmarks.md from this run
 *   npm run bench -- --smoke       one tiny configuration of each kind, for CI
 *   npm run bench -- --load FILE   time to read a VGG19 checkpoint and turn it into tfjs tensors
 *   npm run bench -- --backend webgpu [--sizes 128,256] [--steps N]
 *                                  per-step Gatys times on that backend (also wasm, cpu), and device against host
 *                                  L-BFGS (scripts/bench-backend.ts)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { builtinRegistry } from '../nodes';
import { loadDocumentImages } from '../src/cli/node/node-session';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { parseDocument } from '../src/graph/document';
import type { GraphModel } from '../src/graph/model';
import { imageToTensor } from '../src/ops/image';
import { VGG19_CONVS, VGG19_LAYERS, randomVgg19Weights, type Vgg19Weights } from '../src/models/vgg19';
import { vgg19FromStateDict } from '../src/models/checkpoints';
import { readCheckpoint } from '../src/models/weights/read';
import { execute, type RunOptions } from '../src/runtime/executor';
import { createModelCache } from '../src/runtime/models';
import { compileWithImages, makeServices, type DecodedImage } from '../src/runtime/sources';
import type { BackendName } from '../src/runtime/backend';

/** This page's wasm rows are one thread's, like for like with PyTorch's 1-thread column; threads: scripts/bench-threads.ts. */
const ONE_THREAD = { threads: 1 };
const argv = process.argv.slice(2);
const args = new Set(argv);
const smoke = args.has('--smoke');
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const registry = builtinRegistry();
const lines: string[] = [];
const say = (s = '') => {
  console.log(s);
  lines.push(s);
};

if (args.has('--load')) {
  await benchLoad(argv[argv.indexOf('--load') + 1]!);
  process.exit(0);
}
if (args.has('--backend')) {
  // Per-step times on one backend (webgpu on a real GPU), and device against host L-BFGS: scripts/bench-backend.ts.
  const { benchBackend } = await import('./bench-backend');
  await benchBackend(argv[argv.indexOf('--backend') + 1] as BackendName, argv, say);
  process.exit(0);
}

async function benchLoad(path: string): Promise<void> {
  await startNodeBackend('wasm', ONE_THREAD);
  const t0 = performance.now();
  const bytes = readFileSync(path);
  const t1 = performance.now();
  const dict = readCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  const t2 = performance.now();
  const weights = vgg19FromStateDict(tf, dict, 'torchvision', path);
  VGG19_CONVS.forEach((l) => weights.conv(l.name));
  const t3 = performance.now();
  console.log(`${path}: ${(bytes.length / 2 ** 20).toFixed(0)} MiB, ${dict.size} tensors`);
  console.log(
    `read file ${(t1 - t0).toFixed(0)} ms, parse .pth ${(t2 - t1).toFixed(0)} ms, to tfjs tensors (transposed, flipped kernels) ${(t3 - t2).toFixed(0)} ms; total ${(t3 - t0).toFixed(0)} ms`,
  );
  weights.dispose();
}

function preset(name: string): { model: GraphModel; path: string } {
  const path = here(`../presets/${name}`);
  return { model: parseDocument(readFileSync(path, 'utf8')).model!, path };
}
const gatys = preset('gatys.json');
const { images } = await loadDocumentImages(gatys.model, registry, gatys.path);
const beta = gatys.model.nodes.find((n) => n.id === 'style_total')!.params.weight as number;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (ms: number | undefined) =>
  ms === undefined ? '–' : ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}x` : '–');

/** The Gatys preset with Adam through the compiler and executor: mean ms per step over steps 1..N. */
async function planStep(backend: BackendName, size: number, steps: number, options: RunOptions = {}): Promise<number> {
  await startNodeBackend(backend, ONE_THREAD);
  const model = structuredClone(gatys.model);
  Object.assign(model.nodes.find((n) => n.id === 'optim')!.params, { method: 'adam', steps, previewEvery: 0 });
  const { plan } = compileWithImages(model, registry, images, size);
  const models = createModelCache();
  try {
    const r = await execute(plan!, registry, makeServices(tf, images, size, 0, models), options);
    if (r.status !== 'done') throw new Error(`plan ${backend} ${size}: ${r.status} ${r.error ?? ''}`);
    return mean(r.steps.slice(1).map((s) => s.ms));
  } finally {
    models.dispose();
  }
}

/**
 * The same iteration written by hand in plain tfjs, as a user would without StyleGraph: the same random weights
 * and images, a forward loop, targets computed once, tf.train.adam, the loss read back every step.
 * `tricks`: the kernels StyleGraph uses, written inline: conv+bias+relu as one fused op whose input gradient is a
 * forward conv with the flipped kernel, and Grams of explicitly transposed features (tfjs-wasm's matMul is slow
 * with transpose flags); otherwise plain tfjs ops and their built-in gradients.
 */
/** Step-0 losses of the hand-written loop by variant: both variants must compute the same function. */
const handLoss = new Map<string, number>();

async function handStep(backend: BackendName, size: number, steps: number, tricks: boolean): Promise<number> {
  await startNodeBackend(backend, ONE_THREAD);
  const w: Vgg19Weights = randomVgg19Weights(tf, 'torchvision', 0);
  const styleTaps = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];
  const convRelu = (x: tf.Tensor4D, name: string) => {
    const { kernel, bias, flipped } = w.conv(name);
    if (!tricks) return tf.relu(tf.add(tf.conv2d(x, kernel, 1, 'same'), bias)) as tf.Tensor4D;
    const f = tf.customGrad((...args) => {
      const [input, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
      const y = tf.fused.conv2d({ x: input, filter: kernel, strides: 1, pad: 'same', bias, activation: 'relu' });
      save([y]);
      return {
        value: y,
        gradFunc: (dy, [ys]) => tf.conv2d(tf.mul(dy, tf.step(ys!)) as tf.Tensor4D, flipped, 1, 'same'),
      };
    });
    return f(x) as tf.Tensor4D;
  };
  const conv = (x: tf.Tensor4D, name: string) => {
    const { kernel, bias, flipped } = w.conv(name);
    if (!tricks) return tf.add(tf.conv2d(x, kernel, 1, 'same'), bias) as tf.Tensor4D;
    const f = tf.customGrad((input) => ({
      value: tf.add(tf.conv2d(input as tf.Tensor4D, kernel, 1, 'same'), bias),
      gradFunc: (dy) => tf.conv2d(dy as tf.Tensor4D, flipped, 1, 'same'),
    }));
    return f(x) as tf.Tensor4D;
  };
  const forward = (image: tf.Tensor4D, taps: string[]) => {
    const out: Record<string, tf.Tensor4D> = {};
    let x = tf.div(tf.sub(image, [0.485, 0.456, 0.406]), [0.229, 0.224, 0.225]) as tf.Tensor4D;
    const last = Math.max(...taps.map((t) => VGG19_LAYERS.findIndex((l) => l.name === t)));
    for (let i = 0; i <= last; i++) {
      const l = VGG19_LAYERS[i]!;
      if (l.kind === 'conv' && !taps.includes(l.name) && i < last) {
        x = convRelu(x, l.name);
        i++; // the relu is done
      } else x = l.kind === 'conv' ? conv(x, l.name) : l.kind === 'relu' ? tf.relu(x) : tf.avgPool(x, 2, 2, 'valid');
      if (taps.includes(VGG19_LAYERS[i]!.name)) out[VGG19_LAYERS[i]!.name] = x;
    }
    return out;
  };
  const gram = (f: tf.Tensor) => {
    const m = tf.reshape(f, [-1, f.shape[3]!]) as tf.Tensor2D;
    if (!tricks) return tf.matMul(m, m, true, false);
    const g = tf.customGrad((...args) => {
      const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      save([x]);
      return {
        value: tf.matMul(tf.transpose(x), x),
        gradFunc: (dy, [xs]) => tf.matMul(xs as tf.Tensor2D, tf.add(dy, tf.transpose(dy)) as tf.Tensor2D),
      };
    });
    return g(m);
  };
  const img = (source: string) => imageToTensor(tf, images.get(source) as DecodedImage, size);
  const src = (slot: string) => gatys.model.nodes.find((n) => n.params.slot === slot)!.params.source as string;
  const [contentTarget, styleTargets] = tf.tidy(() => {
    const c = forward(img(src('content')), ['conv4_2']).conv4_2!;
    const s = forward(img(src('style')), styleTaps);
    return [c, styleTaps.map((t) => gram(s[t]!))] as const;
  });
  const [h, wd] = contentTarget.shape.slice(1, 3).map((d) => d * 8);
  const x = tf.variable(tf.randomUniform([1, h!, wd!, 3], 0, 1, 'float32', 1));
  const adam = tf.train.adam(0.02);
  const loss = () => {
    const f = forward(x as tf.Tensor4D, ['conv4_2', ...styleTaps]);
    let total = tf.mul(tf.sum(tf.squaredDifference(f.conv4_2!, contentTarget)), 0.5);
    styleTaps.forEach((t, i) => {
      const c = f[t]!.shape[3]!;
      const m = f[t]!.size / c;
      total = tf.add(
        total,
        tf.mul(tf.sum(tf.squaredDifference(gram(f[t]!), styleTargets[i]!)), (beta * 0.2) / (4 * c * c * m * m)),
      );
    });
    return total as tf.Scalar;
  };
  const times: number[] = [];
  for (let k = 0; k <= steps; k++) {
    const t0 = performance.now();
    const cost = adam.minimize(loss, true)!;
    const value = (await cost.data())[0]!;
    if (k === 0) {
      const other = handLoss.get(`${backend}/${size}/${!tricks}`);
      if (other !== undefined && Math.abs(other - value) > 1e-4 * Math.abs(value))
        throw new Error(`hand-written loops disagree at ${size} px: ${value} vs ${other}`);
      handLoss.set(`${backend}/${size}/${tricks}`, value);
    }
    cost.dispose();
    times.push(performance.now() - t0);
  }
  tf.dispose([contentTarget, ...styleTargets, x]);
  adam.dispose();
  w.dispose();
  return mean(times.slice(1));
}

/** AdaIN and SANet frames in PyTorch on the CPU (ms by network and size), or why not. */
function torchFeedForward(
  sizes: number[],
  threads: number,
): Record<'adain' | 'sanet', Record<string, number>> | string {
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [here('./bench-feedforward-torch.py'), '--sizes', ...sizes.map(String), '--threads', String(threads)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return (JSON.parse(out) as { ms: Record<'adain' | 'sanet', Record<string, number>> }).ms;
  } catch (e) {
    return `not available (${(e as Error).message.split('\n')[0]}); install python3-torch to get these columns`;
  }
}

/** PyTorch on the CPU (Debian's python3-torch), or null with the reason when it is not installed. */
function torchStep(sizes: number[], threads: number): { ms: Record<string, number>; version: string } | string {
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [
        here('./bench-torch.py'),
        '--sizes',
        ...sizes.map(String),
        '--threads',
        String(threads),
        '--steps',
        smoke ? '1' : '3',
        '--beta',
        String(beta),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r = JSON.parse(out) as { ms: Record<string, number>; torch: string };
    return { ms: r.ms, version: r.torch };
  } catch (e) {
    return `PyTorch not available (${(e as Error).message.split('\n')[0]}); install python3-torch to get this column`;
  }
}

async function feedForward(name: string, size: number, threads = 1): Promise<number> {
  await startNodeBackend('wasm', { threads });
  const p = preset(name);
  const loaded = await loadDocumentImages(p.model, registry, p.path);
  const { plan } = compileWithImages(p.model, registry, loaded.images, size);
  const models = createModelCache();
  try {
    // The first run builds the networks' weights; the next are the feed-forward time (style encoding included).
    await execute(plan!, registry, makeServices(tf, loaded.images, size, 0, models));
    const times: number[] = [];
    for (let i = 0; i < (smoke ? 1 : 3); i++) {
      const t0 = performance.now();
      const r = await execute(plan!, registry, makeServices(tf, loaded.images, size, 0, models));
      if (r.status !== 'done') throw new Error(`${name} ${size}: ${r.error}`);
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[times.length >> 1]!;
  } finally {
    models.dispose();
  }
}

/** Tensor count and bytes as the run goes, and the peak of one step (tf.profile). */
async function memory(backend: BackendName, size: number, steps: number) {
  await startNodeBackend(backend, ONE_THREAD);
  const marks = new Set([1, 100, 500, steps]);
  const seen: { step: number; tensors: number; bytes: number }[] = [];
  await planStep(backend, size, steps, {
    onEvent: (e) => {
      if (e.type === 'step' && marks.has(e.step))
        seen.push({ step: e.step, tensors: tf.memory().numTensors, bytes: tf.memory().numBytes });
    },
  });
  const profile = await tf.profile(() => planStep(backend, size, 2));
  return { seen, peak: profile.peakBytes };
}

async function browser(): Promise<{ backend: string; ms: number }[] | string> {
  if (!existsSync(here('../dist/index.html'))) return 'not measured: build the app first (npm run build)';
  if (!existsSync('/usr/bin/chromium')) return 'not measured: Chromium is not installed (apt-get install -y chromium)';
  const { chromium } = await import('playwright-core');
  const { preview } = await import('vite');
  const server = await preview({ configFile: here('../vite.config.ts'), preview: { port: 0, host: '127.0.0.1' } });
  const b = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--enable-unsafe-webgpu',
    ],
  });
  const out: { backend: string; ms: number }[] = [];
  try {
    for (const backend of ['wasm', 'webgl']) {
      const page = await b.newPage();
      await page.goto(`${server.resolvedUrls!.local[0]}?backend=${backend}&size=64&fresh`);
      await page.waitForFunction(
        () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
        null,
        { timeout: 120_000 },
      );
      const steps = backend === 'wasm' ? 5 : 2;
      await page.evaluate((n) => {
        const g = (window as unknown as { stylegraph: { graph: { setParam(n: string, p: string, v: unknown): void } } })
          .stylegraph.graph;
        g.setParam('optim', 'method', 'adam');
        g.setParam('optim', 'steps', n);
      }, steps);
      await page.click('[data-test=run]');
      await page.waitForFunction(
        () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
        null,
        { timeout: 600_000 },
      );
      const ms = await page.evaluate(() => {
        const r = (
          window as unknown as { stylegraph: { run: { steps: { ms: number }[] } } }
        ).stylegraph.run.steps.slice(1);
        return r.reduce((a, s) => a + s.ms, 0) / r.length;
      });
      out.push({ backend, ms });
      await page.close();
    }
  } finally {
    await b.close();
    await new Promise<void>((r) => server.httpServer.close(() => r()));
  }
  return out;
}

// ---- the run ----
/** `--only gatys` (or feedforward, memory, browser) runs that section alone. */
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const want = (section: string) => !only || only === section;
const sizes = smoke ? [32] : [128, 256];
const steps = smoke ? 1 : 3;
const date = new Date().toISOString().slice(0, 10);
say(`# Benchmarks`);
say();
say(
  `One run of \`npm run bench${argv.length ? ' --' : ''}${argv
    .filter((a) => a !== '--write')
    .map((a) => ` ${a}`)
    .join(
      '',
    )}\` on ${date}, this machine: ${(await import('node:os')).cpus().length} cores, no GPU, node ${process.version}.`,
);
say(
  `Times are the mean over steps 1..N (step 0 warms up). Random weights everywhere (timing does not depend on them).`,
);
say();
if (want('gatys')) {
  say(`## Gatys iteration (forward + backward, content conv4_2 + 5 Gram style layers, Adam)`);
  say();
  const torch1 = torchStep(sizes, 1);
  const torch2 = smoke ? 'not measured in --smoke' : torchStep(sizes, 2);
  say(
    `| size | backend | compiled plan | plain tfjs, same kernels | plain tfjs, built-in ops and grads | plan / plain tfjs | PyTorch CPU 1 thread | plan / PyTorch | PyTorch CPU 2 threads |`,
  );
  say(`|---|---|---|---|---|---|---|---|---|`);
  const gatysRows: { size: number; backend: string; plan: number; hand: number; builtin?: number }[] = [];
  for (const size of sizes) {
    const plan = await planStep('wasm', size, steps);
    const hand = await handStep('wasm', size, steps, true);
    const builtin =
      size <= 128 || args.has('--builtin-256') ? await handStep('wasm', size, smoke ? 1 : 2, false) : undefined;
    gatysRows.push({ size, backend: 'wasm', plan, hand, ...(builtin ? { builtin } : {}) });
    const t1 = typeof torch1 === 'string' ? undefined : torch1.ms[String(size)];
    const t2 = typeof torch2 === 'string' ? undefined : torch2.ms[String(size)];
    say(
      `| ${size} | wasm (1 thread) | ${fmt(plan)} | ${fmt(hand)} | ${fmt(builtin)} | ${ratio(plan, hand)} | ${fmt(t1)} | ${ratio(plan, t1)} | ${fmt(t2)} |`,
    );
  }
  const cpuSizes = smoke ? [] : [128, ...(args.has('--cpu-256') ? [256] : [])];
  for (const size of cpuSizes) {
    const plan = await planStep('cpu', size, 1);
    const hand = await handStep('cpu', size, 1, true);
    const t1 = typeof torch1 === 'string' ? undefined : torch1.ms[String(size)];
    say(
      `| ${size} | cpu (tfjs JS kernels) | ${fmt(plan)} | ${fmt(hand)} | – | ${ratio(plan, hand)} | ${fmt(t1)} | ${ratio(plan, t1)} | |`,
    );
  }
  if (typeof torch1 === 'string') say(`\nPyTorch: ${torch1}.`);
  else
    say(
      `\nPyTorch ${torch1.version} (scripts/bench-torch.py); tfjs-wasm in Node runs one thread, so the 1-thread column is the like-for-like one.`,
    );
}

if (want('feedforward')) {
  say();
  say(`## AdaIN and SANet feed-forward (wasm, style encoding included)`);
  say();
  say(`| size | threads | AdaIN | PyTorch AdaIN | AdaIN / PyTorch | SANet | PyTorch SANet | SANet / PyTorch |`);
  say(`|---|---|---|---|---|---|---|---|`);
  const sizes = smoke ? [32] : [256, 512];
  for (const threads of smoke ? [1] : [1, Math.min(2, availableParallelism())]) {
    const torch = torchFeedForward(sizes, threads);
    for (const size of sizes) {
      const ours = [await feedForward('adain.json', size, threads), await feedForward('sanet.json', size, threads)];
      const theirs = typeof torch === 'string' ? [] : [torch.adain[size], torch.sanet[size]];
      const cells = ours.map((ms, i) => `${fmt(ms)} | ${fmt(theirs[i])} | ${ratio(ms, theirs[i])}`);
      say(`| ${size} | ${threads} | ${cells.join(' | ')} |`);
    }
    if (typeof torch === 'string') say(`\nPyTorch: ${torch}.`);
  }
  say(`\nPyTorch: scripts/bench-feedforward-torch.py (the same networks at full width, median of 3 frames).`);
}

if (want('memory')) {
  say();
  say(`## Memory over a run (Gatys, Adam, 32 px)`);
  say();
  say(
    `| backend | steps | tensors after 1 / 100 / 500 steps | bytes after 1 / 100 / 500 steps | peak bytes in a step |`,
  );
  say(`|---|---|---|---|---|`);
  for (const [backend, n] of smoke
    ? ([['wasm', 3]] as const)
    : ([
        ['wasm', 500],
        ['cpu', 100],
      ] as const)) {
    const m = await memory(backend, 32, n);
    say(
      `| ${backend} | ${n} | ${m.seen.map((s) => `${s.tensors} (step ${s.step})`).join(' / ')} | ${m.seen.map((s) => `${(s.bytes / 2 ** 20).toFixed(1)} MiB`).join(' / ')} | ${(m.peak / 2 ** 20).toFixed(1)} MiB |`,
    );
  }
}

/** One Adam run of the Gatys preset: ms per step, and (a second run under tf.profile) the run's peak bytes. */
async function tiledRun(size: number, steps: number, tiling: RunOptions['tiling']) {
  let message = 'whole image';
  const ms = await planStep('wasm', size, steps, {
    tiling,
    onEvent: (e) => {
      if (e.type === 'status' && e.message.startsWith('tiling'))
        message = e.message.replace(/^tiling \d+x\d+ into /, '');
    },
  });
  const profile = await tf.profile(() => planStep('wasm', size, 1, { tiling }));
  return { ms, peak: profile.peakBytes, message };
}

if (want('tiles')) {
  say();
  say(`## Large images on tiles (Gatys, Adam, wasm)`);
  say();
  const size = smoke ? 64 : 384;
  const whole = await tiledRun(size, steps, false);
  // Smoke: the smallest tile the relu5_1 halo allows; otherwise 2 x 2 tiles of 192 px.
  const tiled = await tiledRun(size, steps, { extent: smoke ? 176 : 352 });
  say(`| size | how | ms per step | peak bytes in the run | time / whole | peak / whole |`);
  say(`|---|---|---|---|---|---|`);
  say(`| ${size} | whole image | ${fmt(whole.ms)} | ${(whole.peak / 2 ** 20).toFixed(0)} MiB | 1 | 1 |`);
  say(
    `| ${size} | ${tiled.message} | ${fmt(tiled.ms)} | ${(tiled.peak / 2 ** 20).toFixed(0)} MiB | ${ratio(tiled.ms, whole.ms)} | ${ratio(tiled.peak, whole.peak)} |`,
  );
}

if ((args.has('--browser') || only === 'browser') && want('browser')) {
  say();
  say(`## Headless Chromium (software GPU), the editor's worker, Gatys with Adam at 64 px`);
  say();
  const b = await browser();
  if (typeof b === 'string') say(b);
  else {
    say(`| backend | ms per step |`);
    say(`|---|---|`);
    for (const r of b) say(`| ${r.backend} | ${fmt(r.ms)} |`);
  }
}

if (args.has('--write')) {
  const md = here('../docs/benchmarks.md');
  const notes = existsSync(md) ? readFileSync(md, 'utf8').split('<!-- notes -->')[1] : undefined;
  writeFileSync(md, `${lines.join('\n')}\n\n<!-- notes -->${notes ?? '\n'}`);
  console.log(`wrote ${md}`);
}
