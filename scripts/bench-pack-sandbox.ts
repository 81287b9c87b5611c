/**
 * What the CLI's pack sandbox (src/cli/security/pack-sandbox.ts) costs a call: the example pack's histogram loss, forward
 * and gradient, on features of a few sizes, in this process (as --no-sandbox-packs runs it) and through its own
 * process (tensors sent as bytes, the gradient as the child's vector-Jacobian product). Both on wasm, one thread.
 *
 *   npx tsx scripts/bench-pack-sandbox.ts [REPS]
 */
import * as tf from '@tensorflow/tfjs';
import { resolve } from 'node:path';
import { importPack } from '../src/cli/security/plugins';
import { loadSandboxedPack, packLimits } from '../src/cli/security/pack-sandbox';
import type { NodeTypeDef, Tensor } from '../src/plugin/types';
import { startNodeBackend } from '../src/cli/node/node-tf';

const reps = Number(process.argv[2] ?? 5);
await startNodeBackend('wasm', { threads: 1 });
const dir = resolve('examples/pack-wct');
const own = ((await importPack(dir, process.cwd())).module as { default: { nodes: NodeTypeDef[] } }).default.nodes[1]!;
const t0 = performance.now();
const sandboxed = loadSandboxedPack('pack wct', { path: resolve(dir, 'index.js') }, [dir], () => {}, packLimits());
const loadMs = performance.now() - t0;
sandboxed.process.ensureTf();
const startMs = performance.now() - t0;
const boxed = (sandboxed.module as { default: { nodes: NodeTypeDef[] } }).default.nodes[1]!;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time(def: NodeTypeDef, x: Tensor, target: Tensor): number {
  const ms: number[] = [];
  for (let i = 0; i < reps + 1; i++) {
    const t = performance.now();
    const g = tf.grad(
      (v: Tensor) =>
        def.compute!({
          tf,
          inputs: { input: v, target },
          params: { weight: 1 },
          nodeId: 'h',
          outputInfo: {},
          step: 0,
        } as never) as never as Tensor,
    )(x);
    g.dataSync();
    g.dispose();
    if (i) ms.push(performance.now() - t);
  }
  return median(ms);
}
console.log(
  `sandbox start: pack loaded in ${loadMs.toFixed(0)} ms, tfjs in its process after ${startMs.toFixed(0)} ms`,
);
for (const [hw, c] of [
  [16, 64],
  [32, 128],
  [64, 256],
] as const) {
  const x = tf.randomNormal([1, hw, hw, c]);
  const target = tf.tidy(
    () => tf.topk(tf.transpose(tf.reshape(tf.randomNormal([1, hw, hw, c]), [-1, c])), hw * hw).values,
  );
  const wrap = (def: NodeTypeDef) => ({
    ...def,
    compute: (ctx: Parameters<NonNullable<NodeTypeDef['compute']>>[0]) =>
      (def.compute!(ctx) as { loss: Tensor }).loss as never,
  });
  const a = time(wrap(own), x, target);
  const b = time(wrap(boxed), x, target);
  console.log(
    `histogram loss + gradient, features [1, ${hw}, ${hw}, ${c}] (${((hw * hw * c * 4) / 2 ** 20).toFixed(2)} MiB): in process ${a.toFixed(1)} ms, sandboxed ${b.toFixed(1)} ms (+${(b - a).toFixed(1)} ms)`,
  );
}
sandboxed.process.close();
