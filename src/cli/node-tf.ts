import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { chooseBackend, type BackendChoice, type BackendName } from '../runtime/backend';
import { registerNodeWebgpu } from './node-webgpu';

export { tf };

/** In Node: WebGPU through Dawn where a real GPU is found, else wasm (SIMD, one thread), then the slow cpu backend. */
export const NODE_BACKENDS: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];

let wasmPathsSet = false;

/** Starts the requested backend (or the best available) in Node. */
export async function startNodeBackend(forced?: BackendName): Promise<BackendChoice> {
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
  const choice = await chooseBackend(tf, candidates.filter((b) => !skipped.some((s) => s.backend === b)));
  return { ...choice, skipped: [...skipped, ...choice.skipped] };
}
