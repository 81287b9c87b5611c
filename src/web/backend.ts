import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import threadedFactory from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
import { wasmWorkerContents } from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
import { WASM_URLS } from './wasm-urls';
import { BACKEND_ORDER, chooseBackend, wasmThreads, type BackendChoice, type BackendName } from '../runtime/backend';
import {
  registerThreadedWasm,
  runningWasmThreads,
  type EmscriptenConfig,
  type EmscriptenModule,
  type ThreadedWasmFiles,
} from '../runtime/wasm-threads';

export { tf };

/**
 * webgpu -> webgl -> wasm -> cpu, or the one named in `?backend=`. `wasmPaths`: where tfjs finds its wasm files
 * (blob: URLs of bytes the page handed in, in the sandbox); by default beside the page.
 */
export async function startBrowserBackend(
  forced?: BackendName,
  wasmPaths: Record<string, string> = WASM_URLS,
): Promise<BackendChoice> {
  setWasmPaths(wasmPaths);
  // tfjs's own start of threaded wasm hangs in a minified bundle (see runtime/wasm-threads.ts): its own factory is
  // kept single-threaded, and the threaded build is registered in its place with our settings where the page allows.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const candidates = forced ? [forced] : BACKEND_ORDER;
  if (!candidates.includes('wasm')) return chooseBackend(tf, candidates);
  const wanted = wasmThreads(undefined, self.navigator.hardwareConcurrency || 1);
  let threadsNote: string | undefined;
  let threaded: { restore: () => void } | null = null;
  if (!self.crossOriginIsolated) threadsNote = 'page not cross-origin isolated';
  else if (wanted > 1) threaded = registerThreadedWasm(tf, await browserThreadedFiles(wasmPaths), wanted);
  let choice = await chooseBackend(tf, candidates).catch((e: Error) => e);
  const wasmFailed =
    choice instanceof Error ? choice.message : choice.skipped.find((s) => s.backend === 'wasm')?.reason;
  if (threaded && wasmFailed !== undefined) {
    // The threaded build did not start (a timeout, not a hang): one thread rather than none.
    threadsNote = `threaded wasm failed: ${wasmFailed}`;
    threaded.restore();
    choice = await chooseBackend(
      tf,
      candidates.filter((b) => b === 'wasm' || b === 'cpu'),
    );
  }
  if (choice instanceof Error) throw choice;
  if (choice.backend !== 'wasm' && choice.backend !== 'cpu') return choice;
  return {
    ...choice,
    skipped: choice.skipped.filter((s) => !(threadsNote && s.backend === 'wasm')),
    threads: choice.backend === 'wasm' ? runningWasmThreads(tf) : 1,
    ...(threadsNote && choice.backend === 'wasm' ? { threadsNote } : {}),
  };
}

/** The key of the unminified threaded factory script among the wasm files (WASM_URLS; in the sandbox a blob: URL). */
const THREADED_SCRIPT = 'tfjs-backend-wasm-threaded-simd.js';

/**
 * The threaded build's files in the browser. The pthread workers load the factory from the package's own file,
 * emitted unminified as an asset (not from `factory.toString()` of the minified bundle, which does not run on its
 * own), and start from a blob: URL of tfjs's worker script.
 */
async function browserThreadedFiles(wasmPaths: Record<string, string>): Promise<ThreadedWasmFiles> {
  const script = wasmPaths[THREADED_SCRIPT] ?? WASM_URLS[THREADED_SCRIPT]!;
  const javascript = (text: string) => URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
  const workerScript = javascript(wasmWorkerContents.replace(/\n/g, '\\n'));
  const wasm = wasmPaths['tfjs-backend-wasm-threaded-simd.wasm']!;
  return {
    factory: threadedFactory as unknown as (config: EmscriptenConfig) => Promise<EmscriptenModule>,
    // A blob: URL the sandbox was handed carries the page's bytes under another type: made a script again.
    mainScript: script.startsWith('blob:')
      ? javascript(await (await fetch(script)).text())
      : new URL(script, self.location.href).href,
    workerScript,
    // Bytes, not instantiateStreaming: a blob: URL handed in by the page has no application/wasm type.
    instantiate: async (imports: WebAssembly.Imports) =>
      WebAssembly.instantiate(await (await fetch(wasm)).arrayBuffer(), imports),
  };
}

/** Fetches and decodes an image relative to `base` (the document's URL). */
export async function decodeInBrowser(source: string, base: string) {
  // Parsed against the page as fetch would; the run store asked the user before a run naming another origin was
  // sent (sourcePlace decides that the same way). Only web and data: URLs are fetched.
  const url = new URL(source, base);
  if (!['http:', 'https:', 'data:', 'blob:'].includes(url.protocol))
    throw new Error(`${url.protocol} URLs are not fetched`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return decodeBitmap(await res.blob());
}

/** Decodes image bytes (a fetched or dropped file) to RGBA; works in a worker. */
export async function decodeBitmap(blob: Blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}
