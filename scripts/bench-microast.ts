/**
 * MicroAST per frame (presets/microast.json with the official weights from ../shared/fixtures/microast) through the
 * CLI's path in Node on wasm, against the official PyTorch network on CPU with the same thread count, in one run:
 *
 * - "style included": every run encodes the painting too (a fresh run memo), as a single `stylegraph run` does;
 * - "style reused": the run memo keeps the style encoder's and the modulator's outputs between frames, as the camera
 *   and `run --content clip.mp4` do (the painting does not change), so a frame is the content encoder and the decoder.
 *
 *   npx tsx scripts/bench-microast.ts [--sizes 256,512,1024] [--frames 5] [--threads 2] [--official DIR]
 *
 * --official: a checkout of EndyWon/MicroAST (for its net_microAST.py; /usr/bin/python3 with python3-torch) to time
 * PyTorch the same two ways. Medians over the frames after one warm-up. Content chicago.jpg, style udnie.jpg.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { builtinRegistry } from '../nodes';
import { loadDocumentImages } from '../src/cli/node/node-session';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { parseDocument } from '../src/graph/document';
import { withInput } from '../src/graph/edit';
import type { GraphModel } from '../src/graph/model';
import { readCheckpoint } from '../src/models/weights/read';
import type { NodeRegistry } from '../src/plugin/registry';
import type { CheckpointStore, LoadedCheckpoint, ModelCache } from '../src/plugin/types';
import { execute, type RunMemo as Memo } from '../src/runtime/executor';
import { RunMemo } from '../src/runtime/memo';
import { createModelCache } from '../src/runtime/models';
import { compileWithImages, makeServices, type DecodedImage } from '../src/runtime/sources';

/* What scripts/bench-microast-ab.ts and bench-flow.ts take from here: the fixtures, the checkpoints, a tree's set-up, one frame. */

const root = new URL('..', import.meta.url).pathname;
const shared = join(root, '..', 'shared', 'fixtures');
export const photos = join(shared, 'photos');
export const weightsDir = join(shared, 'microast');
export const contentPhoto = join(photos, 'chicago.jpg');
export const stylePhoto = join(photos, 'udnie.jpg');

/** Throws, before anything starts, when ../shared/fixtures has no official checkpoints. */
export function requireWeights(): void {
  if (!existsSync(weightsDir)) throw new Error(`the official checkpoints are not in ${weightsDir}`);
}

/** What a frame goes through: this tree's modules, or another checkout's (bench-microast-ab.ts --base). */
export interface FrameModules {
  builtinRegistry: typeof builtinRegistry;
  loadDocumentImages: typeof loadDocumentImages;
  parseDocument: typeof parseDocument;
  withInput: typeof withInput;
  readCheckpoint: typeof readCheckpoint;
  execute: typeof execute;
  RunMemo: typeof RunMemo;
  createModelCache: typeof createModelCache;
  compileWithImages: typeof compileWithImages;
  makeServices: typeof makeServices;
}

export const thisTree: FrameModules = {
  builtinRegistry,
  loadDocumentImages,
  parseDocument,
  withInput,
  readCheckpoint,
  execute,
  RunMemo,
  createModelCache,
  compileWithImages,
  makeServices,
};

/** A tree ready for frames: presets/microast.json with chicago.jpg and udnie.jpg, and the official weights. */
export interface MicroastSetup {
  m: FrameModules;
  registry: NodeRegistry;
  model: GraphModel;
  images: Map<string, DecodedImage>;
  store: CheckpointStore;
}

/** The set-up of the tree at `dir`, through its modules `m`. */
export async function microastSetup(dir: string, m: FrameModules): Promise<MicroastSetup> {
  const registry = m.builtinRegistry();
  const docPath = join(dir, 'presets', 'microast.json');
  let model = m.parseDocument(readFileSync(docPath, 'utf8')).model!;
  model = m.withInput(m.withInput(model, registry, 'content', contentPhoto), registry, 'style', stylePhoto);
  const given = [contentPhoto, stylePhoto];
  const { images, errors } = await m.loadDocumentImages(model, registry, docPath, { given });
  if (errors.length) throw new Error(errors.join('\n'));
  return { m, registry, model, images, store: microastCheckpoints(m.readCheckpoint) };
}

/** The official MicroAST checkpoints, under the names the preset's nodes ask for, read by `read`. */
export function microastCheckpoints(read: typeof readCheckpoint = readCheckpoint): CheckpointStore {
  const parts = {
    'microast-content-encoder': 'content_encoder',
    'microast-style-encoder': 'style_encoder',
    'microast-modulator': 'modulator',
    'microast-decoder': 'decoder',
  };
  const ckpts: LoadedCheckpoint[] = Object.entries(parts).map(([name, file]) => {
    const path = join(weightsDir, `${file}_iter_160000.pth.tar`);
    return { name, source: path, tensors: read(new Uint8Array(readFileSync(path)), path) };
  });
  return { get: (name: string) => ckpts.find((c) => c.name === name) };
}

/**
 * One frame at `size`: the content photo under a new name (`frame`), so that its side is computed afresh, as for a
 * clip's frames, compiled and executed with `memo`. Returns the ms of the execute alone, or with `withCompile` of
 * the compile and the execute, by `clock`.
 */
