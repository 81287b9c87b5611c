import { decodeTfjsWeights } from '../../models/weights/tfjs-model';
import { writeSafetensors } from '../../models/weights/safetensors';
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import { checkpointUses } from '../../compiler/checkpoints';
import type { GraphModel } from '../../graph/model';
import { MANIFEST, manifestEntry, type ManifestEntry } from '../../models/weights/manifest';
import {
  clearWeights,
  DirectDownloadError,
  download,
  fetchCheckpoint,
  listWeights,
  storeWeights,
  weightsServer,
  type CachedWeights,
  type FetchProgress,
} from '../../web/weights';
import { registry, registryVersion } from '../registry';
import { useGraphStore } from './graph';
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

/**
 * Pretrained checkpoints kept in this browser (IndexedDB), and the networks the open graph needs. A network is
 * fetched by its manifest name (through the editor's server when there is one), or read from a picked or dropped
 * file; the worker then reloads its networks. Until then encoders and decoders run on seeded random weights.
 */
export const useWeightsStore = defineStore('weights', () => {
  const graph = useGraphStore();
  const cached = ref<Omit<CachedWeights, 'bytes'>[]>([]);
  const busy = ref<string | null>(null);
  const error = ref<string | null>(null);
  const loading = ref<Record<string, FetchProgress>>({});
  const failures = ref<Record<string, { message: string; pick: boolean }>>({});
  const controllers = new Map<string, AbortController>();
  /** Downloads going on, by network name: each settles when its bytes are kept (and in the worker) or it failed. */
  const pending = new Map<string, Promise<void>>();
  /** A mirror base for downloads (`?weightsMirror=` or the panel's field; remembered in this browser). */
  const query = new URLSearchParams(globalThis.location?.search ?? '').get('weightsMirror');
  const mirror = ref<string>(query ?? globalThis.localStorage?.getItem(MIRROR_KEY) ?? '');
  /** Whether the page came from the editor's server (which fetches from any host), and that server's mirror. */
  const server = ref<{ mirror: string | null } | null>(null);
  watch(mirror, (m) => {
    try {
      if (m) localStorage.setItem(MIRROR_KEY, m);
      else localStorage.removeItem(MIRROR_KEY);
    } catch {
      // Storage may be unavailable; the field still applies to this page.
    }
  });

  const uses = computed(() => (registryVersion.value, checkpointUses(graph.model, registry)));
  const needed = computed<NeededNetwork[]>(() => {
    const names = [...new Set(uses.value.map((u) => u.name))];
    return names.map((name) => {
      const hit = cached.value.find((c) => c.name === name);
      const progress = loading.value[name] ?? null;
      return {
        name,
        entry: manifestEntry(name),
        nodes: uses.value.filter((u) => u.name === name).map((u) => u.nodeId),
        state: progress ? 'loading' : hit ? 'cached' : 'random',
        cached: hit,
        progress,
        failure: failures.value[name] ?? null,
      };
    });
  });
  const missing = computed(() => needed.value.filter((n) => n.state !== 'cached'));

  async function refresh() {
    const info = await weightsServer();
    server.value = info ? { mirror: info.mirror } : null;
    try {
      cached.value = await listWeights();
    } catch (e) {
      error.value = `the browser's weight cache cannot be read: ${(e as Error).message}`;
    }
  }

  /** Warns when a checkpoint is loaded under a name no node of the open graph asks for. */
  function warnUnused(name: string) {
    const used = [...new Set(uses.value.map((u) => u.name))];
    if (!used.length || used.includes(name)) return;
    const close = closestName(name, used);
    graph.tell(
      `kept "${name}", but no node of this graph asks for weights by that name; it uses ${used.join(', ')}${close ? ` (did you mean ${close}?)` : ''}`,
      true,
    );
  }

  async function keep(name: string, source: string, bytes: ArrayBuffer): Promise<boolean> {
    error.value = null;
    let ok = true;
    try {
      await storeWeights(name, source, bytes);
      // The worker has the new weights before this returns: a Run that follows (the first picture's) uses them.
      await useRunStore().weightsChanged();
      warnUnused(name);
    } catch (e) {
      error.value = `cannot use ${source} as "${name}": ${(e as Error).message}`;
      ok = false;
    }
    await refresh();
    return ok;
  }

  async function fromFile(name: string, file: File) {
    busy.value = `reading ${file.name}`;
    const next = { ...failures.value };
    delete next[name];
    failures.value = next;
    try {
      await keep(name, file.name, await file.arrayBuffer());
    } finally {
      busy.value = null;
    }
  }

  /** The name a dropped file is for: its manifest file name (decoder.pth), its own name (vgg19.pth), or the one network missing. */
  function nameFor(file: File): string | null {
    const stem = file.name.replace(/\.(pth\.tar|pth|pt|safetensors)$/i, '');
    const byFile = MANIFEST.filter((e) => fileOf(e) === file.name);
    const neededNames = needed.value.map((n) => n.name);
    const match = byFile.find((e) => neededNames.includes(e.name)) ?? byFile[0];
    if (match) return match.name;
    if (manifestEntry(stem) || neededNames.includes(stem)) return stem;
    return missing.value.length === 1 ? missing.value[0]!.name : null;
  }

  /** Files dropped on the panel (or on a node, which names the checkpoint): each is read and kept under its name. */
  async function drop(files: readonly File[], forName?: string) {
    // A tfjs model (model.json with its .bin shards, dropped together) is kept as one safetensors checkpoint.
    const json = files.find((f) => /\.json$/i.test(f.name));
    if (json) {
      const name = forName ?? (missing.value.length === 1 ? missing.value[0]!.name : null);
      if (!name) {
        error.value = `which network is ${json.name} for? Drop it with its shards on its row in the list, or on the node that needs it`;
        return;
      }
      busy.value = `reading ${json.name}`;
      try {
        const shards = new Map(
          await Promise.all(
            files.filter((f) => f !== json).map(async (f) => [f.name, new Uint8Array(await f.arrayBuffer())] as const),
          ),
        );
        const dict = decodeTfjsWeights(await json.text(), shards);
        const bytes = writeSafetensors(dict, { source: json.name });
        await keep(
          name,
          `${json.name} (tfjs, ${shards.size} shard${shards.size === 1 ? '' : 's'})`,
          bytes.slice().buffer,
        );
      } catch (e) {
        error.value = `cannot use ${json.name} as "${name}": ${(e as Error).message}`;
      } finally {
        busy.value = null;
      }
      return;
    }
    for (const file of files) {
      if (!/\.(pth\.tar|pth|pt|safetensors)$/i.test(file.name)) {
        error.value = `${file.name}: drop a .pth or .safetensors checkpoint, or a tfjs model.json with its shards`;
        continue;
      }
      const name = forName ?? nameFor(file);
      if (!name) {
        error.value = `which network is ${file.name} for? Drop it on its row in the list, or on the node that needs it`;
        continue;
      }
      await fromFile(name, file);
    }
  }

  /** Gets a manifest checkpoint: through the editor's server when there is one, else from its URL. */
  async function get(name: string) {
    const entry = manifestEntry(name);
    if (!entry || controllers.has(name)) return;
    const controller = new AbortController();
    controllers.set(name, controller);
    let finish = () => {};
    pending.set(name, new Promise<void>((r) => (finish = r)));
    const rest = { ...failures.value };
    delete rest[name];
    failures.value = rest;
    loading.value = { ...loading.value, [name]: { phase: 'server', received: 0, total: null } };
    try {
      const got = await fetchCheckpoint(entry, {
        mirror: mirror.value.trim() || null,
        signal: controller.signal,
        onProgress: (p) => {
          if (controllers.get(name) === controller) loading.value = { ...loading.value, [name]: p };
        },
      });
      if (!(await keep(name, got.source, got.bytes)))
        failures.value = { ...failures.value, [name]: { message: error.value ?? 'refused', pick: true } };
    } catch (e) {
      const err = e as Error;
      if (err.name !== 'AbortError')
        failures.value = {
          ...failures.value,
          [name]: { message: err.message, pick: e instanceof DirectDownloadError },
        };
    } finally {
      controllers.delete(name);
      const next = { ...loading.value };
      delete next[name];
      loading.value = next;
      pending.delete(name);
      finish();
    }
  }

  /** What a Run waits for among `names`: "vgg_normalised (31.9 of 76.4 MiB)", or null when none is downloading. */
  function waitingText(names: ReadonlySet<string>): string | null {
    const list = Object.entries(loading.value).filter(([n]) => names.has(n));
    if (!list.length) return null;
    return list.map(([n, p]) => `${n} (${progressOf(p)})`).join(' and ');
  }

  /**
   * Waits for the downloads of the networks `model` needs that are going on now (kept and handed to the worker when
   * this returns), telling `say` what it waits for as the bytes come in. A Run started during a download waits here:
   * it neither runs on random weights nor has its networks replaced under it.
   */
  async function settle(model: GraphModel, say: (text: string) => void): Promise<void> {
    const names = new Set(checkpointUses(model, registry).map((u) => u.name));
    for (;;) {
      const waits = [...pending].filter(([n]) => names.has(n)).map(([, p]) => p);
      if (!waits.length) return;
      const stop = watch(
        loading,
        () => {
          const text = waitingText(names);
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

  function cancel(name: string) {
    controllers.get(name)?.abort();
  }

  async function fromUrl(name: string, url: string) {
    error.value = null;
    try {
      const bytes = await download(url, (got, total) => {
        busy.value = `downloading ${name}: ${(got / 2 ** 20).toFixed(1)} MiB${total ? ` of ${(total / 2 ** 20).toFixed(1)}` : ''}`;
      });
      await keep(name, url, bytes);
    } catch (e) {
      error.value = `download failed (${(e as Error).message}); servers without CORS headers need the file picker`;
    } finally {
      busy.value = null;
    }
  }

  async function clear() {
    await clearWeights();
    useRunStore().weightsChanged();
    await refresh();
  }

  // A Run waits for the downloads its graph needs (and says so in the status line).
  useRunStore().beforeRun(settle);

  return {
    manifest: MANIFEST,
    cached,
    busy,
    error,
    mirror,
    server,
    needed,
    missing,
    loading,
    waitingText,
    settle,
    refresh,
    fromFile,
    fromUrl,
    drop,
    nameFor,
    get,
    cancel,
    clear,
  };
});
