import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import { BACKEND_ORDER, MAX_WASM_THREADS, type BackendName } from '../../runtime/backend';

const KEY = 'stylegraph.settings';

/** Run settings that belong to the user, not the graph: image size, backend, how often previews come. */
export const useSettingsStore = defineStore('settings', () => {
  const saved = (() => {
    try {
      return JSON.parse(localStorage.getItem(KEY) ?? '{}') as {
        size?: number;
        seed?: number;
        previewEvery?: number;
        embedImages?: boolean;
      };
    } catch {
      return {};
    }
  })();
  const query = new URLSearchParams(globalThis.location?.search ?? '');
  const forced = query.get('backend');
  /** `?backend=` pins one backend (tests use wasm); otherwise webgpu -> webgl -> wasm -> cpu. */
  const backend = ref<BackendName | null>(
    forced && (BACKEND_ORDER as readonly string[]).includes(forced) ? (forced as BackendName) : null,
  );
  const backendError =
    forced && !backend.value ? `unknown backend "${forced}"; use one of ${BACKEND_ORDER.join(', ')}` : null;
  /** `?threads=N` pins wasm's threads (1 to 8, as `stylegraph run --threads`); otherwise timed when the pool starts. */
  const threadsAsked = Number(query.get('threads'));
  const threads =
    Number.isInteger(threadsAsked) && threadsAsked >= 1 && threadsAsked <= MAX_WASM_THREADS ? threadsAsked : undefined;
  const size = ref<number>(Number(query.get('size')) || saved.size || 128);
  /** Seeds the start image and random weights; the same seed gives the CLI's `--seed` result. */
  const seed = ref<number>(Number(query.get('seed')) || saved.seed || 0);
  const previewEvery = ref<number>(saved.previewEvery ?? 5);
  /** `?tile=PX` runs the optimisation on tiles of at most PX px (large images tile on their own). */
  const tile = Number(query.get('tile')) || undefined;
  /** Nodes whose previews show on the canvas (image nodes the other way round: shown unless switched off). */
  const previewNodes = ref<string[]>([]);
  const togglePreview = (id: string) =>
    (previewNodes.value = previewNodes.value.includes(id)
      ? previewNodes.value.filter((x) => x !== id)
      : [...previewNodes.value, id]);
  /** Put dropped images inline (data: URLs) in saved files and share links, instead of referencing them. */
  const embedImages = ref<boolean>(saved.embedImages ?? false);
  watch([size, seed, previewEvery, embedImages], () =>
    localStorage.setItem(
      KEY,
      JSON.stringify({
        size: size.value,
        seed: seed.value,
        previewEvery: previewEvery.value,
        embedImages: embedImages.value,
      }),
    ),
  );
  return { backend, backendError, threads, size, seed, previewEvery, tile, embedImages, previewNodes, togglePreview };
});
