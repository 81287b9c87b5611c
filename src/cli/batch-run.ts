import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import type { TfjsModel } from '../models/tfjs-models';
import type { builtinRegistry } from '../../nodes';
import { formatDiagnostic } from '../graph/diagnostics';
import { serialiseDocument } from '../graph/document';
import type { GraphModel } from '../graph/model';
import type { CheckpointStore } from '../plugin/types';
import { embedText } from '../codecs/png';
import { RunMemo, execute } from '../runtime/executor';
import { createModelCache } from '../runtime/models';
import { compileWithImages, loadGraphImages, makeServices, type DecodedImage } from '../runtime/session';
import { UsageError, type Io } from './io';
import { encodePng } from './node-images';
import { documentAccess } from './node-session';
import { applyOverrides } from './overrides';

export interface BatchContext {
  tf: typeof tfjs;
  registry: ReturnType<typeof builtinRegistry>;
  images: Map<string, DecodedImage>;
  size: number;
  seed: number;
  tfjsModels: Map<string, TfjsModel>;
  checkpoints: CheckpointStore;
  out?: string;
  report?: string;
  backend: string;
  signal?: AbortSignal;
}

/**
 * `--content FOLDER`: the graph once per photo in the folder, into one output folder. The networks, the style
 * targets and every other result that does not depend on the photo are computed once and reused (one run memo
 * and model cache for the batch); each photo gets its own plan (its aspect ratio sets the shapes; compiling
 * takes milliseconds). Reports throughput.
 */
export async function runBatch(io: Io, file: string, model: GraphModel, folder: string, c: BatchContext): Promise<number> {
  const dir = resolve(io.cwd, folder);
  const names = (await readdir(dir)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  if (!names.length) throw new UsageError(`--content ${folder}: the folder has no .jpg or .png images`);
  const outDir = resolve(io.cwd, c.out ?? `${basename(file, extname(file))}-batch`);
  await mkdir(outDir, { recursive: true });
  const models = createModelCache();
  const memo = new RunMemo();
  const host = { ...documentAccess(file), tfjsModels: c.tfjsModels };
  const items: { image: string; out: string; status: string; loss: [number, number] | null; ms: number }[] = [];
  const started = performance.now();
  let status = 0;
  try {
    for (const name of names) {
      if (c.signal?.aborted) {
        status = 130;
        break;
      }
      const t0 = performance.now();
      const { model: m, errors } = applyOverrides(model, c.registry, { content: join(dir, name) }, io.cwd);
      if (errors.length) throw new UsageError(errors.join('\n'));
      const loaded = await loadGraphImages(m, c.registry, host.decode, c.images);
      if (loaded.errors.length) {
        io.err(`${name}: ${loaded.errors.join('; ')}`);
        items.push({ image: name, out: '', status: 'failed', loss: null, ms: 0 });
        status = 1;
        continue;
      }
      const { plan, diagnostics } = compileWithImages(m, c.registry, c.images, c.size, c.tfjsModels);
      if (!plan) throw new UsageError(`${name}: ${diagnostics.map(formatDiagnostic).join('; ')}`);
      const r = await execute(plan, c.registry, makeServices(c.tf, c.images, c.size, c.seed, models, c.checkpoints, host), {
        memo, ...(c.signal ? { signal: c.signal } : {}),
      });
      c.images.delete(join(dir, name)); // the photo's pixels are not needed again
      const image = Object.values(r.outputs)[0];
      const out = join(outDir, name.replace(/\.[^.]+$/, '.png'));
      if (image) await writeFile(out, embedText(encodePng(image), serialiseDocument(m)));
      const loss: [number, number] | null = r.steps.length ? [r.steps[0]!.loss, r.steps.at(-1)!.loss] : null;
      const ms = performance.now() - t0;
      items.push({ image: name, out, status: r.status, loss, ms });
      io.err(`${name}: ${r.status}${loss ? `, loss ${loss[0].toPrecision(4)} -> ${loss[1].toPrecision(4)}` : ''}, ${(ms / 1000).toFixed(1)} s -> ${out}`);
      if (r.status === 'failed') {
        io.err(`  ${r.error}`);
        status = 1;
      } else if (r.status === 'cancelled') {
        status = 130;
        break;
      }
    }
  } finally {
    memo.clear();
    models.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  io.err(`${items.length} images in ${seconds.toFixed(1)} s (${(seconds / Math.max(1, items.length)).toFixed(2)} s per image); ` +
    `${memo.hits} steps reused across images (style targets, encoder passes of the style)`);
  if (c.report)
    await writeFile(c.report, JSON.stringify({ graph: file, backend: c.backend, size: c.size, seconds, perImage: seconds / Math.max(1, items.length), reused: memo.hits, items }, null, 2) + '\n');
  return status;
}
