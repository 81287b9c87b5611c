/**
 * A fast style network's frame time on the CLI's backend (wasm with its threads, as `stylegraph run` starts it): the
 * network alone on a photo at each size (longest side), after a warm-up frame, the median of `--frames` frames,
 * read back to the host as `run` does. With --transposed it also times tfjs's own conv2dTranspose in place of the
 * phase conv + depth-to-space that src/models/fast-style.ts uses (tfjs-wasm's Conv2DBackpropInput is a naive loop).
 * With --before it also times the plain forward (tf.moments instance norm with broadcast multiply-add and ReLU, the
 * last conv plain: what the network ran before its inference forms, and what it still runs under a gradient), and
 * with --torch the PyTorch reference (scripts/bench-fast-style-torch.py, same threads) right after each size. Every
 * variant is timed frame by frame in turn, so a busy machine slows them alike; the ratios are of the medians.
 *
 *   npx tsx scripts/bench-fast-style.ts --weights ../shared/fixtures/fast-style-wave [--sizes 256,512] [--frames 5]
 *                                       [--threads N] [--transposed] [--before] [--torch]
 *
 * Random weights without --weights (the speed does not depend on them). Prints a markdown table with the load average.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { startNodeBackend } from '../src/cli/node/node-tf';
import { readDlFolder } from '../src/cli/node/node-weights';
import {
  depthToSpace2,
  FAST_STYLE_LAYERS,
  fastStyle,
  fastStyleFromStateDict,
  fastStyleMacs,
  randomFastStyle,
  type FastStyleWeights,
} from '../src/models/fast-style';

const { values: v } = parseArgs({
  options: {
    weights: { type: 'string' },
    sizes: { type: 'string' },
    frames: { type: 'string' },
    threads: { type: 'string' },
    transposed: { type: 'boolean' },
    before: { type: 'boolean' },
    torch: { type: 'boolean' },
  },
});
const sizes = (v.sizes ?? '256,512').split(',').map(Number);
const frames = Number(v.frames ?? 5);
const choice = await startNodeBackend('wasm', v.threads ? { threads: Number(v.threads) } : {});

let weights: FastStyleWeights;
if (v.weights) {
  const path = statSync(v.weights).isDirectory() ? join(v.weights, 'manifest.json') : v.weights;
  weights = fastStyleFromStateDict(tf, await readDlFolder(path, new Uint8Array(readFileSync(path))), path);
} else weights = randomFastStyle(tf, 0);

/**
 * The network in plain ops: instance norm by tf.moments and a broadcast multiply-add, every conv plain, the transposed
 * convs as the phase conv + depth-to-space or (`transposed`) tfjs's conv2dTranspose (kernels as the checkpoint has them).
 */
function plainForward(image: tf.Tensor4D, transposed: Map<number, tf.Tensor4D> | null): tf.Tensor4D {
  return tf.tidy(() => {
    let x = tf.mul(image, 255) as tf.Tensor4D;
    let skip: tf.Tensor4D | null = null;
    const norm = (y: tf.Tensor4D, i: number, relu: boolean) => {
      const { mean, variance } = tf.moments(y, [1, 2], true);
      const l = weights.layers[i]!;
      const a = tf.mul(l.scale, tf.rsqrt(tf.add(variance, 1e-3)));
      const z = tf.add(tf.mul(y, a), tf.sub(l.shift, tf.mul(mean, a))) as tf.Tensor4D;
      return relu ? tf.relu(z) : z;
    };
    FAST_STYLE_LAYERS.forEach(({ stride, kind, cout }, i) => {
      const l = weights.layers[i]!;
      if (kind === 'up') {
        const [b, h, w] = x.shape;
        const y = transposed
          ? tf.conv2dTranspose(x, transposed.get(i)!, [b, 2 * h, 2 * w, cout], 2, 'same')
          : depthToSpace2(
              tf,
              tf.conv2d(
                tf.pad(x, [
                  [0, 0],
                  [1, 0],
                  [1, 0],
                  [0, 0],
                ]),
                l.kernel,
                1,
                'valid',
              ),
            );
        x = norm(y, i, true);
        return;
      }
      if (kind === 'res1') skip = x;
      const y = norm(tf.conv2d(x, l.kernel, stride, 'same'), i, kind === 'conv' || kind === 'res1');
      x = kind === 'res2' ? (tf.add(y, skip!) as tf.Tensor4D) : y;
    });
    return tf.div(tf.clipByValue(tf.add(tf.mul(tf.tanh(x), 150), 127.5), 0, 255), 255) as tf.Tensor4D;
  });
}
const rawUp = new Map(
  FAST_STYLE_LAYERS.flatMap((l, i) =>
    l.kind === 'up' ? [[i, tf.randomNormal([3, 3, l.cout, l.cin]) as tf.Tensor4D] as const] : [],
  ),
);

