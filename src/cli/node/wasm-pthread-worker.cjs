// The pthread worker of tfjs-backend-wasm's threaded build, as a file Node's worker_threads can start (tfjs only
// ships it as a string, which it turns into a blob: URL that Node refuses). Emscripten's worker code handles Node
// itself (worker_threads' parentPort, importScripts as a file read); it runs here with this file's require.
'use strict';
const {
  wasmWorkerContents,
} = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
// As tfjs does before making its Blob: the export's "\n" escapes became real newlines inside string literals.
new Function('require', '__filename', wasmWorkerContents.replace(/\n/g, '\\n'))(require, __filename);
