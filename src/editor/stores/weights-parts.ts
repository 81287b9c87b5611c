/**
 * Parts of the weights store (stores/weights.ts) as plain functions over the store's refs: the networks the open
 * graph needs, keeping a checkpoint, reading dropped files, getting a manifest checkpoint, and a Run's wait for
 * the downloads it needs.
 */
import { computed, ref, watch, type ComputedRef, type Ref } from 'vue';
import { checkpointUses } from '../../compiler/checkpoints';
import type { GraphModel } from '../../graph/model';
import { MANIFEST, manifestEntry, type ManifestEntry } from '../../models/weights/manifest';
import { writeSafetensors } from '../../models/weights/safetensors';
import { decodeTfjsWeights } from '../../models/weights/tfjs-model';
import {
  DirectDownloadError,
  fetchCheckpoint,
  storeWeights,
  type CachedWeights,
  type FetchProgress,
} from '../../web/weights';
import { registry, registryVersion } from '../registry';
import type { useGraphStore } from './graph';
import { useRunStore } from './run';

const MIRROR_KEY = 'stylegraph.weights-mirror';

export type NetworkState = 'cached' | 'loading' | 'random';

/** One network the open graph needs. */
export interface NeededNetwork {
  name: string;
  entry: ManifestEntry | undefined;
  /** The nodes that ask for it. */
  nodes: string[];
  state: NetworkState;
  cached: Omit<CachedWeights, 'bytes'> | undefined;
  progress: FetchProgress | null;
  /** Why the last Get failed; `pick` when the file picker is the way in (a host without CORS and no server). */
  failure: { message: string; pick: boolean } | null;
}

/** A download's progress in words: "31.9 of 76.4 MiB", "the editor's server has 3.0 MiB". */
export function progressOf(p: FetchProgress): string {
  const n = (b: number) => (b / 2 ** 20).toFixed(1);
  const got = p.total ? `${n(p.received)} of ${n(p.total)} MiB` : `${n(p.received)} MiB`;
  return p.phase === 'server' ? `the editor's server has ${got}` : got;
}

/** The file name a manifest entry's URL ends with (`vgg_normalised.pth`). */
const fileOf = (e: ManifestEntry) => new URL(e.url).pathname.split('/').at(-1) ?? '';

/** Edit distance, for "did you mean" on a name nothing uses. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

/** The used name closest to `name`: one containing it (decoder -> adain-decoder), else the fewest edits. */
export function closestName(name: string, used: readonly string[]): string | null {
  const containing = used.find((u) => u.includes(name) || name.includes(u));
  if (containing) return containing;
  return [...used].sort((a, b) => distance(name, a) - distance(name, b))[0] ?? null;
}

type Failure = { message: string; pick: boolean };
type CheckpointUse = ReturnType<typeof checkpointUses>[number];

/** The weights store's state the parts read and write. */
export interface WeightsState {
  graph: ReturnType<typeof useGraphStore>;
  cached: Ref<Omit<CachedWeights, 'bytes'>[]>;
  busy: Ref<string | null>;
  error: Ref<string | null>;
  loading: Ref<Record<string, FetchProgress>>;
  failures: Ref<Record<string, Failure>>;
  /** Downloads going on, by network name, to cancel them. */
  controllers: Map<string, AbortController>;
  /** Downloads going on, by network name: each settles when its bytes are kept (and in the worker) or it failed. */
  pending: Map<string, Promise<void>>;
  mirror: Ref<string>;
  uses: ComputedRef<CheckpointUse[]>;
  needed: ComputedRef<NeededNetwork[]>;
  missing: ComputedRef<NeededNetwork[]>;
  refresh: () => Promise<void>;
}

/** A mirror base for downloads (`?weightsMirror=` or the panel's field; remembered in this browser). */
export function rememberedMirror(): Ref<string> {
  const query = new URLSearchParams(globalThis.location?.search ?? '').get('weightsMirror');
  const mirror = ref<string>(query ?? globalThis.localStorage?.getItem(MIRROR_KEY) ?? '');
  watch(mirror, (m) => {
    try {
      if (m) localStorage.setItem(MIRROR_KEY, m);
      else localStorage.removeItem(MIRROR_KEY);
    } catch {
      // Storage may be unavailable; the field still applies to this page.
    }
  });
  return mirror;
}