type Variant = (x: tf.Tensor4D) => tf.Tensor4D;
/**
 * Each variant's median wall time and median CPU time (every thread of the process: a loaded machine inflates only
 * the wall time), the variants taking turns frame by frame after one warm-up frame each.
 */
async function time(size: number, variants: Variant[]): Promise<[number, number][]> {
  // A landscape photo's shape (3:2), as chicago.jpg.
  const [h, w] = [Math.round((size * 2) / 3), size];
  const x = tf.randomUniform([1, h, w, 3]) as tf.Tensor4D;
  const ms: number[][] = variants.map(() => []);
  const cpu: number[][] = variants.map(() => []);
  for (let i = 0; i <= frames; i++)
    for (const [k, f] of variants.entries()) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const y = f(x);
      await y.data();
      y.dispose();
      const c = process.cpuUsage(c0);
      if (i) {
        ms[k]!.push(performance.now() - t0);
        cpu[k]!.push((c.user + c.system) / 1000);
      }
    }
  x.dispose();
  const median = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  return variants.map((_, k) => [median(ms[k]!), median(cpu[k]!)]);
}

/** PyTorch's median wall and CPU ms a frame at this size and thread count (the reference forward pass, float32). */
function torchMs(size: number, threads: number): [number, number] {
  const out = execFileSync(
    '/usr/bin/python3',
    [
      new URL('bench-fast-style-torch.py', import.meta.url).pathname,
      ...['--threads', String(threads), '--sizes', String(size), '--frames', String(frames)],
      ...(v.weights ? ['--weights', v.weights] : []),
    ],
    { encoding: 'utf8' },
  );
  const m = /median (\d+) ms .*CPU (\d+) ms/.exec(out);
  if (!m) throw new Error(`bench-fast-style-torch.py printed no median: ${out}`);
  return [Number(m[1]), Number(m[2])];
}

const load = loadavg()[0]!.toFixed(1);
console.log(
  `fast style network (${weights.source}), ${choice.backend}, ${choice.threads ?? 1} threads, ${cpus().length} cores, load ${load}; median of ${frames} frames after one warm-up`,
);
const extra = [
  ...(v.before ? ['plain ops (before): wall, CPU | now / before |'] : []),
  ...(v.transposed ? ['with tf.conv2dTranspose: wall, CPU |'] : []),
  ...(v.torch ? [`PyTorch CPU, ${choice.threads ?? 1} threads: wall, CPU | wasm / PyTorch |`] : []),
];
console.log(`| size (3:2) | GFLOP | ms a frame (wall) | CPU ms a frame (all threads) | ${extra.join(' ')}`);
console.log(`|---|---|---|---|${extra.map((e) => '---|'.repeat(e.split('|').length - 1)).join('')}`);
for (const size of sizes) {
  const gflop = (2 * fastStyleMacs(Math.round((size * 2) / 3), size)) / 1e9;
  const variants: Variant[] = [(x) => fastStyle(tf, x, weights)];
  if (v.before) variants.push((x) => plainForward(x, null));
  if (v.transposed) variants.push((x) => plainForward(x, rawUp));
  const [a, ...rest] = await time(size, variants);
  const cells = [`${a![0].toFixed(0)}`, `${a![1].toFixed(0)}`];
  if (v.before) {
    const b = rest.shift()!;
    cells.push(
      `${b[0].toFixed(0)}, ${b[1].toFixed(0)}`,
      `${(a![0] / b[0]).toFixed(2)}x wall, ${(a![1] / b[1]).toFixed(2)}x CPU`,
    );
  }
  if (v.transposed) cells.push(`${rest[0]![0].toFixed(0)}, ${rest[0]![1].toFixed(0)}`);
  if (v.torch) {
    const t = torchMs(size, choice.threads ?? 1);
    cells.push(`${t[0]}, ${t[1]}`, `${(a![0] / t[0]).toFixed(2)}x wall, ${(a![1] / t[1]).toFixed(2)}x CPU`);
  }
  console.log(`| ${size} x ${Math.round((size * 2) / 3)} | ${gflop.toFixed(1)} | ${cells.join(' | ')} |`);
}
console.log(`load average after: ${loadavg()[0]!.toFixed(1)}`);
weights.dispose();
