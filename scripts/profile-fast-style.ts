/**
 * Where the fast style network's time goes on wasm: src/models/fast-style.ts's forward pass on a 3:2 image (longest side
 * given), kernel by kernel (tf.profile: each kernel's time with its input shapes), summed over layers of a kind.
 *
 *   npx tsx scripts/profile-fast-style.ts [--size 256] [--reps 5] [--threads 2] [--weights DIR]
 *
 * Medians over the repetitions after one warm-up; the machine is shared, so compare shares within one run only.
 */
import { readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readDlFolder } from '../src/cli/node/node-weights';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { fastStyle, fastStyleFromStateDict, randomFastStyle, type FastStyleWeights } from '../src/models/fast-style';

const { values: v } = parseArgs({
  options: {
    size: { type: 'string' },
    reps: { type: 'string' },
    threads: { type: 'string' },
    weights: { type: 'string' },
  },
});
const size = Number(v.size ?? 256);
const reps = Number(v.reps ?? 5);
const choice = await startNodeBackend('wasm', { threads: Number(v.threads ?? 2) });
let weights: FastStyleWeights;
if (v.weights) {
  const path = statSync(v.weights).isDirectory() ? join(v.weights, 'manifest.json') : v.weights;
  weights = fastStyleFromStateDict(tf, await readDlFolder(path, new Uint8Array(readFileSync(path))), path);
} else weights = randomFastStyle(tf, 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const x = tf.randomUniform([1, Math.round((size * 2) / 3), size, 3]) as tf.Tensor4D;

const perKey = new Map<string, number[]>();
const walls: number[] = [];
for (let r = 0; r <= reps; r++) {
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    const y = fastStyle(tf, x, weights);
    await y.data();
    y.dispose();
  });
  const wall = performance.now() - t0;
  if (!r) continue;
  walls.push(wall);
  const sums = new Map<string, number>();
  for (const k of info.kernels) {
    const key = `${k.name} ${k.inputShapes.map((s) => `[${s?.join('x') ?? ''}]`).join(' ')}`;
    sums.set(key, (sums.get(key) ?? 0) + (k.kernelTimeMs as number));
  }
  for (const [key, ms] of sums) perKey.set(key, [...(perKey.get(key) ?? []), ms]);
}
const rows = [...perKey].map(([key, ms]) => [key, median(ms)] as const).sort((a, b) => b[1] - a[1]);
const total = rows.reduce((s, [, ms]) => s + ms, 0);
console.log(
  `fast style ${x.shape[2]}x${x.shape[1]}, wasm ${choice.threads} threads, load ${loadavg()[0]!.toFixed(1)}: wall median ${median(walls).toFixed(0)} ms (profiled), kernels ${total.toFixed(0)} ms`,
);
const byName = new Map<string, number>();
for (const [key, ms] of rows) byName.set(key.split(' ')[0]!, (byName.get(key.split(' ')[0]!) ?? 0) + ms);
for (const [name, ms] of [...byName].sort((a, b) => b[1] - a[1]))
  console.log(`${name.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%`);
console.log('--- by kernel and input shapes');
for (const [key, ms] of rows.slice(0, 40))
  console.log(`${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${key}`);
