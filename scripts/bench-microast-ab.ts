/**
 * MicroAST per frame, A/B in one process: the CLI's path (compile + execute presets/microast.json, as
 * scripts/bench-microast.ts runs it) of this tree against another tree's (--base: an older checkout, e.g.
 * `git archive REV | tar -x -C DIR` with node_modules linked to this one's; several, comma-separated), and the official PyTorch network
 * (--official: a checkout of EndyWon/MicroAST) in a child process, all three interleaved frame by frame so that a
 * shared machine's load falls on each alike. Medians (and minima) over --reps frames after one warm-up each.
 *
 *   npx tsx scripts/bench-microast-ab.ts [--base DIR] [--official DIR] [--sizes 256,512] [--reps 9] [--threads 2]
 *     [--modes included,reused] [--clock wall|cpu]
 *
 * Modes: "included" encodes the painting every frame (a fresh run memo), "reused" keeps the style side in the memo
 * (the camera, a clip). Content chicago.jpg, style udnie.jpg, official weights from ../shared/fixtures/microast.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startNodeBackend } from '../src/cli/node/node-tf';
import type { RunMemo } from '../src/runtime/memo';
import {
  contentPhoto,
  median,
  microastFrame,
  microastSetup,
  requireWeights,
  stylePhoto,
  thisTree,
  weightsDir,
  type FrameModules,
} from './bench-microast';

const { values: v } = parseArgs({
  options: {
    base: { type: 'string' },
    official: { type: 'string' },
    sizes: { type: 'string' },
    reps: { type: 'string' },
    threads: { type: 'string' },
    modes: { type: 'string' },
    clock: { type: 'string' },
  },
});
const sizes = (v.sizes ?? '256,512').split(',').map(Number);
const reps = Number(v.reps ?? 9);
const threads = Number(v.threads ?? 2);
const modes = (v.modes ?? 'included,reused').split(',') as ('included' | 'reused')[];
/** wall: elapsed time; cpu: the process's CPU time (every thread's), steadier on a busy machine at one thread. */
const cpuClock = v.clock === 'cpu';
const now = () => {
  if (!cpuClock) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const root = resolve(new URL('..', import.meta.url).pathname);
requireWeights();
const choice = await startNodeBackend('wasm', { threads });

/** Where each of bench-microast.ts's modules lies in a tree. */
const FILES: Record<keyof FrameModules, string> = {
  builtinRegistry: 'nodes/index.ts',
  loadDocumentImages: 'src/cli/node/node-session.ts',
  parseDocument: 'src/graph/document.ts',
  withInput: 'src/graph/edit.ts',
  readCheckpoint: 'src/models/weights/read.ts',
  execute: 'src/runtime/executor.ts',
  RunMemo: 'src/runtime/memo.ts',
  createModelCache: 'src/runtime/models.ts',
  compileWithImages: 'src/runtime/sources.ts',
  makeServices: 'src/runtime/sources.ts',
};

/** Another checkout's modules: each one from that tree, none from this one. */
async function modulesOf(dir: string): Promise<FrameModules> {
  const picked: Record<string, unknown> = {};
  for (const [name, file] of Object.entries(FILES)) picked[name] = (await import(join(dir, file)))[name];
  // Untyped (a dynamic import of a path): an older tree's functions are called as this tree's are.
  return picked as unknown as FrameModules;
}

/** One tree's frame runner: its registry, compiler and executor on the shared tfjs. */
async function tree(dir: string) {
  const setup = await microastSetup(dir, dir === root ? thisTree : await modulesOf(dir));
  const models = setup.m.createModelCache();
  const memos = new Map<string, RunMemo>();
  let n = 0;
  /** One frame at `size`: a new content source each time (as a clip's frame); ms of compile + execute. */
  return async (size: number, mode: 'included' | 'reused'): Promise<number> => {
    const key = `${size} ${mode}`;
    if (mode === 'included' || !memos.has(key)) {
      memos.get(key)?.clear();
      memos.set(key, new setup.m.RunMemo());
    }
    const frame = `${contentPhoto}#frame${n++}`;
    return microastFrame(setup, size, models, memos.get(key)!, frame, { clock: now, withCompile: true });
  };
}

const PY = `
import sys, time, torch
sys.path.insert(0, sys.argv[1]); import net_microAST as net
from PIL import Image
import numpy as np
torch.set_num_threads(int(sys.argv[2])); clock = time.process_time if sys.argv[6] == 'cpu' else time.perf_counter
enc_c, enc_s, mod, dec = net.Encoder(), net.Encoder(), net.Modulator(), net.Decoder()
for m, n in [(enc_c, 'content_encoder'), (enc_s, 'style_encoder'), (mod, 'modulator'), (dec, 'decoder')]:
    m.load_state_dict(torch.load(f'{sys.argv[3]}/{n}_iter_160000.pth.tar', map_location='cpu')); m.eval()
def load(p, size):
    im = Image.open(p).convert('RGB'); s = size / max(im.size)
    im = im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.BILINEAR)
    return torch.from_numpy(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255)[None]
cache = {}
print('ready', flush=True)
for line in sys.stdin:
    size, mode = line.split(); size = int(size)
    if size not in cache: cache[size] = (load(sys.argv[4], size), load(sys.argv[5], size))
    c, s = cache[size]
    with torch.no_grad():
        if mode == 'included' or (size, 'style') not in cache:
            t = clock(); sf = enc_s(s); w, b = mod(sf); dt = clock() - t
            cache[(size, 'style')] = (sf, w, b)
        else: dt = 0
        sf, w, b = cache[(size, 'style')]
        t = clock(); dec(enc_c(c), sf, w, b, 1.0); dt += clock() - t
    print(dt * 1000, flush=True)
`;

/** The official network in a child process, answering one frame per request. */
async function torch(dir: string) {
  const py = spawn('/usr/bin/python3', [
    '-c',
    PY,
    dir,
    String(threads),
    weightsDir,
    contentPhoto,
    stylePhoto,
    cpuClock ? 'cpu' : 'wall',
  ]);
  py.stderr.on('data', (d) => process.stderr.write(d));
  const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const l = await lines.next();
    if (l.done) throw new Error('PyTorch ended');
    return l.value as string;
  };
  if ((await next()) !== 'ready') throw new Error('PyTorch did not start');
  return {
    frame: async (size: number, mode: string) => {
      py.stdin.write(`${size} ${mode}\n`);
      return Number(await next());
    },
    close: () => py.stdin.end(),
  };
}

