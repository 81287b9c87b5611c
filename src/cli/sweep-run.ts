import { writeFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import type { builtinRegistry } from '../../nodes';
import { formatDiagnostic } from '../graph/diagnostics';
import { serialiseDocument } from '../graph/document';
import type { GraphModel } from '../graph/model';
import { applyCell, sweepCells, type Sweep } from '../graph/sweep';
import type { RGBAImage } from '../ops/image';
import { embedText } from '../schema/png';
import { RunMemo, execute, type RunResult } from '../runtime/executor';
import { createModelCache } from '../runtime/models';
import { compileWithImages, makeServices } from '../runtime/session';
import { contactSheet } from './contact-sheet';
import { UsageError, type Io } from './io';
import { encodePng } from './node-images';
import { documentAccess } from './node-session';
import { checkpointStore } from './node-weights';

export interface SweepContext {
  tf: typeof tfjs;
  registry: ReturnType<typeof builtinRegistry>;
  images: Parameters<typeof makeServices>[1];
  size: number;
  seed: number;
  tfjsModels: Map<string, tfjs.LayersModel>;
  out?: string;
  report?: string;
  backend: string;
}

/** Runs every cell of a sweep, reusing weights and every unchanged result, and writes one labelled contact sheet. */
export async function runSweep(io: Io, file: string, model: GraphModel, sweep: Sweep, c: SweepContext): Promise<number> {
  const models = createModelCache();
  const memo = new RunMemo();
  const tiles: { image: RGBAImage; label: string }[] = [];
  const cells: { label: string; status: string; steps: RunResult['steps'] }[] = [];
  try {
    for (const cell of sweepCells(sweep)) {
      const applied = applyCell(model, cell);
      if (applied.error) throw new UsageError(applied.error);
      const { plan, diagnostics } = compileWithImages(applied.model, c.registry, c.images, c.size, c.tfjsModels);
      if (!plan) throw new UsageError(`sweep cell "${cell.label}": ${diagnostics.map(formatDiagnostic).join('; ')}`);
      const services = makeServices(c.tf, c.images, c.size, c.seed, models, checkpointStore([]), { ...documentAccess(file), tfjsModels: c.tfjsModels });
      const result = await execute(plan, c.registry, services, { memo });
      const image = Object.values(result.outputs)[0];
      io.err(`${cell.label}: ${result.status}${result.steps.length ? `, loss ${result.steps[0]!.loss.toPrecision(4)} -> ${result.steps.at(-1)!.loss.toPrecision(4)}` : ''}`);
      if (result.status === 'failed') throw new Error(`sweep cell "${cell.label}": ${result.error}`);
      if (image) tiles.push({ image, label: cell.label });
      cells.push({ label: cell.label, status: result.status, steps: result.steps });
    }
  } finally {
    memo.clear();
    models.dispose();
  }
  const out = c.out ?? `${basename(file, extname(file))}-sheet.png`;
  await writeFile(out, embedText(encodePng(contactSheet(tiles, sweep.columns.length)), serialiseDocument(model)));
  io.err(`wrote ${out} (${tiles.length} cells; ${memo.hits} steps reused from earlier cells)`);
  if (c.report) await writeFile(c.report, JSON.stringify({ graph: file, backend: c.backend, size: c.size, reused: memo.hits, cells }, null, 2) + '\n');
  return 0;
}
