import type * as tfjs from '@tensorflow/tfjs';
import { compile, type CompileResult } from '../compiler/compile';
import type { Diagnostic } from '../graph/diagnostics';
import type { GraphModel } from '../graph/model';
import { imageToTensor } from '../ops/image';
import type { NodeRegistry } from '../plugin/registry';
import type { CheckpointStore, ComputeServices, LoadedCheckpoint, ModelCache } from '../plugin/types';
import { tapShapes, type TfjsModel } from '../models/tfjs-models';

export interface DecodedImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** Host-specific: bytes from a path, URL or data: URL, decoded to RGBA. */
export type ImageDecoder = (source: string) => Promise<DecodedImage>;

/**
 * Loads, once per distinct source, everything the graph's parameters of one kind name (images, tfjs models),
 * into `into`. A source that fails is reported as a diagnostic on the node and parameter that name it; the
 * others still load.
 */
async function loadSources<T>(
  model: GraphModel,
  registry: NodeRegistry,
  kind: 'image' | 'model',
  load: (source: string) => Promise<T>,
  into: Map<string, T>,
  describe: (source: string) => string,
): Promise<Diagnostic[]> {
  const errors: Diagnostic[] = [];
  for (const [i, node] of model.nodes.entries())
    for (const [name, p] of Object.entries(registry.get(node.type)?.params ?? {})) {
      if (p.kind !== kind) continue;
      const value = node.params[name];
      const source = typeof value === 'string' ? value : String(p.default);
      // Empty names nothing (a painted region with no painting is the whole picture): the node says what it means.
      if (!source || into.has(source)) continue;
      try {
        into.set(source, await load(source));
      } catch (e) {
        errors.push({
          severity: 'error',
          code: 'source',
          nodeId: node.id,
          path: `$.nodes[${i}].params.${name}`,
          message: `node "${node.id}": cannot load ${describe(source)}: ${(e as Error).message}`,
        });
      }
    }
  return errors;
}

/** Decodes every image the graph reads, once, so the compiler knows their sizes and runs reuse them. */
export async function loadGraphImages(
  model: GraphModel,
  registry: NodeRegistry,
  decode: ImageDecoder,
  images = new Map<string, DecodedImage>(),
): Promise<{ images: Map<string, DecodedImage>; errors: Diagnostic[] }> {
  const errors = await loadSources(
    model,
    registry,
    'image',
    decode,
    images,
    (s) => `image ${s.startsWith('data:') ? '(data URL)' : s}`,
  );
  return { images, errors };
}

/** Loads every tfjs model the graph names (parameters of kind `model`) that `models` does not hold yet, once. */
export async function loadGraphModels(
  model: GraphModel,
  registry: NodeRegistry,
  load: (source: string) => Promise<TfjsModel>,
  models = new Map<string, TfjsModel>(),
): Promise<{ models: Map<string, TfjsModel>; errors: Diagnostic[] }> {
  const errors = await loadSources(model, registry, 'model', load, models, (s) => `the tfjs model ${s}`);
  return { models, errors };
}

/** Each loaded checkpoint's shape map, built once however many compiles (scales, sweep cells, batch items) ask. */
const shapeMaps = new WeakMap<LoadedCheckpoint, Map<string, readonly number[]>>();

/** Tensor shapes of a loaded checkpoint, by tensor name (what compile needs to infer a reduced-width network's widths). */
export function checkpointShapes(
  checkpoints: CheckpointStore,
): (name: string) => Map<string, readonly number[]> | undefined {
  return (name) => {
    const c = checkpoints.get(name);
    if (!c) return undefined;
    let shapes = shapeMaps.get(c);
    if (!shapes) shapeMaps.set(c, (shapes = new Map([...c.tensors].map(([k, t]) => [k, t.shape]))));
    return shapes;
  };
}

export function compileWithImages(
  model: GraphModel,
  registry: NodeRegistry,
  images: Map<string, DecodedImage>,
  size: number,
  tfjsModels = new Map<string, TfjsModel>(),
  checkpoints: CheckpointStore = noCheckpoints,
): CompileResult {
  return compile(model, registry, {
    size,
    checkpointShapes: checkpointShapes(checkpoints),
    modelLayers: (source, input) => {
      const m = tfjsModels.get(source);
      return m ? tapShapes(m, input) : undefined;
    },
    imageSize: (source) => {
      const img = images.get(source);
      return img ? [img.height, img.width] : undefined;
    },
  });
}

export const noCheckpoints: CheckpointStore = { get: () => undefined };

export interface HostAccess {
  /** Decodes images the graph names only at run time (a training folder's files). */
  decode?: ImageDecoder;
  listImages?: (folder: string) => Promise<string[]>;
  /** tfjs models loaded by loadGraphModels. */
  tfjsModels?: Map<string, TfjsModel>;
}

export function makeServices(
  tf: typeof tfjs,
  images: Map<string, DecodedImage>,
  size: number,
  seed: number,
  models: ModelCache,
  checkpoints: CheckpointStore = noCheckpoints,
  host: HostAccess = {},
): ComputeServices {
  return {
    tf,
    size,
    seed,
    models,
    checkpoints,
    ...(host.listImages ? { listImages: host.listImages } : {}),
    tfjsModel: (source) => host.tfjsModels?.get(source),
    loadImage: async (source, px) => {
      let img = images.get(source);
      if (!img && host.decode) images.set(source, (img = await host.decode(source)));
      if (!img) throw new Error(`image ${source} was not loaded`);
      return imageToTensor(tf, img, px);
    },
  };
}
