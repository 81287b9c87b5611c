import { writeFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import type { TfjsModel } from '../models/tfjs-models';
import type { builtinRegistry } from '../../nodes';
import { serialiseDocument } from '../graph/document';
import type { GraphModel } from '../graph/model';
import type { Sweep } from '../graph/sweep';
import { embedText } from '../codecs/png';
import { RunMemo } from '../runtime/executor';
import { runSweep as runCells } from '../runtime/sweep';
import { createModelCache } from '../runtime/models';
import { compileWithImages, makeServices } from '../runtime/session';
import { contactSheet } from '../ops/contact-sheet';
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
  tfjsModels: Map<string, TfjsModel>;
  out?: string;
  report?: string;
  backend: string;
}

/** Runs every cell of a sweep, reusing weights and every unchanged result, and writes one labelled contact sheet. */
export async function runSweep(io: Io, file: string, model: GraphModel, sweep: Sweep, c: SweepContext): Promise<number> {
  const models = createModelCache();
  const memo = new RunMemo();
  const services = makeServices(c.tf, c.images, c.size, c.seed, models, checkpointStore([]), { ...documentAccess(file), tfjsModels: c.tfjsModels });
  let result: Awaited<ReturnType<typeof runCells>>;
  try {
    result = await runCells(model, sweep, c.registry, (m) => compileWithImages(m, c.registry, c.images, c.size, c.tfjsModels), services, {
      memo,
      onCell: (label, i, n) => io.err(`cell ${i + 1}/${n}: ${label}`),
    });
  } finally {
    memo.clear();
    models.dispose();
  }
  for (const cell of result.cells)
    io.err(`${cell.label}: ${cell.status}${cell.steps.length ? `, loss ${cell.steps[0]!.loss.toPrecision(4)} -> ${cell.steps.at(-1)!.loss.toPrecision(4)}` : ''}`);
  // A cell that ran and failed is a run-time failure; one that could not be set up is the graph's fault.
  if (result.status === 'failed')
    throw result.cells.at(-1)?.status === 'failed' ? new Error(result.error) : new UsageError(result.error ?? 'the sweep failed');
  const { tiles, cells } = result;
  const out = c.out ?? `${basename(file, extname(file))}-sheet.png`;
  await writeFile(out, embedText(encodePng(contactSheet(tiles, sweep.columns.length)), serialiseDocument(model)));
  io.err(`wrote ${out} (${tiles.length} cells; ${memo.hits} steps reused from earlier cells)`);
  if (c.report) await writeFile(c.report, JSON.stringify({ graph: file, backend: c.backend, size: c.size, reused: memo.hits, cells }, null, 2) + '\n');
  return 0;
}
