/**
 * The Gatys step the benchmarks time (bench-threads, bench-winograd, bench-gatys-speed): the preset (content conv4_2,
 * five Gram taps) with Adam through the CLI's path (compiler and executor) on the backend as it is started, random
 * VGG19 weights; the mean ms of steps 1..N (step 0 warms up).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtinRegistry } from '../nodes';
import { loadDocumentImages } from '../src/cli/node/node-session';
import { tf } from '../src/cli/node/node-tf';
import { parseDocument } from '../src/graph/document';
import { execute, type RunOptions } from '../src/runtime/executor';
import { createModelCache } from '../src/runtime/models';
import { compileWithImages, makeServices } from '../src/runtime/sources';

const registry = builtinRegistry();
const path = fileURLToPath(new URL('../presets/gatys.json', import.meta.url));
const gatys = parseDocument(readFileSync(path, 'utf8')).model!;
const { images } = await loadDocumentImages(gatys, registry, path);

/** The preset's style weight (PyTorch's reference, scripts/bench-torch.py, takes it as --beta). */
export const gatysBeta = gatys.nodes.find((n) => n.id === 'style_total')!.params.weight as number;

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** `steps` Adam steps at `size` px: the mean ms of steps 1..N. */
export async function gatysStep(size: number, steps: number, options: RunOptions = {}): Promise<number> {
  const model = structuredClone(gatys);
  Object.assign(model.nodes.find((n) => n.id === 'optim')!.params, { method: 'adam', steps, previewEvery: 0 });
  const { plan } = compileWithImages(model, registry, images, size);
  const models = createModelCache();
  try {
    const r = await execute(plan!, registry, makeServices(tf, images, size, 0, models), options);
    if (r.status !== 'done') throw new Error(`Gatys at ${size} px: ${r.status} ${r.error ?? ''}`);
    return mean(r.steps.slice(1).map((s) => s.ms));
  } finally {
    models.dispose();
  }
}