export async function microastFrame(
  s: MicroastSetup,
  size: number,
  models: ModelCache,
  memo: Memo,
  frame: string,
  o: { clock?: () => number; withCompile?: boolean } = {},
): Promise<number> {
  const { m, registry, images, store } = s;
  const clock = o.clock ?? (() => performance.now());
  images.set(frame, images.get(contentPhoto)!);
  const start = clock();
  const { plan, diagnostics } = m.compileWithImages(
    m.withInput(s.model, registry, 'content', frame),
    registry,
    images,
    size,
    undefined,
    store,
  );
  if (!plan) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const t0 = o.withCompile ? start : clock();
  const r = await m.execute(plan, registry, m.makeServices(tf, images, size, 0, models, store), { memo });
  if (r.status !== 'done') throw new Error(`${size} px: ${r.status} ${r.error ?? ''}`);
  const ms = clock() - t0;
  images.delete(frame);
  return ms;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** Run as a script, not imported by bench-microast-ab.ts. */
const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);

// Imported, this script reads no options (they are the importer's).
const { values: v } = parseArgs({
  args: isMain ? process.argv.slice(2) : [],
  options: {
    sizes: { type: 'string' },
    frames: { type: 'string' },
    threads: { type: 'string' },
    official: { type: 'string' },
  },
});
const sizes = (v.sizes ?? '256,512,1024').split(',').map(Number);
const frames = Number(v.frames ?? 5);
const threads = Number(v.threads ?? 2);

/**
 * Frames through the executor. Each frame's content is a new source (the same photo under another name), so its side is
 * computed afresh, as for a clip's frames; with `reuseStyle` the memo serves the painting's side after the first frame.
 */
async function node(setup: MicroastSetup, size: number, reuseStyle: boolean): Promise<number> {
  const models = createModelCache();
  let memo: Memo = new RunMemo();
  const times: number[] = [];
  try {
    for (let i = 0; i <= frames; i++) {
      if (!reuseStyle) {
        memo.clear();
        memo = new RunMemo();
      }
      // No memo.trim() here: execute trims at its end, and a second trim emptied the memo (the style side was never
      // reused, so the "style reused" column was a second "included" until 2026-12-07).
      const ms = await microastFrame(setup, size, models, memo, `${contentPhoto}#frame${i}`);
      if (i > 0) times.push(ms);
    }
  } finally {
    memo.clear();
    models.dispose();
  }
  return median(times);
}

const PY = `
import sys, time, torch
sys.path.insert(0, sys.argv[1]); import net_microAST as net
from PIL import Image
import numpy as np
torch.set_num_threads(int(sys.argv[2])); frames = int(sys.argv[4])
enc_c, enc_s, mod, dec = net.Encoder(), net.Encoder(), net.Modulator(), net.Decoder()
for m, n in [(enc_c, 'content_encoder'), (enc_s, 'style_encoder'), (mod, 'modulator'), (dec, 'decoder')]:
    m.load_state_dict(torch.load(f'{sys.argv[3]}/{n}_iter_160000.pth.tar', map_location='cpu')); m.eval()
def load(p, size):
    im = Image.open(p).convert('RGB'); s = size / max(im.size)
    im = im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.BILINEAR)
    return torch.from_numpy(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255)[None]
for size in map(int, sys.argv[5].split(',')):
    c, s = load(sys.argv[6], size), load(sys.argv[7], size)
    full, reuse = [], []
    with torch.no_grad():
        for i in range(frames + 1):
            t = time.perf_counter(); sf = enc_s(s); w, b = mod(sf); dec(enc_c(c), sf, w, b, 1.0); dt = time.perf_counter() - t
            if i: full.append(dt * 1000)
        for i in range(frames + 1):
            t = time.perf_counter(); dec(enc_c(c), sf, w, b, 1.0); dt = time.perf_counter() - t
            if i: reuse.append(dt * 1000)
    print(size, sorted(full)[len(full) // 2], sorted(reuse)[len(reuse) // 2])
`;

function torch(): Map<number, [number, number]> | string {
  if (!v.official) return 'no --official checkout given';
  const r = spawnSync(
    '/usr/bin/python3',
    ['-c', PY, v.official, String(threads), weightsDir, String(frames), sizes.join(','), contentPhoto, stylePhoto],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) return r.stderr.trim().split('\n').at(-1) ?? 'failed';
  return new Map(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ').map(Number))
      .map(([s, a, b]) => [s!, [a!, b!]]),
  );
}

async function main(): Promise<void> {
  requireWeights();
  const setup = await microastSetup(root, thisTree);
  const choice = await startNodeBackend('wasm', { threads });
  const rows: string[] = [];
  const load0 = loadavg()[0]!;
  for (const size of sizes)
    rows.push(`${size}|${(await node(setup, size, false)).toFixed(0)}|${(await node(setup, size, true)).toFixed(0)}`);
  const pt = torch();
  console.log(
    `\nMicroAST per frame, wasm ${choice.threads ?? 1} threads (Node, the CLI's path) vs PyTorch CPU ${threads} threads; load average ${load0.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}${typeof pt === 'string' ? `; PyTorch: ${pt}` : ''}\n`,
  );
  console.log('| size | wasm, style included | wasm, style reused | PyTorch, style included | PyTorch, style reused |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) {
    const [size, a, b] = row.split('|');
    const p = typeof pt === 'string' ? undefined : pt.get(Number(size));
    console.log(
      `| ${size} px | ${a} ms | ${b} ms | ${p ? `${p[0].toFixed(0)} ms` : '–'} | ${p ? `${p[1].toFixed(0)} ms` : '–'} |`,
    );
  }
}

if (isMain) await main();
