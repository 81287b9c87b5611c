import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';

/** A tfjs Layers model from a model.json path (shards beside it) or an http(s) URL. */
export async function loadLayersModelFrom(tf: typeof tfjs, source: string, baseDir: string): Promise<tfjs.LayersModel> {
  if (/^https?:\/\//.test(source)) return tf.loadLayersModel(source);
  const path = resolve(baseDir, source);
  const json = JSON.parse(await readFile(path, 'utf8').catch(() => {
    throw new Error(`no such file: ${path}`);
  })) as { modelTopology: object; weightsManifest: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[] };
  if (!json.modelTopology) throw new Error(`${path} is not a tfjs Layers model (no modelTopology; graph models are not supported yet)`);
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(resolve(dirname(path), p))));
  const weightData = new Uint8Array(shards.reduce((a, s) => a + s.length, 0));
  let at = 0;
  for (const s of shards) weightData.set(s, (at += s.length) - s.length);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: weightData.buffer }));
}
