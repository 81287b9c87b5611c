import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;

/**
 * A tfjs graph model used as an encoder: the model, its nodes (what can be tapped), and its tf (graph models are
 * executed to learn their shapes, which follow the input size). Layers models are used as they are.
 */
export interface GraphEncoder {
  kind: 'graph';
  model: tfjs.GraphModel;
  tf: TF;
  /** Node names in graph order, without constants, placeholders and shape arithmetic. */
  nodes: string[];
  shapes: Map<string, Map<string, number[]>>;
}

export type TfjsModel = tfjs.LayersModel | GraphEncoder;

export const isGraphEncoder = (m: TfjsModel): m is GraphEncoder => (m as GraphEncoder).kind === 'graph';

/** Ops whose outputs are not feature maps worth tapping. */
const SKIP = new Set([
  'Const',
  'Placeholder',
  'Identity',
  'Shape',
  'Pack',
  'StridedSlice',
  'ExpandDims',
  'Squeeze',
  'Reshape',
  'Cast',
  'Range',
  'Fill',
]);

/** model.json text of a graph model (its topology has `node`), as opposed to a Layers model (`class_name`). */
export const isGraphModelJson = (json: { format?: string; modelTopology?: { node?: unknown } }) =>
  json.format === 'graph-model' || Array.isArray(json.modelTopology?.node);

export function graphEncoder(
  tf: TF,
  model: tfjs.GraphModel,
  topology: { node?: { name: string; op: string }[] },
): GraphEncoder {
  const nodes = (topology.node ?? []).filter((n) => !SKIP.has(n.op)).map((n) => n.name);
  return { kind: 'graph', model, tf, nodes, shapes: new Map() };
}

/** What a graph model is fed: the image for its first input, zeros (batch 1) for any other. */
function feeds(m: GraphEncoder, image: tfjs.Tensor): tfjs.NamedTensorMap {
  const out: tfjs.NamedTensorMap = {};
  m.model.inputs.forEach((input, i) => {
    out[input.name] = i === 0 ? image : m.tf.zeros((input.shape ?? [1]).map((d) => (d < 0 ? 1 : d)));
  });
  return out;
}

/** Each layer's (or node's) output shape for an input of `input` shape ([1, H, W, 3]); batch axis 1. */
export function tapShapes(m: TfjsModel, input: readonly number[] = [1, 224, 224, 3]): Map<string, number[]> {
  if (!isGraphEncoder(m)) {
    const shapes = new Map<string, number[]>();
    for (const l of m.layers) {
      const s = l.outputShape;
      if (Array.isArray(s) && (s.length === 0 || !Array.isArray(s[0])))
        shapes.set(
          l.name,
          (s as (number | null)[]).map((d) => d ?? 1),
        );
    }
    return shapes;
  }
  const key = input.join('x');
  let shapes = m.shapes.get(key);
  if (!shapes) {
    // Executing once at this size is the only sure way to know the shapes of a graph whose input size is free.
    const { tf } = m;
    const found = new Map<string, number[]>();
    tf.tidy(() => {
      const outs = m.model.execute(feeds(m, tf.zeros([...input])), m.nodes) as tfjs.Tensor[];
      m.nodes.forEach((n, i) => outs[i]!.shape.length === 4 && found.set(n, [...outs[i]!.shape]));
    });
    shapes = found;
    m.shapes.set(key, shapes);
  }
  return shapes;
}

/** The tapped nodes' values for an image, in one execution that stops where the deepest tap is computed. */
export function runGraphTaps(m: GraphEncoder, image: tfjs.Tensor, taps: string[]): tfjs.Tensor[] {
  const out = m.model.execute(feeds(m, image), taps);
  return Array.isArray(out) ? out : [out];
}

type ModelJson = Parameters<typeof loadTfjsModelFromParts>[1];

/** Loads a model.json and its weight files through `read` (a file reader or fetch): a Layers or a graph model. */
export async function loadTfjsModel(
  tf: TF,
  path: string,
  read: (path: string, relativeTo?: string) => Promise<Uint8Array>,
): Promise<TfjsModel> {
  const json = JSON.parse(new TextDecoder().decode(await read(path))) as ModelJson;
  if (!json.modelTopology || !Array.isArray(json.weightsManifest))
    throw new Error(`${path} is not a tfjs model.json (no modelTopology or weightsManifest)`);
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => read(p, path)));
  const weightData = new Uint8Array(shards.reduce((a, s) => a + s.length, 0));
  let at = 0;
  for (const s of shards) weightData.set(s, (at += s.length) - s.length);
  return loadTfjsModelFromParts(tf, json, weightData.buffer);
}

/** Loads a model.json URL and its weight files (resolved next to it) over fetch. */
export function fetchTfjsModel(tf: TF, url: string): Promise<TfjsModel> {
  return loadTfjsModel(tf, url, async (p, from) => {
    const res = await fetch(new URL(p, from ?? url));
    if (!res.ok) throw new Error(`${p}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  });
}

/** Loads model.json + its weight files, given as bytes: a Layers or a graph model. */
export async function loadTfjsModelFromParts(
  tf: TF,
  json: {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[];
    format?: string;
  },
  weightData: ArrayBuffer,
): Promise<TfjsModel> {
  const handler = tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData,
  });
  if (isGraphModelJson(json))
    return graphEncoder(
      tf,
      await tf.loadGraphModel(handler),
      json.modelTopology as { node?: { name: string; op: string }[] },
    );
  return tf.loadLayersModel(handler);
}
