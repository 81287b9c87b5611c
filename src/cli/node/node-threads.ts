import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmscriptenConfig, EmscriptenModule, ThreadedWasmFiles } from '../../runtime/wasm-threads';

/** The machine's cores, the default of `--threads`. */
export const nodeCores = (): number => availableParallelism();

/**
 * tfjs-wasm's threaded build for Node: the pthread workers start from a file on disk (wasm-pthread-worker.cjs,
 * beside this one) instead of tfjs's blob: URL, and load the factory from the package's own file. Nothing is
 * written, so this also works under the permission model the CLI runs packs in (which allows workers and reads of
 * stylegraph's folder).
 */
export function nodeThreadedWasmFiles(): ThreadedWasmFiles {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const mainScript = join(root, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const factory = require(mainScript) as (config: EmscriptenConfig) => Promise<EmscriptenModule>;
  const wasm = join(root, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm');
  return {
    factory,
    mainScript,
    workerScript: fileURLToPath(new URL('./wasm-pthread-worker.cjs', import.meta.url)),
    instantiate: (imports) => WebAssembly.instantiate(readFileSync(wasm), imports),
  };
}
