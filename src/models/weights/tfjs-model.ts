import type * as tfjs from '@tensorflow/tfjs';
import { WeightsError, type StateDict } from './state-dict';

interface Manifest {
  weightsManifest?: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[];
}

/**
 * A tfjs `model.json` with its weight shards. `fetchShard` reads a shard path relative to the
 * model.json (a file next to it, or a URL). Dequantisation and dtypes are tfjs's own.
 */
export async function readTfjsModel(
  tf: typeof tfjs, modelJson: string, fetchShard: (path: string) => Promise<Uint8Array>,
): Promise<StateDict> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(modelJson) as Manifest;
  } catch (e) {
    throw new WeightsError(`model.json is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(manifest.weightsManifest)) throw new WeightsError('model.json has no weightsManifest, so it is not a tfjs model');
  const out: StateDict = new Map();
  for (const group of manifest.weightsManifest) {
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
