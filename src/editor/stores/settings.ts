import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import { BACKEND_ORDER, type BackendName } from '../../runtime/backend';

const KEY = 'stylegraph.settings';

/** Run settings that belong to the user, not the graph: image size, backend, how often previews come. */
export const useSettingsStore = defineStore('settings', () => {
  const saved = (() => {
    try {
      return JSON.parse(localStorage.getItem(KEY) ?? '{}') as { size?: number; previewEvery?: number };
    } catch {
      return {};
    }
  })();
  const query = new URLSearchParams(globalThis.location?.search ?? '');
  const forced = query.get('backend');
  /** `?backend=` pins one backend (tests use wasm); otherwise webgpu -> webgl -> wasm -> cpu. */
  const backend = ref<BackendName | null>(forced && (BACKEND_ORDER as readonly string[]).includes(forced) ? (forced as BackendName) : null);
  const backendError = forced && !backend.value ? `unknown backend "${forced}"; use one of ${BACKEND_ORDER.join(', ')}` : null;
  const size = ref<number>(Number(query.get('size')) || saved.size || 128);
  const previewEvery = ref<number>(saved.previewEvery ?? 5);
  watch([size, previewEvery], () => localStorage.setItem(KEY, JSON.stringify({ size: size.value, previewEvery: previewEvery.value })));
  return { backend, backendError, size, previewEvery };
});
