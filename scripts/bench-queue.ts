/**
 * The queue benchmark: one batch of distinct photos through 1 and then 2 worker processes on this machine, and
 * once more with one of 2 workers killed halfway. Prints a markdown section for docs/benchmarks.md.
 *
 *   npx tsx scripts/bench-queue.ts [--images 40] [--size 64] [--steps 5] [--graph presets/gatys.json]
 *
 * Needs Debian's redis-server; starts its own on a free loopback port and stops it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { decodeImage, encodePng } from '../src/cli/node/node-images';
import type { JobResult } from '../src/cli/queue/jobs';

const { values: v } = parseArgs({
  options: {
    images: { type: 'string' },
    size: { type: 'string' },
    steps: { type: 'string' },
    graph: { type: 'string' },
  },
});
const count = Number(v.images ?? 40);
const size = v.size ?? '64';
const steps = v.steps ?? '5';
const graph = v.graph ?? 'presets/gatys.json';
const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-bench-queue-'));

const port = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});
const url = `redis://127.0.0.1:${port}`;
const redis = spawn('redis-server', [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  tmp,
]);
const children: ChildProcess[] = [redis];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
for (
  let i = 0;
  spawnSync('redis-cli', ['-p', String(port), 'ping'])
    .stdout?.toString()
    .trim() !== 'PONG';
  i++
) {
  if (i > 100) throw new Error('redis-server did not start');
  await new Promise((r) => setTimeout(r, 100));
}

// Distinct photos: crops of the sample images at different offsets (identical pixels would be served from the memo).
const photos = join(tmp, 'photos');
mkdirSync(photos);
const samples = ['astronaut', 'chelsea', 'brick', 'mosaic', 'swirls'].map((n) =>
  decodeImage(new Uint8Array(readFileSync(join(root, 'presets/images', `${n}.jpg`))), n),
);
for (let i = 0; i < count; i++) {
  const src = samples[i % samples.length]!;
  const side = Math.min(src.width, src.height) - 8 * Math.floor(i / samples.length) - 1;
  const data = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++)
      for (let c = 0; c < 4; c++) data[(y * side + x) * 4 + c] = src.data[(y * src.width + x) * 4 + c]!;
  writeFileSync(join(photos, `p${String(i).padStart(3, '0')}.png`), encodePng({ width: side, height: side, data }));
}

function worker(queue: string): { p: ChildProcess; ready: Promise<void> } {
  const p = spawn(
    'node',
    [
      'scripts/stylegraph.mjs',
      'worker',
      '--redis',
      url,
      '--queue',
      queue,
      '--backend',
      'wasm',
      '--threads',
      '1',
      '--lock-seconds',
      '5',
    ],
    { cwd: root },
  );
  children.push(p);
  let log = '';
  const ready = new Promise<void>((resolve) =>
    p.stderr!.on('data', (d: Buffer) => (log += d) && log.includes('waiting for jobs') && resolve()),
  );
  return { p, ready };
}

function submit(queue: string, out: string): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(
      'node',
      [
        'scripts/stylegraph.mjs',
        'submit',
        graph,
        '--redis',
        url,
        '--queue',
        queue,
        '--content',
        photos,
        '--size',
        size,
        '--steps',
        steps,
        '--out',
        out,
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    p.on('close', (code) => resolve(code ?? 1));
  });
}

async function results(queue: string): Promise<JobResult[]> {
  const q = new Queue(queue, { connection: { host: '127.0.0.1', port } });
  const jobs = await q.getJobs(['completed']);
  await q.close();
  return jobs.map((j) => j.returnvalue as JobResult);
}

/** Runs the batch through `n` workers (all started before the clock starts); `kill` kills one when half is done. */
async function run(n: number, queue: string, kill = false) {
  const workers = Array.from({ length: n }, () => worker(queue));
  await Promise.all(workers.map((w) => w.ready));
  const out = join(tmp, queue);
  const t0 = performance.now();
  const done = submit(queue, out);
  if (kill) {
    const q = new Queue(queue, { connection: { host: '127.0.0.1', port } });
    while ((await q.getCompletedCount()) < count / 2) await new Promise((r) => setTimeout(r, 100));
    await q.close();
    workers[0]!.p.kill('SIGKILL');
  }
  const code = await done;
  const seconds = (performance.now() - t0) / 1000;
  for (const w of workers) w.p.kill('SIGTERM');
  const files = readdirSync(out).filter((f) => f.endsWith('.png'));
  const byWorker = new Map<string, number>();
  for (const r of await results(queue)) byWorker.set(r.worker, (byWorker.get(r.worker) ?? 0) + 1);
  return {
    code,
    seconds,
    perSecond: count / seconds,
    files: files.length,
    distinct: new Set(files).size,
    leftovers: readdirSync(out).length - files.length,
    byWorker: [...byWorker.values()],
  };
}

const one = await run(1, 'one');
const two = await run(2, 'two');
const killed = await run(2, 'killed', true);
const lines = [
  `## Queue: ${count} photos through BullMQ workers`,
  '',
  `One run of \`npx tsx scripts/bench-queue.ts --images ${count} --size ${size} --steps ${steps}\` on ${new Date().toISOString().slice(0, 10)}, this machine`,
  `(${cpus().length} cores, no GPU), ${graph} at ${size} px, ${steps} steps, wasm (one thread per worker process), Redis on loopback.`,
  "Each photo is a distinct crop, so nothing is served from a worker's memo but the style side.",
  '',
  '| workers | exit | seconds | images/s | vs 1 worker | pictures | jobs per worker |',
  '|---|---|---|---|---|---|---|',
  `| 1 | ${one.code} | ${one.seconds.toFixed(1)} | ${one.perSecond.toFixed(2)} | 1.00x | ${one.files} | ${one.byWorker.join(', ')} |`,
  `| 2 | ${two.code} | ${two.seconds.toFixed(1)} | ${two.perSecond.toFixed(2)} | ${(two.perSecond / one.perSecond).toFixed(2)}x | ${two.files} | ${two.byWorker.join(', ')} |`,
  `| 2, one SIGKILLed at half | ${killed.code} | ${killed.seconds.toFixed(1)} | ${killed.perSecond.toFixed(2)} | ${(killed.perSecond / one.perSecond).toFixed(2)}x | ${killed.files} (${killed.distinct} distinct, ${killed.leftovers} temporary files left) | ${killed.byWorker.join(', ')} |`,
];
console.log(lines.join('\n'));
process.exit(0);
