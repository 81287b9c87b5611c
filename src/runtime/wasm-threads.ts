import type * as tfjs from '@tensorflow/tfjs';
import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

type TF = typeof tfjs;

/**
 * tfjs-backend-wasm's threaded build, started with our own Emscripten settings instead of tfjs's `init()`, in the
 * browser's run worker and in Node. tfjs's own start has three faults this replaces:
 *
 * - Its pthread workers load the factory from `factory.toString()` (tfjs issues #4107, #4539). In a minified bundle
 *   that text is not self-contained: the minifier sees `_scriptDir` declared in the enclosing closure and rewrites
 *   `typeof _scriptDir !== "undefined" && _scriptDir` to `e!==void 0&&e`; in a pthread worker `e` is not declared,
 *   the worker throws "e is not defined" before it says `loaded`, and `setBackend('wasm')` waits for it forever.
 *   Here the workers load the unminified file itself (`mainScript`).
 * - In Node it creates the pthread worker from a blob URL, which `worker_threads` refuses (ERR_WORKER_PATH), and
 *   reports no thread support at all; here the worker script can be a file on disk.
 * - Its C++ side takes half of `emscripten_num_logical_cores()` as the most threads it will use (assuming two
 *   hyper-threads per core), so a 2-core machine always got one thread whatever `setThreadsCount` asked. The import
 *   is answered with twice the requested count, so the request is what the pool gets (tfjs still caps it at 8, the
 *   workers it creates up front).
 */
export interface ThreadedWasmFiles {
  /** The Emscripten factory exported by `wasm-out/tfjs-backend-wasm-threaded-simd.js`. */
  factory: (config: EmscriptenConfig) => Promise<EmscriptenModule>;
  /** What each pthread worker loads to define the factory: the unminified `tfjs-backend-wasm-threaded-simd.js` (URL or path). */
  mainScript: string;
  /** The pthread worker script (tfjs's `wasmWorkerContents`) as a URL or a path on disk. */
  workerScript: string;
  /** Compiles and instantiates `tfjs-backend-wasm-threaded-simd.wasm` with the given imports. */
  instantiate: (imports: WebAssembly.Imports) => Promise<WebAssembly.WebAssemblyInstantiatedSource>;
}

export interface EmscriptenConfig {
  mainScriptUrlOrBlob: string;
  locateFile: (path: string, prefix: string) => string;
  instantiateWasm: (
    imports: WebAssembly.Imports,
    receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
  ) => object;
  onAbort: (what: unknown) => void;
}

/** The part of the Emscripten module BackendWasm uses (it adds `tfjs` itself in tfjs's `init()`, as we do here). */
/** A pthread's worker: a Web Worker, or in Node a worker_threads Worker (which has unref). */
export interface PthreadWorker {
  unref?: () => void;
}

export interface EmscriptenModule {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: number[]) => number;
  PThread?: { terminateAllThreads(): void; runningWorkers: PthreadWorker[]; unusedWorkers: PthreadWorker[] };
}

/**
 * Replaces the registered `wasm` backend by the threaded build with `threads` threads. The factory given back
 * rejects (rather than hangs) when the module does not start within `timeoutMs` (before chooseBackend's own 15 s
 * gives up on the switch, so the engine is not left with a start pending), and `restore()` puts tfjs's own
 * single-threaded factory back, for a caller that falls back to one thread.
 */
export function registerThreadedWasm(
  tf: TF,
  files: ThreadedWasmFiles,
  threads: number,
  timeoutMs = 12000,
): { restore: () => void } {
  // Typed as always found; null at run time when no wasm backend was registered.
  const stock: ReturnType<TF['findBackendFactory']> | null = tf.findBackendFactory('wasm');
  if (stock !== null) tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      setThreadsCount(threads);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const module = await Promise.race([
        startModule(files, threads),
        new Promise<never>(
          (_, reject) =>
            (timer = setTimeout(
              () => reject(new Error(`threaded wasm did not start within ${timeoutMs / 1000} s`)),
              timeoutMs,
            )),
        ),
      ]).finally(() => clearTimeout(timer));
      const wasm = Object.assign(module, {
        tfjs: {
          init: module.cwrap('init', null, []),
          initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
          getThreadsCount: module.cwrap('get_threads_count', 'number', []),
          registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
          disposeData: module.cwrap('dispose_data', null, ['number']),
          dispose: module.cwrap('dispose', null, []),
        },
      });
      // BackendWasm's parameter type comes from tfjs's own Emscripten typings, which name a global EmscriptenModule
      // this project does not install; the object has everything BackendWasm calls (cwrap, the heap, the kernels).
      const backend = new BackendWasm(wasm as unknown as ConstructorParameters<typeof BackendWasm>[0]);
      // The constructor started the thread pool. Emscripten refs a running pthread's worker in Node, and the pool's
      // threads run (waiting for work) until the module is disposed, so a finished CLI run would never exit: unref
      // them. The main thread waits for them synchronously while it computes, so nothing needs the event loop.
      for (const w of [...(module.PThread?.runningWorkers ?? []), ...(module.PThread?.unusedWorkers ?? [])])
        w.unref?.();
      return backend;
    },
    2,
  );
  return {
    restore: () => {
      tf.removeBackend('wasm');
      if (stock !== null) tf.registerBackend('wasm', stock, 2);
    },
  };
}

function startModule(files: ThreadedWasmFiles, threads: number): Promise<EmscriptenModule> {
  let aborted: (e: Error) => void = () => {};
  const abort = new Promise<never>((_, reject) => (aborted = reject));
  return Promise.race([
    abort,
    files.factory({
      mainScriptUrlOrBlob: files.mainScript,
      locateFile: (path, prefix) => (path.endsWith('.worker.js') ? files.workerScript : prefix + path),
      instantiateWasm: (imports, receive) => {
        const env = imports.env as Record<string, WebAssembly.ImportValue>;
        // tfjs uses at most half of this (see above): report twice the threads wanted.
        env.emscripten_num_logical_cores = () => 2 * threads;
        files.instantiate(imports).then(
          (r) => receive(r.instance, r.module),
          (e: unknown) => aborted(e instanceof Error ? e : new Error(String(e))),
        );
        return {};
      },
      onAbort: (what) => aborted(new Error(`threaded wasm aborted: ${String(what)}`)),
    }),
  ]);
}

/** The threads the running wasm backend uses (1 when it is not wasm or was not started threaded). */
export function runningWasmThreads(tf: TF): number {
  if (tf.getBackend() !== 'wasm') return 1;
  try {
    return Math.max(1, getThreadsCount());
  } catch {
    return 1;
  }
}
