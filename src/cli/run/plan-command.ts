/** `stylegraph plan`: what a run would compute, its cost, and whether it would tile. */
import { dirname } from 'node:path';
import { formatPlan } from '../../compiler/format';
import type { GraphModel } from '../../graph/model';
import type { NodeRegistry } from '../../plugin/registry';
import { wasmThreads, type BackendName } from '../../runtime/backend';
import type { RunOptions } from '../../runtime/executor';
import { compileWithImages, loadGraphModels } from '../../runtime/sources';
import { chooseTiling } from '../../runtime/tiling';
import { UsageError, type Io } from '../io';
import { loadDocumentImages, type SourceOptions } from '../node/node-session';
import { loadTfjsModelFrom } from '../node/node-tfjs-model';
import { nodeCores } from '../node/node-threads';
import { checkpointStore } from '../node/node-weights';
import { documentSourceAccess } from '../security/source-access';
import { reportDiagnostics } from './read-graph';
import { loadRunWeights } from './run-command';

export interface PlanCommand {
  file: string;
  model: GraphModel;
  registry: NodeRegistry;
  size: number;
  backend: BackendName | undefined;
  tiling: RunOptions['tiling'];
  threads: number | undefined;
  sources: SourceOptions;
  /** The checkpoints to load: their widths set the widths the plan shows. */
  weights: Parameters<typeof loadRunWeights>[2];
}

export async function planCommand(io: Io, p: PlanCommand): Promise<number> {
  const { file, model, registry, size, backend, tiling, threads, sources } = p;
  const { images, errors: imageErrors } = await loadDocumentImages(model, registry, file, sources);
  if (imageErrors.length) throw new UsageError(imageErrors.map((d) => d.message).join('\n'));
  const { tf } = await import('../node/node-tf');
  // The loaded checkpoints set the widths the plan shows (a reduced-width network computes at its own).
  const checkpoints = checkpointStore(
    await loadRunWeights(io, tf, p.weights).catch((e: Error) => {
      throw new UsageError(e.message);
    }),
  );
  const { models: tfjsModels, errors: modelErrors } = await loadGraphModels(model, registry, (s) =>
    loadTfjsModelFrom(tf, s, documentSourceAccess(dirname(file), sources)),
  );
  if (modelErrors.length) throw new UsageError(modelErrors.map((d) => d.message).join('\n'));
  const compiled = compileWithImages(model, registry, images, size, tfjsModels, checkpoints);
  reportDiagnostics(io, file, compiled.diagnostics);
  if (!compiled.plan) return 2;
  io.out(formatPlan(compiled.plan));
  const tiles = chooseTiling(compiled.plan, registry, backend ?? 'wasm', tiling || {});
  if (tiling !== false && tiles)
    io.out(`on ${backend ?? 'wasm'}:        ${'warning' in tiles ? tiles.warning : tiles.message}`);
  if ((backend ?? 'wasm') === 'wasm')
    io.out(
      `wasm threads:  ${wasmThreads(threads, nodeCores())}${threads === undefined ? ' at most (fewer where they time no faster at start, a busy machine; --threads N forces)' : ''}`,
    );
  return 0;
}
