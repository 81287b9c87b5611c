import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;

/** Fastest first on a real GPU. */
export const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

export interface BackendChoice {
  backend: BackendName;
  /** Each backend tried before the chosen one, and why it was passed over. */
  skipped: { backend: BackendName; reason: string }[];
  /** Threads the backend computes on (wasm: its pthread pool; 1 elsewhere on the CPU). Absent: not known. */
  threads?: number;
  /** Why wasm runs on fewer threads than asked (the page is not cross-origin isolated, the threaded build failed). */
  threadsNote?: string;
}

/** The most threads tfjs-wasm can use: it creates eight pthread workers when it starts. */
export const MAX_WASM_THREADS = 8;

/** The threads a request gets: a whole number from 1 to 8; absent: `available` (the machine's cores), capped at 8. */
export function wasmThreads(requested: number | undefined, available: number): number {
  const n = requested ?? available;
  return Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(Number.isFinite(n) ? n : 1)));
}

/** "wasm, 2 threads", "wasm, 1 thread (page not cross-origin isolated)", "webgpu": for status lines and the run bar. */
export function backendLabel(choice: BackendChoice): string {
  if (choice.threads === undefined || choice.backend === 'webgpu' || choice.backend === 'webgl') return choice.backend;
  return `${choice.backend}, ${choice.threads} thread${choice.threads === 1 ? '' : 's'}${choice.threadsNote ? ` (${choice.threadsNote})` : ''}`;
}

/**
 * Tries each candidate in order and keeps the first that initialises. `setBackend` can resolve
 * false while `getBackend()` still names the failed backend, so only its return value is trusted;
 * a switch that hangs (threaded wasm in some builds) is abandoned after `timeoutMs`.
 */
export async function chooseBackend(
  tf: TF,
  candidates: readonly BackendName[] = BACKEND_ORDER,
  timeoutMs = 15000,
): Promise<BackendChoice> {
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
      skipped.push({
        backend,
        reason: ok === 'timeout' ? `did not start within ${timeoutMs / 1000} s` : 'failed to initialise',
      });
    } catch (e) {
      skipped.push({ backend, reason: e instanceof Error ? e.message : String(e) });
    } finally {
      clearTimeout(timer);
    }
  }
  throw new Error(
    `no TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
  );
}
