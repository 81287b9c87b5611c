import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { manifestEntry } from '../models/weights/manifest';
import { detectFormat, readCheckpoint } from '../models/weights/read';
import { readTfjsModel } from '../models/weights/tfjs-model';
import type { CheckpointStore, LoadedCheckpoint } from '../plugin/types';
import { cachedDownload, type Progress } from './weights-cache';

export interface WeightsSpec {
  name: string;
  /** A path, an http(s) URL, or null for the manifest's URL. */
  source: string | null;
}

/** `NAME=PATH_OR_URL`, or a bare NAME from the weights manifest. */
export function parseWeightsSpec(text: string): WeightsSpec | { error: string } {
  const m = /^([A-Za-z0-9_.-]+)(?:=(.+))?$/.exec(text);
  if (!m) return { error: `--weights ${text}: expected NAME=PATH_OR_URL (e.g. vgg19=~/vgg19-dcbb9e9d.pth) or a name from the manifest` };
  if (!m[2] && !manifestEntry(m[1]!)) return { error: `--weights ${text}: "${m[1]}" is not in the weights manifest; give a path or URL: ${m[1]}=PATH_OR_URL` };
  return { name: m[1]!, source: m[2] ?? null };
}

/** Reads one checkpoint for the CLI: downloads URLs into the cache, reads .pth, safetensors or tfjs model.json. */
export async function loadWeights(
  tf: typeof tfjs, spec: WeightsSpec, cwd: string, cacheDir: string, onProgress?: (p: Progress) => void,
): Promise<LoadedCheckpoint> {
  const entry = manifestEntry(spec.name);
  const source = spec.source ?? entry!.url;
  const isUrl = /^https?:\/\//.test(source);
  const path = isUrl
    ? await cachedDownload(source, cacheDir, { sha256: entry?.url === source ? entry.sha256 : null, onProgress })
    : resolve(cwd, source);
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`--weights ${spec.name}: ${e.code === 'ENOENT' ? `no such file: ${path}` : e.message}`);
  });
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors =
    detectFormat(data) === 'tfjs'
      ? await readTfjsModel(tf, bytes.toString('utf8'), async (shard) => new Uint8Array(await readFile(resolve(dirname(path), shard))))
      : readCheckpoint(data, source);
  return { name: spec.name, source, tensors };
}

export function checkpointStore(list: LoadedCheckpoint[]): CheckpointStore {
  const byName = new Map(list.map((c) => [c.name, c]));
  return { get: (name) => byName.get(name) };
}
