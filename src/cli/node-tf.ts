import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { chooseBackend, type BackendChoice, type BackendName } from '../runtime/backend';

export { tf };

/** In Node, webgl and webgpu do not exist: wasm first (SIMD, one thread), then the slow cpu backend. */
export const NODE_BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

let wasmPathsSet = false;

/** Starts the requested backend (or the best available) in Node. */
export async function startNodeBackend(forced?: BackendName): Promise<BackendChoice> {
  if (!wasmPathsSet) {
    const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
    setWasmPaths(join(dirname(pkg), 'dist') + '/');
    wasmPathsSet = true;
  }
  return chooseBackend(tf, forced ? [forced] : NODE_BACKENDS);
}
