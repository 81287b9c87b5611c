/**
 * A fast style network's frame time on the CLI's backend (wasm with its threads, as `stylegraph run` starts it): the
 * network alone on a photo at each size (longest side), after a warm-up frame, the median of `--frames` frames,
 * read back to the host as `run` does. With --transposed it also times tfjs's own conv2dTranspose in place of the
 * phase conv + depth-to-space that src/models/fast-style.ts uses (tfjs-wasm's Conv2DBackpropInput is a naive loop).
 *
 *   npx tsx scripts/bench-fast-style.ts --weights ../shared/fixtures/fast-style-wave [--sizes 256,512] [--frames 5]
 *                                       [--threads N] [--transposed]
 *
 * Random weights without --weights (the speed does not depend on them). Prints a markdown table with the load average.
 */
import { readFileSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { startNodeBackend } from '../src/cli/node/node-tf';
import { readDlFolder } from '../src/cli/node/node-weights';
import {
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

/** The same network with tfjs's conv2dTranspose for the two transposed convs (kernels as the checkpoint has them). */
function withConv2dTranspose(image: tf.Tensor4D, raw: Map<number, tf.Tensor4D>): tf.Tensor4D {
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
      if (kind === 'up') {
        const [b, h, w] = x.shape;
        x = norm(tf.conv2dTranspose(x, raw.get(i)!, [b, 2 * h, 2 * w, cout], 2, 'same'), i, true);
        return;
      }
      if (kind === 'res1') skip = x;
      const y = norm(tf.conv2d(x, weights.layers[i]!.kernel, stride, 'same'), i, kind === 'conv' || kind === 'res1');
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

/** Median wall time and median CPU time (every thread of the process: a loaded machine inflates only the wall time). */
async function time(size: number, f: (x: tf.Tensor4D) => tf.Tensor4D): Promise<[number, number]> {
  // A landscape photo's shape (3:2), as chicago.jpg.
  const [h, w] = [Math.round((size * 2) / 3), size];
  const x = tf.randomUniform([1, h, w, 3]) as tf.Tensor4D;
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i <= frames; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const y = f(x);
    await y.data();
    y.dispose();
    const c = process.cpuUsage(c0);
    if (i) {
      ms.push(performance.now() - t0);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  x.dispose();
  const median = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  return [median(ms), median(cpu)];
}

const load = loadavg()[0]!.toFixed(1);
console.log(
  `fast style network (${weights.source}), ${choice.backend}, ${choice.threads ?? 1} threads, ${cpus().length} cores, load ${load}; median of ${frames} frames after one warm-up`,
);
console.log(
  `| size (3:2) | GFLOP | ms a frame (wall) | CPU ms a frame (all threads) |${v.transposed ? ' with tf.conv2dTranspose: wall, CPU |' : ''}`,
);
console.log(`|---|---|---|---|${v.transposed ? '---|' : ''}`);
for (const size of sizes) {
  const gflop = (2 * fastStyleMacs(Math.round((size * 2) / 3), size)) / 1e9;
  const a = await time(size, (x) => fastStyle(tf, x, weights));
  const b = v.transposed ? await time(size, (x) => withConv2dTranspose(x, rawUp)) : null;
  console.log(
    `| ${size} x ${Math.round((size * 2) / 3)} | ${gflop.toFixed(1)} | ${a[0].toFixed(0)} | ${a[1].toFixed(0)} |${b === null ? '' : ` ${b[0].toFixed(0)}, ${b[1].toFixed(0)} |`}`,
  );
}
console.log(`load average after: ${loadavg()[0]!.toFixed(1)}`);
weights.dispose();
