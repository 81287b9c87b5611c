import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
// The threaded build's factory, unminified: its pthread workers load it (src/runtime/wasm-threads.ts).
import threadedScript from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js?url';

/**
 * tfjs's wasm binaries as served beside the page, by the file names `setWasmPaths` takes. Kept apart from
 * backend.ts (which brings in all of tfjs) so the page can fetch them for the sandboxed worker, which cannot.
 */
export const WASM_URLS: Record<string, string> = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  'tfjs-backend-wasm-threaded-simd.js': threadedScript,
};