/** The checkpoints the open graph's nodes ask for by name. */
export const graphUses = (graph: WeightsState['graph']): ComputedRef<CheckpointUse[]> =>
  computed(() => (registryVersion.value, checkpointUses(graph.model, registry)));

/** The networks the open graph needs, each cached, loading or (until then) random. */
export function neededNetworks(
  s: Pick<WeightsState, 'uses' | 'cached' | 'loading' | 'failures'>,
): ComputedRef<NeededNetwork[]> {
  return computed<NeededNetwork[]>(() => {
    const names = [...new Set(s.uses.value.map((u) => u.name))];
    return names.map((name) => {
      const hit = s.cached.value.find((c) => c.name === name);
      const progress = s.loading.value[name] ?? null;
      return {
        name,
        entry: manifestEntry(name),
        nodes: s.uses.value.filter((u) => u.name === name).map((u) => u.nodeId),
        state: progress ? 'loading' : hit ? 'cached' : 'random',
        cached: hit,
        progress,
        failure: s.failures.value[name] ?? null,
      };
    });
  });
}

/** Warns when a checkpoint is loaded under a name no node of the open graph asks for. */
function warnUnused(s: WeightsState, name: string) {
  const used = [...new Set(s.uses.value.map((u) => u.name))];
  if (!used.length || used.includes(name)) return;
  const close = closestName(name, used);
  s.graph.tell(
    `kept "${name}", but no node of this graph asks for weights by that name; it uses ${used.join(', ')}${close ? ` (did you mean ${close}?)` : ''}`,
    true,
  );
}

/** Keeps a checkpoint's bytes under `name` and hands them to the worker; false (and `error` says why) if refused. */
export async function keepWeights(s: WeightsState, name: string, source: string, bytes: ArrayBuffer): Promise<boolean> {
  s.error.value = null;
  let ok = true;
  try {
    await storeWeights(name, source, bytes);
    // The worker has the new weights before this returns: a Run that follows (the first picture's) uses them.
    await useRunStore().weightsChanged();
    warnUnused(s, name);
  } catch (e) {
    s.error.value = `cannot use ${source} as "${name}": ${(e as Error).message}`;
    ok = false;
  }
  await s.refresh();
  return ok;
}

/** Reads a picked or dropped checkpoint file and keeps it under `name`. */
export async function keepFile(s: WeightsState, name: string, file: File) {
  s.busy.value = `reading ${file.name}`;
  const next = { ...s.failures.value };
  delete next[name];
  s.failures.value = next;
  try {
    await keepWeights(s, name, file.name, await file.arrayBuffer());
  } finally {
    s.busy.value = null;
  }
}

/** The name a dropped file is for: its manifest file name (decoder.pth), its own name (vgg19.pth), or the one network missing. */
export function nameForFile(s: WeightsState, file: File): string | null {
  const stem = file.name.replace(/\.(pth\.tar|pth|pt|safetensors)$/i, '');
  const byFile = MANIFEST.filter((e) => fileOf(e) === file.name);
  const neededNames = s.needed.value.map((n) => n.name);
  const match = byFile.find((e) => neededNames.includes(e.name)) ?? byFile[0];
  if (match) return match.name;
  if (manifestEntry(stem) || neededNames.includes(stem)) return stem;
  return s.missing.value.length === 1 ? s.missing.value[0]!.name : null;
}

/** A tfjs model (model.json with its .bin shards, dropped together), kept as one safetensors checkpoint. */
async function keepTfjsModel(s: WeightsState, json: File, files: readonly File[], forName?: string) {
  const name = forName ?? (s.missing.value.length === 1 ? s.missing.value[0]!.name : null);
  if (!name) {
    s.error.value = `which network is ${json.name} for? Drop it with its shards on its row in the list, or on the node that needs it`;
    return;
  }
  s.busy.value = `reading ${json.name}`;
  try {
    const shards = new Map(
      await Promise.all(
        files.filter((f) => f !== json).map(async (f) => [f.name, new Uint8Array(await f.arrayBuffer())] as const),
      ),
    );
    const dict = decodeTfjsWeights(await json.text(), shards);
    const bytes = writeSafetensors(dict, { source: json.name });
    await keepWeights(
      s,
      name,
      `${json.name} (tfjs, ${shards.size} shard${shards.size === 1 ? '' : 's'})`,
      bytes.slice().buffer,
    );
  } catch (e) {
    s.error.value = `cannot use ${json.name} as "${name}": ${(e as Error).message}`;
  } finally {
    s.busy.value = null;
  }
}

