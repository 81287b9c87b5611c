/**
 * Threads on a busy machine (docs/benchmarks.md, "Threads on a busy machine"): a Gatys step (the preset, Adam) in
 * Node's wasm on 1 thread, on 2 threads and on the automatic count (`--threads` left out: timed against the load
 * when the backend starts, src/runtime/backend.ts calibrateThreads), on a quiet machine and with busy-loop child
 * processes keeping cores busy, in one run so the ratios compare like with like.
 *
 *   npx tsx scripts/bench-threads-busy.ts [--size 128] [--steps 4] [--busy 1] [--threads 2]
 *
 * `--busy K`: K busy-loop children in the busy half (default 1: one core of a 2-core machine). `--threads N`: the
 * fixed count set against 1 (default 2). Each row's time is the mean over steps 1..N (step 0 warms up). Run it on a
 * quiet machine: anything else running shows up in the "quiet" rows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { builtinRegistry } from '../nodes';
import { loadDocumentImages } from '../src/cli/node/node-session';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { backendLabel } from '../src/runtime/backend';
import { parseDocument } from '../src/graph/document';
import { execute } from '../src/runtime/executor';
import { createModelCache } from '../src/runtime/models';
import { compileWithImages, makeServices } from '../src/runtime/sources';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const size = Number(opt('--size', '128'));
const steps = Number(opt('--steps', '4'));
const busyCount = Number(opt('--busy', '1'));
const fixed = Number(opt('--threads', '2'));
const registry = builtinRegistry();
const path = fileURLToPath(new URL('../presets/gatys.json', import.meta.url));
const gatys = parseDocument(readFileSync(path, 'utf8')).model!;
const { images } = await loadDocumentImages(gatys, registry, path);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

interface Row {
  ms: number;
  threads: number;
  label: string;
}

/** The preset at `size` on wasm with `threads` threads (undefined: the automatic count). */
async function gatysStep(threads: number | undefined): Promise<Row> {
  const choice = await startNodeBackend('wasm', threads === undefined ? { retime: true } : { threads });
  const model = structuredClone(gatys);
  Object.assign(model.nodes.find((n) => n.id === 'optim')!.params, { method: 'adam', steps, previewEvery: 0 });
  const { plan } = compileWithImages(model, registry, images, size);
  const models = createModelCache();
  try {
    const r = await execute(plan!, registry, makeServices(tf, images, size, 0, models));
    if (r.status !== 'done') throw new Error(`${size} px, ${threads ?? 'auto'} threads: ${r.status} ${r.error ?? ''}`);
    return { ms: mean(r.steps.slice(1).map((s) => s.ms)), threads: choice.threads ?? 1, label: backendLabel(choice) };
  } finally {
    models.dispose();
  }
}

async function measure(): Promise<{ one: Row; fixed: Row; auto: Row }> {
  return { one: await gatysStep(1), fixed: await gatysStep(fixed), auto: await gatysStep(undefined) };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
const started = load();
const quiet = await measure();
const children: ChildProcess[] = [];
for (let i = 0; i < busyCount; i++) children.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
let busy: Awaited<ReturnType<typeof measure>>;
try {
  // The scheduler has the loops running before the first timing.
  await new Promise((r) => setTimeout(r, 1000));
  busy = await measure();
} finally {
  for (const c of children) c.kill();
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
console.log(
  `One run of \`npx tsx scripts/bench-threads-busy.ts ${argv.join(' ')}\` on ${date} UTC: ${availableParallelism()} cores, node ${process.version}, load average ${started} at the start, ${load()} at the end.`,
);
console.log(
  `Gatys preset at ${size} px, Adam, random VGG19 weights, mean ms per step over steps 1..${steps}; busy: ${busyCount} busy-loop process${busyCount === 1 ? '' : 'es'}.\n`,
);
console.log(
  `| machine | 1 thread | ${fixed} threads | ${fixed} / 1 | auto | auto threads | auto / 1 | auto's backend line |`,
);
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, r] of [
  ['quiet', quiet],
  ['busy', busy],
] as const)
  console.log(
    `| ${name} | ${fmt(r.one.ms)} | ${fmt(r.fixed.ms)} | ${ratio(r.fixed.ms, r.one.ms)} | ${fmt(r.auto.ms)} | ${r.auto.threads} | ${ratio(r.auto.ms, r.one.ms)} | ${r.auto.label} |`,
  );
process.exit(0);
