import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { WASM_URLS } from './wasm-urls';
import { BACKEND_ORDER, chooseBackend, type BackendChoice, type BackendName } from '../runtime/backend';

export { tf };

/**
 * webgpu -> webgl -> wasm -> cpu, or the one named in `?backend=`. `wasmPaths`: where tfjs finds its wasm files
 * (blob: URLs of bytes the page handed in, in the sandbox); by default beside the page.
 */
export async function startBrowserBackend(forced?: BackendName, wasmPaths: Record<string, string> = WASM_URLS): Promise<BackendChoice> {
  setWasmPaths(wasmPaths);
  // Threaded wasm hangs when tfjs builds its workers from minified source; one thread is safe everywhere.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  return chooseBackend(tf, forced ? [forced] : BACKEND_ORDER);
}

/** Fetches and decodes an image relative to `base` (the document's URL). */
export async function decodeInBrowser(source: string, base: string) {
  // Parsed against the page as fetch would; the run store asked the user before a run naming another origin was
  // sent (sourcePlace decides that the same way). Only web and data: URLs are fetched.
  const url = new URL(source, base);
  if (!['http:', 'https:', 'data:', 'blob:'].includes(url.protocol)) throw new Error(`${url.protocol} URLs are not fetched`);
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
