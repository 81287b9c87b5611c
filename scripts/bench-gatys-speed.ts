/**
 * Issue 27's table in one run: a Gatys step (the preset: content conv4_2, five Gram taps, Adam) through the CLI's
 * path at each size, on one thread and on every core, with Winograd off and the default (src/ops/winograd.ts 'kernel':
 * F(4x4,3x3) on StyleGraph's wasm kernel wherever it runs), against PyTorch CPU
 * (scripts/bench-torch.py, the same layers) on the same thread counts.
 *
 *   npx tsx scripts/bench-gatys-speed.ts [--sizes 128,256,512] [--steps 3] [--busy K]
 *
 * `--busy K` keeps K busy-loop processes running for the whole run (PyTorch included), and adds a row with the
 * thread count the backend chooses by itself (calibrateThreads). Each time is the mean over steps 1..N (step 0 warms
 * up and calibrates). Prints a markdown table.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startNodeBackend } from '../src/cli/node/node-tf';
import type { WinogradMode } from '../src/ops/winograd';
import { gatysBeta, gatysStep } from './gatys-step';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const sizes = opt('--sizes', '128,256,512').split(',').map(Number);
const steps = Number(opt('--steps', '3'));
const busyCount = Number(opt('--busy', '0'));
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const cores = availableParallelism();
const fmt = (ms: number | undefined) =>
  ms === undefined ? '–' : ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}x` : '–');
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

/** Mean ms per step of the preset at `size`; `threads` undefined: the backend's own choice. */
async function step(size: number, threads: number | undefined, winograd: WinogradMode) {
  const choice = await startNodeBackend('wasm', threads === undefined ? {} : { threads });
  return { ms: await gatysStep(size, steps, { winograd }), threads: choice.threads ?? 1 };
}

function torch(threads: number): Record<string, number> | string {
  try {
    const args = ['--sizes', ...sizes.map(String), '--threads', String(threads), '--steps', String(steps)];
    const out = execFileSync('/usr/bin/python3', [here('./bench-torch.py'), ...args, '--beta', String(gatysBeta)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return (JSON.parse(out) as { ms: Record<string, number> }).ms;
  } catch (e) {
    return `PyTorch not available: ${(e as Error).message.split('\n')[0]}`;
  }
}

const started = load();
const busy: ChildProcess[] = [];
for (let i = 0; i < busyCount; i++) busy.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
const rows: string[] = [];
const notes: string[] = [];
try {
  const pt = new Map([1, cores].map((t) => [t, torch(t)] as const));
  const threadCounts: (number | undefined)[] = [1, cores, ...(busyCount ? [undefined] : [])];
  for (const size of sizes) {
    const best = Math.min(...[...pt.values()].map((p) => (typeof p === 'string' ? Infinity : p[String(size)]!)));
    for (const threads of threadCounts) {
      const off = await step(size, threads, 'off');
      const kernel = await step(size, threads, 'kernel');
      const p = pt.get(off.threads);
      const t = typeof p === 'string' || p === undefined ? undefined : p[String(size)];
      const label = threads === undefined ? `${off.threads} (chosen)` : String(off.threads);
      rows.push(
        `| ${size} | ${label} | ${fmt(off.ms)} | ${fmt(kernel.ms)} | ${ratio(kernel.ms, off.ms)} | ${fmt(t)} | ${ratio(off.ms, t)} | ${ratio(kernel.ms, t)} | ${ratio(Math.min(off.ms, kernel.ms), best)} |`,
      );
    }
  }
  for (const [t, p] of pt) if (typeof p === 'string') notes.push(`PyTorch ${t} threads: ${p}`);
} finally {
  for (const c of busy) c.kill();
}

const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
console.log(
  `One run of \`npx tsx scripts/bench-gatys-speed.ts ${argv.join(' ')}\` on ${date} UTC: ${cores} cores, node ${process.version}, load average ${started} at the start, ${load()} at the end${busyCount ? `; ${busyCount} busy-loop process${busyCount === 1 ? '' : 'es'} running throughout` : ''}.`,
);
console.log(`Gatys preset, Adam, random VGG19 weights, mean ms per step over steps 1..${steps}.\n`);
console.log(
  '| size | threads | wasm, Winograd off | wasm, Winograd kernel (default) | kernel / off | PyTorch CPU, same threads | off / PyTorch | kernel / PyTorch | faster wasm / best PyTorch |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
for (const n of notes) console.log(`\n${n}.`);
process.exit(0);
