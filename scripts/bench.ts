/**
 * Gatys step timings in Node, measured in one run so the ratios compare like with like.
 *   npm run bench                 64 and 128 px on wasm, L-BFGS and Adam, flipped-kernel gradient on/off
 *   npm run bench -- --cpu        adds the cpu backend at 64 px (slow)
 *   npm run bench -- --smoke      one tiny configuration, for CI
 *   npm run bench -- --load FILE  time to read a VGG19 checkpoint and turn it into tfjs tensors
 *                                 (a full-size one: /usr/bin/python3 scripts/make-parity-fixtures.py --full-vgg19 FILE)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtinRegistry } from '../nodes';
import { loadDocumentImages } from '../src/cli/node-session';
import { startNodeBackend, tf } from '../src/cli/node-tf';
import { parseDocument } from '../src/graph/document';
import { VGG19_CONVS, convOptions } from '../src/models/vgg19';
import { vgg19FromStateDict } from '../src/models/checkpoints';
import { readCheckpoint } from '../src/models/weights/read';
import { execute } from '../src/runtime/executor';
import { createModelCache } from '../src/runtime/models';
import { compileWithImages, makeServices } from '../src/runtime/session';
import type { BackendName } from '../src/runtime/backend';

const argv = process.argv.slice(2);
const args = new Set(argv);
if (args.has('--load')) {
  await benchLoad(argv[argv.indexOf('--load') + 1]!);
  process.exit(0);
}

async function benchLoad(path: string): Promise<void> {
  await startNodeBackend('wasm');
  const t0 = performance.now();
  const bytes = readFileSync(path);
  const t1 = performance.now();
  const dict = readCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  const t2 = performance.now();
  const weights = vgg19FromStateDict(tf, dict, 'torchvision', path);
  VGG19_CONVS.forEach((l) => weights.conv(l.name));
  const t3 = performance.now();
  console.log(`${path}: ${(bytes.length / 2 ** 20).toFixed(0)} MiB, ${dict.size} tensors`);
  console.log(`read file ${(t1 - t0).toFixed(0)} ms, parse .pth ${(t2 - t1).toFixed(0)} ms, to tfjs tensors (transposed, flipped kernels) ${(t3 - t2).toFixed(0)} ms; total ${(t3 - t0).toFixed(0)} ms`);
  weights.dispose();
}
const presetPath = fileURLToPath(new URL('../presets/gatys.json', import.meta.url));
const registry = builtinRegistry();
const base = parseDocument(readFileSync(presetPath, 'utf8')).model!;
const { images } = await loadDocumentImages(base, registry, presetPath);

interface Case { backend: BackendName; size: number; method: string; steps: number; flipped: boolean }

async function measure(c: Case): Promise<number> {
  await startNodeBackend(c.backend);
  convOptions.flippedInputGradient = c.flipped;
  const model = structuredClone(base);
  const opt = model.nodes.find((n) => n.id === 'optim')!;
  Object.assign(opt.params, { method: c.method, steps: c.steps, previewEvery: 0 });
  const { plan } = compileWithImages(model, registry, images, c.size);
  const models = createModelCache();
  const r = await execute(plan!, registry, makeServices(tf, images, c.size, 0, models), {});
  models.dispose();
  if (r.status !== 'done') throw new Error(`${JSON.stringify(c)}: ${r.status} ${r.error ?? ''}`);
  // Step 0 includes the first evaluation's warm-up; the mean is over steps 1..N.
  const timed = r.steps.slice(1);
  return timed.reduce((a, s) => a + s.ms, 0) / timed.length;
}

const cases: Case[] = args.has('--smoke')
  ? [{ backend: 'wasm', size: 32, method: 'adam', steps: 2, flipped: true }]
  : [
      ...[64, 128].flatMap((size) => [
        { backend: 'wasm' as const, size, method: 'lbfgs', steps: 5, flipped: true },
        { backend: 'wasm' as const, size, method: 'adam', steps: 5, flipped: true },
        { backend: 'wasm' as const, size, method: 'adam', steps: 5, flipped: false },
      ]),
      ...(args.has('--cpu') ? [{ backend: 'cpu' as const, size: 64, method: 'adam', steps: 2, flipped: true }] : []),
    ];

const rows: (Case & { ms: number })[] = [];
for (const c of cases) {
  const ms = await measure(c);
  rows.push({ ...c, ms });
  console.log(`${c.backend.padEnd(5)} ${String(c.size).padStart(4)} px  ${c.method.padEnd(6)} ${c.flipped ? 'flipped-kernel grad' : 'built-in grad      '}  ${ms.toFixed(0).padStart(6)} ms/step`);
}
const find = (size: number, method: string, flipped: boolean, backend = 'wasm') =>
  rows.find((r) => r.size === size && r.method === method && r.flipped === flipped && r.backend === backend)?.ms;
for (const size of [64, 128]) {
  const [fast, slow] = [find(size, 'adam', true), find(size, 'adam', false)];
  if (fast && slow) console.log(`${size} px: the flipped-kernel input gradient makes an Adam step ${(slow / fast).toFixed(2)}x faster`);
}
const cpu = find(64, 'adam', true, 'cpu');
const wasm = find(64, 'adam', true);
if (cpu && wasm) console.log(`64 px: cpu is ${(cpu / wasm).toFixed(1)}x slower than wasm`);
