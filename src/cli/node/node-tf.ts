import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadavg } from 'node:os';
import {
  calibrateThreads,
  chooseBackend,
  threadCandidates,
  timeConvolution,
  wasmThreads,
  type BackendChoice,
  type BackendName,
} from '../../runtime/backend';
import { registerThreadedWasm, runningWasmThreads } from '../../runtime/wasm-threads';
import { nodeCores, nodeThreadedWasmFiles } from './node-threads';
import { registerNodeWebgpu } from './node-webgpu';

export { tf };

/** In Node: WebGPU through Dawn where a real GPU is found, else wasm (SIMD, threaded), then the slow cpu backend. */
export const NODE_BACKENDS: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];

export interface NodeBackendOptions {
  /**
   * wasm's threads (`--threads`); absent: timed when wasm starts (1, the cores the load average leaves free, every
   * core up to 8), more only where a small convolution runs faster on them now, so a busy machine gets fewer.
   */
  threads?: number;
  /**
   * Time the thread counts again though this process timed them before (a benchmark comparing a quiet and a busy
   * machine). Tensors made before this start are lost.
   */
  retime?: boolean;
}

let wasmPathsSet = false;
/** The threaded wasm factory now registered (its thread count and how to put tfjs's own back), if any. */
let threaded: { threads: number; restore: () => void } | null = null;

/**
 * The thread count timed by the first start in this process (and why, where fewer than the cores): a later start
 * takes it again rather than timing anew, which would register another wasm build and orphan every tensor made so far.
 */
let timedThreads: { threads: number; note?: string } | null = null;

/** Registers the wasm build for `threads` (tfjs's own single-threaded one for 1), replacing what was registered. */
function prepareWasm(threads: number) {
  if (threaded?.threads === threads) return;
  threaded?.restore();
  threaded = null;
  if (threads > 1) threaded = { threads, ...registerThreadedWasm(tf, nodeThreadedWasmFiles(), threads) };
}

/** Starts the requested backend (or the best available) in Node. */
export async function startNodeBackend(forced?: BackendName, o: NodeBackendOptions = {}): Promise<BackendChoice> {
  if (!wasmPathsSet) {
    const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
    setWasmPaths(join(dirname(pkg), 'dist') + '/');
    wasmPathsSet = true;
  }
  const candidates = forced ? [forced] : NODE_BACKENDS;
  const skipped: BackendChoice['skipped'] = [];
  if (candidates.includes('webgpu')) {
    const gpu = await registerNodeWebgpu(forced === 'webgpu');
    if ('reason' in gpu) {
      if (forced) throw new Error(`--backend webgpu cannot start: ${gpu.reason}`);
      skipped.push({ backend: 'webgpu', reason: gpu.reason });
    }
  }
  const cores = nodeCores();
  const wanted = wasmThreads(o.threads, cores);
  // No --threads: wasm starts on one thread (the cheap start), and takes more below where they time faster.
  const reuseTimed = o.threads === undefined && wanted > 1 && timedThreads !== null && !o.retime;
  const timeThreads = o.threads === undefined && wanted > 1 && !reuseTimed;
  let threadsNote: string | undefined = reuseTimed ? timedThreads?.note : undefined;
  if (candidates.includes('wasm')) {
    try {
      prepareWasm(timeThreads ? 1 : reuseTimed ? timedThreads!.threads : wanted);
    } catch (e) {
      threadsNote = `threaded wasm unavailable: ${(e as Error).message}`;
      prepareWasm(1);
    }
  }
  const rest = candidates.filter((b) => !skipped.some((s) => s.backend === b));
  let choice = await chooseBackend(tf, rest).catch((e: Error) => e);
  const wasmFailed =
    choice instanceof Error ? choice.message : choice.skipped.find((s) => s.backend === 'wasm')?.reason;
  if (threaded && wasmFailed !== undefined) {
    // The threaded build did not start: one thread rather than none (or the cpu backend).
    threadsNote = `threaded wasm failed: ${wasmFailed}`;
    prepareWasm(1);
    choice = await chooseBackend(
      tf,
      rest.filter((b) => b !== 'webgpu'),
    );
  }
  if (choice instanceof Error) throw choice;
  if (choice.backend === 'wasm' && timeThreads) {
    const timed = await calibrateThreads(threadCandidates(cores, loadavg()[0]), {
      use: async (n) => {
        prepareWasm(n);
        await chooseBackend(tf, ['wasm']);
      },
      time: () => timeConvolution(tf),
    });
    if (timed.note) threadsNote = timed.note;
    timedThreads = { threads: runningWasmThreads(tf), ...(timed.note ? { note: timed.note } : {}) };
  }
  const threads = choice.backend === 'wasm' ? runningWasmThreads(tf) : choice.backend === 'cpu' ? 1 : undefined;
  return {
    ...choice,
    skipped: [...skipped, ...choice.skipped.filter((s) => !(threadsNote && s.backend === 'wasm'))],
    ...(threads !== undefined ? { threads } : {}),
    ...(threadsNote && choice.backend === 'wasm' ? { threadsNote } : {}),
  };
}
