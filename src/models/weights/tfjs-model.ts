import type * as tfjs from '@tensorflow/tfjs';
import { WeightsError, type StateDict } from './state-dict';

interface Manifest {
  weightsManifest?: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[];
}

/** The weight groups of a tfjs model.json (each a list of shard paths and the weights in them). */
function weightGroups(modelJson: string): NonNullable<Manifest['weightsManifest']> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(modelJson) as Manifest;
  } catch (e) {
    throw new WeightsError(`model.json is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(manifest.weightsManifest))
    throw new WeightsError('model.json has no weightsManifest, so it is not a tfjs model');
  return manifest.weightsManifest;
}

/**
 * A tfjs `model.json` with its weight shards. `fetchShard` reads a shard path relative to the
 * model.json (a file next to it, or a URL). Dequantisation and dtypes are tfjs's own.
 */
export async function readTfjsModel(
  tf: typeof tfjs,
  modelJson: string,
  fetchShard: (path: string) => Promise<Uint8Array>,
): Promise<StateDict> {
  const out: StateDict = new Map();
  for (const group of weightGroups(modelJson)) {
    const shards = await Promise.all(group.paths.map(fetchShard));
    const total = shards.reduce((a, s) => a + s.length, 0);
    const buffer = new Uint8Array(total);
    let at = 0;
    for (const s of shards) buffer.set(s, (at += s.length) - s.length);
    const tensors = tf.io.decodeWeights(buffer.buffer, group.weights);
    for (const [name, t] of Object.entries(tensors)) {
      out.set(name, { shape: t.shape, data: Float32Array.from(t.dataSync() as ArrayLike<number>) });
      t.dispose();
    }
  }
  return out;
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2 };

/**
 * The same state dict without tfjs (the editor's page has none): float32 and int32 weights, and uint8/uint16
 * quantised ones (value = q * scale + min). `shards` holds each path of the manifest's groups.
 */
export function decodeTfjsWeights(modelJson: string, shards: ReadonlyMap<string, Uint8Array>): StateDict {
  const out: StateDict = new Map();
  for (const group of weightGroups(modelJson)) {
    const parts = group.paths.map((p) => {
      const s = shards.get(p) ?? shards.get(p.split('/').at(-1)!);
      if (!s) throw new WeightsError(`model.json needs the shard ${p}; drop it together with model.json`);
      return s;
    });
    const bytes = new Uint8Array(parts.reduce((a, s) => a + s.length, 0));
    parts.reduce((at, s) => (bytes.set(s, at), at + s.length), 0);
    const view = new DataView(bytes.buffer);
    let at = 0;
    for (const w of group.weights as ManifestWeight[]) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const stored = w.quantization?.dtype ?? w.dtype;
      const size = BYTES[stored];
      if (!size || (w.quantization && !['uint8', 'uint16'].includes(stored)))
        throw new WeightsError(`${w.name}: ${stored} weights are not supported here`);
      if (at + count * size > bytes.length)
        throw new WeightsError(`${w.name}: the shards end before its ${count} values`);
      const data = new Float32Array(count);
      const { scale = 1, min = 0 } = w.quantization ?? {};
      for (let i = 0; i < count; i++) {
        const o = at + i * size;
        const q =
          stored === 'float32'
            ? view.getFloat32(o, true)
            : stored === 'int32'
              ? view.getInt32(o, true)
              : stored === 'uint16'
                ? view.getUint16(o, true)
                : view.getUint8(o);
        data[i] = w.quantization ? q * scale + min : q;
      }
      out.set(w.name, { shape: w.shape, data });
      at += count * size;
    }
  }
  return out;
}