const runners: [string, (size: number, mode: 'included' | 'reused') => Promise<number>][] = [];
const bases = v.base ? v.base.split(',') : [];
for (const dir of bases) runners.push([bases.length > 1 ? basename(resolve(dir)) : 'base', await tree(resolve(dir))]);
runners.push(['this tree', await tree(root)]);
const py = v.official ? await torch(v.official) : null;
if (py) runners.push(['PyTorch', py.frame]);

const load0 = loadavg()[0]!;
const results: string[] = [];
for (const size of sizes)
  for (const mode of modes) {
    const times = runners.map(() => [] as number[]);
    for (let i = 0; i <= reps; i++)
      for (const [j, [, run]] of runners.entries()) {
        const ms = await run(size, mode);
        if (i > 0) times[j]!.push(ms);
      }
    const med = times.map(median);
    const cells = med.map((m, j) => `${m.toFixed(0)} ms (min ${Math.min(...times[j]!).toFixed(0)})`);
    const ratios: string[] = [];
    const at = (name: string) => runners.findIndex(([n]) => n === name);
    const first = runners[0]![0];
    if (bases.length)
      for (const [name] of runners.slice(1, bases.length + 1))
        ratios.push(`${name}/${first} ${(med[at(name)]! / med[0]!).toFixed(2)}x`);
    if (py)
      for (const [name] of runners.slice(0, -1))
        ratios.push(`${name}/PyTorch ${(med[at(name)]! / med[at('PyTorch')]!).toFixed(2)}x`);
    results.push(`| ${size} px | ${mode} | ${cells.join(' | ')} | ${ratios.join(', ')} |`);
    console.log(results.at(-1));
  }
py?.close();
console.log(
  `\nMicroAST per frame (compile + execute; ${cpuClock ? 'CPU time of each process' : 'wall time'}), wasm ${choice.threads ?? 1} threads, PyTorch CPU ${threads} threads, medians of ${reps} interleaved frames; load average ${load0.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}\n`,
);
console.log(`| size | style | ${runners.map(([n]) => n).join(' | ')} | ratios |`);
console.log(`|---|---|${runners.map(() => '---|').join('')}---|`);
for (const r of results) console.log(r);
