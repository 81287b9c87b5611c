import { defineStore } from 'pinia';
import { ref } from 'vue';
import { MANIFEST } from '../../models/weights/manifest';
import { clearWeights, download, listWeights, storeWeights, type CachedWeights } from '../../web/weights';
import { useRunStore } from './run';

/**
 * Pretrained checkpoints kept in this browser (IndexedDB). A file or URL is read and checked here, stored,
 * and the worker reloads its networks; until then encoders and decoders run on seeded random weights.
 */
export const useWeightsStore = defineStore('weights', () => {
  const cached = ref<Omit<CachedWeights, 'bytes'>[]>([]);
  const busy = ref<string | null>(null);
  const error = ref<string | null>(null);

  async function refresh() {
    cached.value = await listWeights();
  }

  async function keep(name: string, source: string, bytes: ArrayBuffer) {
    error.value = null;
    try {
      await storeWeights(name, source, bytes);
      useRunStore().weightsChanged();
    } catch (e) {
      error.value = `cannot use ${source} as "${name}": ${(e as Error).message}`;
    }
    await refresh();
  }

  async function fromFile(name: string, file: File) {
    busy.value = `reading ${file.name}`;
    try {
      await keep(name, file.name, await file.arrayBuffer());
    } finally {
      busy.value = null;
    }
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

  return { manifest: MANIFEST, cached, busy, error, refresh, fromFile, fromUrl, clear };
});
