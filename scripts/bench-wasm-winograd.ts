/**
 * StyleGraph's WebAssembly SIMD Winograd F(4x4,3x3) kernel (src/ops/wasm-winograd.ts) against tfjs-wasm's direct
 * convolution (XNNPACK), 3x3 'same', batch 1, interleaved rep by rep, medians. The kernel's time includes copying the
 * input out of tfjs's heap (zero padding made in the copy) and the output back; the split is printed too.
 *
 *   npx tsx scripts/bench-wasm-winograd.ts [--threads 1] [--reps 15] [--shapes 64x64x64,128x128x64,...] [--block-kb 384]
 *
 * A shape HxWxC is C -> C channels. Ratios are kernel / direct: below 1 is faster.
 */
import { loadavg } from 'node:os';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import {
  releaseWasmWinogradFilter,
  wasmWinogradConv,
  wasmWinogradProfile,
  wasmWinogradSettings,
} from '../src/ops/wasm-winograd';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const threads = Number(opt('--threads', '1'));
const reps = Number(opt('--reps', '15'));
const shapes = opt('--shapes', '64x64x64,128x128x64,32x32x128,64x64x128,32x32x256,16x16x512')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number, number]);
wasmWinogradSettings.blockBytes = Number(opt('--block-kb', '384')) * 1024;

const choice = await startNodeBackend('wasm', { threads });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (f: () => tf.Tensor) => {
  const t0 = performance.now();
  const y = f();
  const t = performance.now() - t0;
  y.dispose();
  return t;
};

console.log(
  `backend ${tf.getBackend()}, ${choice.threads ?? 1} thread(s), load ${loadavg()[0]!.toFixed(2)}, ${reps} reps`,
);
console.log(
  '| shape | direct ms | kernel ms (in/kernel/out) | ratio | direct GMAC/s | kernel GMAC/s equiv. | max diff |',
);
console.log('|---|---|---|---|---|---|---|');
for (const [h, w, c] of shapes) {
  const x = tf.randomUniform([1, h, w, c], -1, 1, 'float32', 1) as tf.Tensor4D;
  const k = tf.randomUniform([3, 3, c, c], -0.1, 0.1, 'float32', 2) as tf.Tensor4D;
  const direct = () => tf.conv2d(x, k, 1, 'same');
  const kernel = () => wasmWinogradConv(tf, x, k, { pad: 'same' });
  const [a, b] = [direct(), kernel()];
  const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
  tf.dispose([a, b]);
  for (let i = 0; i < 2; i++) [direct, kernel].forEach((f) => time(f));
  const [td, tk] = [[] as number[], [] as number[]];
  Object.assign(wasmWinogradProfile, { enabled: true, calls: 0, copyInMs: 0, kernelMs: 0, copyOutMs: 0 });
  for (let i = 0; i < reps; i++) {
    td.push(time(direct));
    tk.push(time(kernel));
  }
  const p = wasmWinogradProfile;
  p.enabled = false;
  const [md, mk] = [median(td), median(tk)];
  const macs = h * w * 9 * c * c;
  const split = [p.copyInMs, p.kernelMs, p.copyOutMs].map((t) => (t / p.calls).toFixed(2)).join('/');
  console.log(
    `| ${h}x${w}, ${c}->${c} | ${md.toFixed(2)} | ${mk.toFixed(2)} (${split}) | ${(mk / md).toFixed(2)} | ${(macs / md / 1e6).toFixed(1)} | ${(macs / mk / 1e6).toFixed(1)} | ${diff.toExponential(1)} |`,
  );
  releaseWasmWinogradFilter(k);
  tf.dispose([x, k]);
}
