import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;

/** Fastest first on a real GPU. */
export const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

export interface BackendChoice {
  backend: BackendName;
  /** Each backend tried before the chosen one, and why it was passed over. */
  skipped: { backend: BackendName; reason: string }[];
}

/**
 * Tries each candidate in order and keeps the first that initialises. `setBackend` can resolve
 * false while `getBackend()` still names the failed backend, so only its return value is trusted;
 * a switch that hangs (threaded wasm in some builds) is abandoned after `timeoutMs`.
 */
export async function chooseBackend(tf: TF, candidates: readonly BackendName[] = BACKEND_ORDER, timeoutMs = 15000): Promise<BackendChoice> {
  const skipped: BackendChoice['skipped'] = [];
  for (const backend of candidates) {
    if (!tf.findBackendFactory(backend)) {
      skipped.push({ backend, reason: 'not available in this build' });
      continue;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const ok = await Promise.race([tf.setBackend(backend), timeout]);
      if (ok === true) {
        await tf.ready();
        return { backend, skipped };
      }
      skipped.push({ backend, reason: ok === 'timeout' ? `did not start within ${timeoutMs / 1000} s` : 'failed to initialise' });
    } catch (e) {
      skipped.push({ backend, reason: e instanceof Error ? e.message : String(e) });
    } finally {
      clearTimeout(timer);
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
}
