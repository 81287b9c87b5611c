/**
 * Winograd's F(4x4,3x3) and F(2x2,3x3) (src/ops/winograd.ts) against tfjs-wasm's direct convolution (XNNPACK), in one
 * run so the ratios compare like with like on a machine that may be busy:
 *
 * 1. per layer: every 3x3 conv of VGG19 up to conv5_1 at each size, forward and its input gradient (a 3x3 'same'
 *    conv with the channels swapped), direct and Winograd interleaved rep by rep, the median of each;
 * 2. one Gatys step (the preset: content conv4_2, five Gram taps, Adam) through the compiler and executor with
 *    Winograd off, on (every conv) and auto (per layer shape where it timed faster; timed once per process and
 *    backend, in step 0), interleaved run by run, the mean of steps 1..N of each run.
 *
 * Each on 1 thread and on 2 threads (wasm). Ratios are Winograd / direct: below 1 is faster.
 *
 *   npx tsx scripts/bench-winograd.ts [--sizes 128,256] [--threads 1,2] [--steps 3] [--reps 5] [--runs 2] [--no-step]
 */
import { loadavg } from 'node:os';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { VGG19_CONVS, tapShape } from '../src/models/vgg19';
import {
  disposeWinogradFilter,
  resetWinogradCalibration,
  winogradConv2d,
  winogradFilter,
  winogradTimings,
  type WinogradMode,
  type WinogradTile,
} from '../src/ops/winograd';
import { gatysStep, mean } from './gatys-step';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const sizes = opt('--sizes', '128,256').split(',').map(Number);
const threadCounts = opt('--threads', '1,2').split(',').map(Number);
const steps = Number(opt('--steps', '3'));
const reps = Number(opt('--reps', '5'));
const runs = Number(opt('--runs', '2'));
const withStep = !argv.includes('--no-step');
const tiles: WinogradTile[] = [4, 2];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

function timeSync(f: () => tf.Tensor): number {
  const t0 = performance.now();
  const y = f();
  y.dataSync();
  const t = performance.now() - t0;
  y.dispose();
  return t;
}

/** One conv shape: direct and each tile, interleaved rep by rep; medians. */
function layerRow(h: number, w: number, cin: number, cout: number) {
  const x = tf.randomUniform([1, h, w, cin], -1, 1, 'float32', 1) as tf.Tensor4D;
  const k = tf.randomUniform([3, 3, cin, cout], -1, 1, 'float32', 2) as tf.Tensor4D;
  const filters = tiles.map((t) => winogradFilter(tf, k, t));
  const runs: (() => tf.Tensor)[] = [
    () => tf.conv2d(x, k, 1, 'same'),
    ...filters.map((f) => () => winogradConv2d(tf, x, f, 'same')),
  ];
  const times: number[][] = runs.map(() => []);
  runs.forEach((r) => timeSync(r)); // warm-up (operators, packed weights)
  for (let i = 0; i < reps; i++) runs.forEach((r, j) => times[j]!.push(timeSync(r)));
  filters.forEach((f) => disposeWinogradFilter(tf, f));
  tf.dispose([x, k]);
  return times.map(median);
}

console.log(
  `load average at start: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const threads of threadCounts) {
  const choice = await startNodeBackend('wasm', { threads });
  // auto's timings are per backend, not per thread count: measure afresh for this one.
  resetWinogradCalibration();
  console.log(`\n## wasm, ${choice.threads ?? 1} thread(s)\n`);
  for (const size of sizes) {
    console.log(`### ${size} px: per layer (median of ${reps}), forward and input gradient\n`);
    console.log('| conv | shape | direct | F(4x4) | ratio | F(2x2) | ratio | grad direct | grad F(4x4) | ratio |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    let [sumDirect, sumF4, sumF2, sumBest] = [0, 0, 0, 0];
    for (const conv of VGG19_CONVS.filter(
      (c) => c.block <= 5 && c.name !== 'conv5_2' && c.name !== 'conv5_3' && c.name !== 'conv5_4',
    )) {
      const [, h, w] = tapShape(conv.name, [1, size, size, 3], 'torchvision');
      const [d, f4, f2] = layerRow(h!, w!, conv.cin, conv.cout);
      const [gd, g4, g2] = layerRow(h!, w!, conv.cout, conv.cin);
      sumDirect += d! + gd!;
      sumF4 += f4! + g4!;
      sumF2 += f2! + g2!;
      sumBest += Math.min(d!, f4!) + Math.min(gd!, g4!);
      console.log(
        `| ${conv.name} | ${h}x${w}, ${conv.cin}->${conv.cout} | ${ms(d!)} | ${ms(f4!)} | ${(f4! / d!).toFixed(2)} | ${ms(f2!)} | ${(f2! / d!).toFixed(2)} | ${ms(gd!)} | ${ms(g4!)} | ${(g4! / gd!).toFixed(2)} |`,
      );
    }
    console.log(
      `\nconvs up to conv5_1, forward + input gradient: direct ${ms(sumDirect)}, F(4x4) ${ms(sumF4)} (${(sumF4 / sumDirect).toFixed(2)}x), F(2x2) ${ms(sumF2)} (${(sumF2 / sumDirect).toFixed(2)}x), the faster of direct and F(4x4) per layer ${ms(sumBest)} (${(sumBest / sumDirect).toFixed(2)}x)\n`,
    );
    if (!withStep) continue;
    const times: Record<WinogradMode, number[]> = { off: [], on: [], auto: [], kernel: [] };
    for (let r = 0; r < runs; r++)
      for (const mode of ['off', 'on', 'auto', 'kernel'] as const)
        times[mode].push(await gatysStep(size, steps, { winograd: mode }));
    const timed = winogradTimings();
    console.log(
      `Gatys step at ${size} px (mean of steps 1..${steps - 1}, ${runs} runs interleaved): off ${times.off.map(ms).join(', ')}; ` +
        `on (F(4x4) everywhere) ${times.on.map(ms).join(', ')}, ratio ${(mean(times.on) / mean(times.off)).toFixed(2)}; ` +
        `auto ${times.auto.map(ms).join(', ')}, ratio ${(mean(times.auto) / mean(times.off)).toFixed(2)}; ` +
        `kernel (the default) ${times.kernel.map(ms).join(', ')}, ratio ${(mean(times.kernel) / mean(times.off)).toFixed(2)} ` +
        `(auto chose Winograd for ${timed.filter((t) => t.chosen).length} of the ${timed.length} conv shapes timed so far)\n`,
    );
  }
}
console.log(
  `load average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
