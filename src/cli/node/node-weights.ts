import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { readDlCheckpoint } from '../../models/weights/dl-checkpoint';
import { isFolderEntry, manifestEntry } from '../../models/weights/manifest';
import { detectFormat, readCheckpoint } from '../../models/weights/read';
import { WeightsError } from '../../models/weights/state-dict';
import { readTfjsModel } from '../../models/weights/tfjs-model';
import type { CheckpointStore, LoadedCheckpoint } from '../../plugin/types';
import type { Io } from '../io';
import { checkedFetch, weightsAddressPolicy } from '../security/address-guard';
import { cachedDownload, type Progress } from '../weights/weights-cache';
import { fetchWeights, knownHash, type WeightsSettings } from '../weights/weights-fetch';

export interface WeightsSpec {
  name: string;
  /** A path, an http(s) URL, or null for the manifest's URL. */
  source: string | null;
}

/** `NAME=PATH_OR_URL`, or a bare NAME from the weights manifest. */
export function parseWeightsSpec(text: string): WeightsSpec | { error: string } {
  const m = /^([A-Za-z0-9_.-]+)(?:=(.+))?$/.exec(text);
  if (!m)
    return {
      error: `--weights ${text}: expected NAME=PATH_OR_URL (e.g. vgg19=~/vgg19-dcbb9e9d.pth) or a name from the manifest`,
    };
  if (!m[2] && !manifestEntry(m[1]!))
    return {
      error: `--weights ${text}: "${m[1]}" is not in the weights manifest; give a path or URL: ${m[1]}=PATH_OR_URL`,
    };
  return { name: m[1]!, source: m[2] ?? null };
}

const quiet: Io = { out: () => {}, err: () => {}, isTTY: false, cwd: process.cwd() };

/**
 * Reads one checkpoint for the CLI: a manifest name from the cache (fetched first where it is not there, from the
 * mirror where one is set), a URL downloaded into the cache, or a path; .pth, safetensors or a tfjs model.json.
 * The checkpoint's source (named in reports) is the path as given, or the cached file a download became.
 */
export async function loadWeights(
  tf: typeof tfjs,
  spec: WeightsSpec,
  cwd: string,
  settings: WeightsSettings,
  opts: { io?: Io; onProgress?: (p: Progress) => void } = {},
): Promise<LoadedCheckpoint> {
  const entry = manifestEntry(spec.name);
  let path: string;
  if (spec.source === null) {
    if (!entry)
      throw new Error(`"${spec.name}" is not in the weights manifest; give a path or URL: ${spec.name}=PATH_OR_URL`);
    path = (await fetchWeights(entry, settings, opts.io ?? quiet, opts.onProgress)).path;
    // A folder checkpoint is cached as a folder (each file checked on download): read from its manifest.json.
    if (isFolderEntry(entry)) path = join(path, 'manifest.json');
  } else if (/^https?:\/\//.test(spec.source)) {
    // The manifest's file (from its host or a copy) is checked against what is known of its hash.
    const sameFile = entry && basename(new URL(spec.source).pathname) === basename(new URL(entry.url).pathname);
    path = await cachedDownload(spec.source, settings.dir, {
      ...(sameFile ? knownHash(entry) : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), // The URL the user typed is theirs to choose; where it redirects is checked.
      fetch: settings.fetch ?? checkedFetch(weightsAddressPolicy(settings.mirror?.url, spec.source)),
    });
  } else {
    path = resolve(cwd, spec.source.replace(/^~(?=\/|$)/, homedir()));
    // A checkpoint that is a folder (a deeplearn.js checkpoint) is read from its manifest.json.
    if ((await stat(path).catch(() => null))?.isDirectory()) path = join(path, 'manifest.json');
  }
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? `no such file: ${path}` : e.message);
  });
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = detectFormat(data);
  const tensors =
    format === 'tfjs'
      ? await readTfjsModel(
          tf,
          bytes.toString('utf8'),
          async (shard) => new Uint8Array(await readFile(resolve(dirname(path), shard))),
        )
      : format === 'dl-checkpoint'
        ? await readDlFolder(path, data)
        : readCheckpoint(data, path);
  // A path reads as the user gave it; a download as the cached file it became.
  return {
    name: spec.name,
    source: spec.source !== null && !/^https?:\/\//.test(spec.source) ? spec.source : path,
    tensors,
  };
}

/**
 * A deeplearn.js checkpoint folder from disk, given its manifest.json's path and bytes: each variable's file is
 * looked up by its plain name next to the manifest, and its size checked before it is read.
 */
export function readDlFolder(manifestPath: string, manifest: Uint8Array) {
  const dir = dirname(manifestPath);
  return readDlCheckpoint(
    manifest,
    async (name, expected) => {
      const file = join(dir, name);
      const size = (await stat(file)).size;
      if (size !== expected)
        throw new WeightsError(
          `${manifestPath}: ${JSON.stringify(name)} is ${size} bytes; its variable needs ${expected} (4 bytes per float32)`,
        );
      const b = await readFile(file);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
    manifestPath,
  );
}

/**
 * A note for a reduced-width VGG19 or decoder checkpoint (the test fixtures are such): it runs, at its own width,
 * but `plan` and the wire labels show VGG19's standard widths. Empty for a standard-width or unknown network.
 */
export function widthNote(tensors: LoadedCheckpoint['tensors']): string {
  const last = tensors.get('features.34.weight') ?? tensors.get('51.weight');
  if (last && last.shape.length === 4 && last.shape[0] !== 512)
    return `; a reduced-width VGG19 (${last.shape[0]} channels at relu5_1 where VGG19 has 512): it runs at that width, and the plan and the editor's wires show it`;
  const first = tensors.get('1.weight');
  if (first && tensors.has('28.weight') && first.shape.length === 4 && first.shape[1] !== 512)
    return `; a reduced-width decoder (it takes ${first.shape[1]} channels where VGG19's relu4_1 has 512): the encoder must be as narrow`;
  return '';
}

export function checkpointStore(list: LoadedCheckpoint[]): CheckpointStore {
  const byName = new Map(list.map((c) => [c.name, c]));
  return { get: (name) => byName.get(name) };
}
