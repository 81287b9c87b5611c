/** tfjs-backend-wasm's pthread worker script, which it ships as a string export without typings. */
declare module '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js' {
  export const wasmWorkerContents: string;
}
