/** `stylegraph plan`: what a run would compute, its cost, and whether it would tile. */
import { dirname } from 'node:path';
import { formatPlan } from '../../compiler/format';
import type { GraphModel } from '../../graph/model';
import type { NodeRegistry } from '../../plugin/registry';
import { sourceOf } from '../../plugin/roles';
import { wasmThreads, type BackendName } from '../../runtime/backend';
import type { RunOptions } from '../../runtime/executor';
import { compileWithImages, loadGraphModels, type DecodedImage } from '../../runtime/sources';
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
  for (const note of regionAspectNotes(model, registry, (s) => images.get(s))) io.out(`note: ${note}`);
  const tiles = chooseTiling(compiled.plan, registry, backend ?? 'wasm', tiling || {});
  if (tiling !== false && tiles)
    io.out(`on ${backend ?? 'wasm'}:        ${'warning' in tiles ? tiles.warning : tiles.message}`);
  if ((backend ?? 'wasm') === 'wasm')
    io.out(
      `wasm threads:  ${wasmThreads(threads, nodeCores())}${threads === undefined ? ' at most (fewer where they time no faster at start, a busy machine; --threads N forces)' : ''}`,
    );
  return 0;
}

/**
 * A note for each painted region whose painting is not at the content photo's aspect ratio (more than 2% apart): the
 * run stretches a painting corner to corner onto the picture (docs/losses.md), so one made for another picture lands
 * somewhere else on this one.
 */
export function regionAspectNotes(
  model: GraphModel,
  registry: NodeRegistry,
  sizeOf: (source: string) => Pick<DecodedImage, 'width' | 'height'> | undefined,
): string[] {
  const sources = model.nodes.map((node) => {
    const def = registry.get(node.type);
    const s = sourceOf(def, node.params);
    const value = s ? String(node.params[s.param] ?? def?.params[s.param]?.default ?? '') : '';
    return { node, s, size: value ? sizeOf(value) : undefined };
  });
  const photo = sources.find((x) => x.s?.kind === 'image' && x.s.slot === 'content' && x.size);
  if (!photo?.size) return [];
  const aspect = (z: { width: number; height: number }) => z.width / z.height;
  const shown = (z: { width: number; height: number }) => `${z.width}x${z.height}`;
  return sources.flatMap(({ node, s, size }) =>
    s?.kind === 'mask' && size && Math.abs(Math.log(aspect(size) / aspect(photo.size!))) > Math.log(1.02)
      ? [
          `painted region "${s.name ?? node.id}" (${node.id}) is ${shown(size)} px, the content photo (${photo.node.id}) ${shown(photo.size!)}: the run stretches the painting onto the photo; paint it over this photo, or give --mask ${s.name ?? 'NAME'}=IMG at the photo's aspect ratio`,
        ]
      : [],
  );
}