/** Files dropped on the panel (or on a node, which names the checkpoint): each is read and kept under its name. */
export async function dropFiles(s: WeightsState, files: readonly File[], forName?: string) {
  const json = files.find((f) => /\.json$/i.test(f.name));
  if (json) return keepTfjsModel(s, json, files, forName);
  for (const file of files) {
    if (!/\.(pth\.tar|pth|pt|safetensors)$/i.test(file.name)) {
      s.error.value = `${file.name}: drop a .pth or .safetensors checkpoint, or a tfjs model.json with its shards`;
      continue;
    }
    const name = forName ?? nameForFile(s, file);
    if (!name) {
      s.error.value = `which network is ${file.name} for? Drop it on its row in the list, or on the node that needs it`;
      continue;
    }
    await keepFile(s, name, file);
  }
}

/** Gets a manifest checkpoint: through the editor's server when there is one, else from its URL. */
export async function getCheckpoint(s: WeightsState, name: string) {
  const entry = manifestEntry(name);
  if (!entry || s.controllers.has(name)) return;
  const controller = new AbortController();
  s.controllers.set(name, controller);
  let finish = () => {};
  s.pending.set(name, new Promise<void>((r) => (finish = r)));
  const rest = { ...s.failures.value };
  delete rest[name];
  s.failures.value = rest;
  s.loading.value = { ...s.loading.value, [name]: { phase: 'server', received: 0, total: null } };
  try {
    const got = await fetchCheckpoint(entry, {
      mirror: s.mirror.value.trim() || null,
      signal: controller.signal,
      onProgress: (p) => {
        if (s.controllers.get(name) === controller) s.loading.value = { ...s.loading.value, [name]: p };
      },
    });
    if (!(await keepWeights(s, name, got.source, got.bytes)))
      s.failures.value = { ...s.failures.value, [name]: { message: s.error.value ?? 'refused', pick: true } };
  } catch (e) {
    const err = e as Error;
    if (err.name !== 'AbortError')
      s.failures.value = {
        ...s.failures.value,
        [name]: { message: err.message, pick: e instanceof DirectDownloadError },
      };
  } finally {
    s.controllers.delete(name);
    const next = { ...s.loading.value };
    delete next[name];
    s.loading.value = next;
    s.pending.delete(name);
    finish();
  }
}

/** What a Run waits for among `names`: "vgg_normalised (31.9 of 76.4 MiB)", or null when none is downloading. */
export function waitingFor(s: Pick<WeightsState, 'loading'>, names: ReadonlySet<string>): string | null {
  const list = Object.entries(s.loading.value).filter(([n]) => names.has(n));
  if (!list.length) return null;
  return list.map(([n, p]) => `${n} (${progressOf(p)})`).join(' and ');
}

/**
 * Waits for the downloads of the networks `model` needs that are going on now (kept and handed to the worker when
 * this returns), telling `say` what it waits for as the bytes come in. A Run started during a download waits here:
 * it neither runs on random weights nor has its networks replaced under it.
 */
export async function settleDownloads(
  s: Pick<WeightsState, 'loading' | 'pending'>,
  model: GraphModel,
  say: (text: string) => void,
): Promise<void> {
  const names = new Set(checkpointUses(model, registry).map((u) => u.name));
  for (;;) {
    const waits = [...s.pending].filter(([n]) => names.has(n)).map(([, p]) => p);
    if (!waits.length) return;
    const stop = watch(
      s.loading,
      () => {
        const text = waitingFor(s, names);
        if (text) say(`waiting for ${text} before running`);
      },
      { immediate: true },
    );
    try {
      await Promise.all(waits);
    } finally {
      stop();
    }
  }
}
