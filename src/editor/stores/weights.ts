import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { GraphModel } from '../../graph/model';
import { MANIFEST } from '../../models/weights/manifest';
import {
  clearWeights,
  download,
  listWeights,
  weightsServer,
  type CachedWeights,
  type FetchProgress,
} from '../../web/weights';
import { useGraphStore } from './graph';
import { useRunStore } from './run';
import {
  dropFiles,
  getCheckpoint,
  graphUses,
  keepFile,
  keepWeights,
  nameForFile,
  neededNetworks,
  rememberedMirror,
  settleDownloads,
  waitingFor,
  type WeightsState,
} from './weights-parts';

export { closestName, progressOf, type NeededNetwork, type NetworkState } from './weights-parts';

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
  const mirror = rememberedMirror();
  /** Whether the page came from the editor's server (which fetches from any host), and that server's mirror. */
  const server = ref<{ mirror: string | null } | null>(null);
  const uses = graphUses(graph);
  const needed = neededNetworks({ uses, cached, loading, failures });
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

  const s: WeightsState = {
    graph,
    cached,
    busy,
    error,
    loading,
    failures,
    controllers: new Map(),
    pending: new Map(),
    mirror,
    uses,
    needed,
    missing,
    refresh,
  };

  const fromFile = (name: string, file: File) => keepFile(s, name, file);
  const drop = (files: readonly File[], forName?: string) => dropFiles(s, files, forName);
  const nameFor = (file: File) => nameForFile(s, file);
  const get = (name: string) => getCheckpoint(s, name);
  const waitingText = (names: ReadonlySet<string>) => waitingFor(s, names);
  const settle = (model: GraphModel, say: (text: string) => void) => settleDownloads(s, model, say);

  function cancel(name: string) {
    s.controllers.get(name)?.abort();
  }

  async function fromUrl(name: string, url: string) {
    error.value = null;
    try {
      const bytes = await download(url, (got, total) => {
        busy.value = `downloading ${name}: ${(got / 2 ** 20).toFixed(1)} MiB${total ? ` of ${(total / 2 ** 20).toFixed(1)}` : ''}`;
      });
      await keepWeights(s, name, url, bytes);
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
