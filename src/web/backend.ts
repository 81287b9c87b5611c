import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import threadedFactory from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
import { wasmWorkerContents } from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
import { checkImageHeader } from '../codecs/image-header';
import { objectStore } from './idb';
import { WASM_URLS } from './wasm-urls';
import {
  BACKEND_ORDER,
  calibrateThreads,
  chooseAuto,
  chooseBackend,
  threadCandidates,
  timeConvolution,
  wasmThreads,
  type AdapterFacts,
  type BackendChoice,
  type BackendName,
  type CalibrationCache,
} from '../runtime/backend';
import {
  registerThreadedWasm,
  runningWasmThreads,
  type EmscriptenConfig,
  type EmscriptenModule,
  type ThreadedWasmFiles,
} from '../runtime/wasm-threads';

export { tf };

/** The threaded wasm factory now registered in place of tfjs's own (its thread count, how to put tfjs's back), if any. */
let threaded: { threads: number; restore: () => void } | null = null;
/** The threaded build's files, made once (blob: URLs). */
let threadedFiles: Promise<ThreadedWasmFiles> | null = null;

/** Registers the wasm build for `threads` (tfjs's own single-threaded one for 1), replacing what was registered. */
async function prepareWasm(threads: number, wasmPaths: Record<string, string>): Promise<void> {
  if ((threaded?.threads ?? 1) === threads) return;
  threaded?.restore();
  threaded = null;
  if (threads > 1) {
    threadedFiles ??= browserThreadedFiles(wasmPaths);
    threaded = { threads, ...registerThreadedWasm(tf, await threadedFiles, threads) };
  }
}

export interface BrowserBackendOptions {
  /** wasm's threads (`?threads=`); absent: timed when the pool starts (calibrateThreads), every core at most. */
  threads?: number;
  /** Where auto keeps what it timed on this device (IndexedDB); absent: timed at every start where in doubt. */
  cache?: CalibrationCache;
}

/**
 * The backend `?backend=` names, or auto: webgpu -> webgl -> wasm -> cpu with software adapters (SwiftShader,
 * llvmpipe: headless Chromium, a VM, a remote desktop) left out, and adapters it cannot judge timed against wasm
 * (chooseAuto). wasm starts on one thread and takes more only where a small convolution times faster on them now
 * (a busy machine gets fewer). `wasmPaths`: where tfjs finds its wasm files (blob: URLs of bytes the page handed
 * in, in the sandbox); by default beside the page.
 */
export async function startBrowserBackend(
  forced?: BackendName,
  wasmPaths: Record<string, string> = WASM_URLS,
  o: BrowserBackendOptions = {},
): Promise<BackendChoice> {
  setWasmPaths(wasmPaths);
  // tfjs's own start of threaded wasm hangs in a minified bundle (see runtime/wasm-threads.ts): its own factory is
  // kept single-threaded, and the threaded build is registered in its place with our settings where the page allows.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (forced && forced !== 'wasm' && forced !== 'cpu') return chooseBackend(tf, [forced]);
  const cores = self.navigator.hardwareConcurrency || 1;
  const isolated = self.crossOriginIsolated;
  const wanted = wasmThreads(o.threads, cores);
  // No count asked for: one thread first, more where they time faster (below).
  const timeThreads = isolated && o.threads === undefined && wanted > 1;
  let threadsNote: string | undefined = isolated ? undefined : 'page not cross-origin isolated';
  if (isolated) await prepareWasm(timeThreads ? 1 : wanted, wasmPaths);
  const time = () => timeConvolution(tf);
  let threadsTimed = false;
  const start = async (candidates: readonly BackendName[]): Promise<BackendChoice> => {
    let choice = await chooseBackend(tf, candidates).catch((e: Error) => e);
    const wasmFailed =
      choice instanceof Error ? choice.message : choice.skipped.find((s) => s.backend === 'wasm')?.reason;
    if (threaded && candidates.includes('wasm') && wasmFailed !== undefined) {
      // The threaded build did not start (a timeout, not a hang): one thread rather than none.
      threadsNote = `threaded wasm failed: ${wasmFailed}`;
      await prepareWasm(1, wasmPaths);
      choice = await chooseBackend(
        tf,
        candidates.filter((b) => b === 'wasm' || b === 'cpu'),
      );
    }
    if (choice instanceof Error) throw choice;
    if (choice.backend === 'wasm' && timeThreads && !threadsTimed) {
      // Once, the first time wasm runs (before auto times it against a GPU, so wasm is timed on its count).
      threadsTimed = true;
      const r = await calibrateThreads(threadCandidates(cores), {
        use: async (n) => {
          await prepareWasm(n, wasmPaths);
          await chooseBackend(tf, ['wasm']);
        },
        time,
      });
      if (r.note) threadsNote = r.note;
    }
    return choice;
  };
  const choice = forced
    ? await start([forced])
    : await chooseAuto(BACKEND_ORDER, {
        facts: await browserAdapterFacts(),
        start,
        time,
        ...(o.cache ? { cache: o.cache } : {}),
      });
  if (choice.backend !== 'wasm' && choice.backend !== 'cpu') return choice;
  return {
    ...choice,
    skipped: choice.skipped.filter((s) => !(threadsNote && s.backend === 'wasm')),
    threads: choice.backend === 'wasm' ? runningWasmThreads(tf) : 1,
    ...(threadsNote && choice.backend === 'wasm' ? { threadsNote } : {}),
  };
}

/** The part of WebGPU's adapter auto reads (the project does not install WebGPU's DOM typings). */
interface GpuAdapterFacts {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
}

/**
 * The adapters WebGL and WebGPU would run on, as this worker sees them: WebGL's unmasked renderer
 * (WEBGL_debug_renderer_info) and WebGPU's adapter info and fallback flag. A question that throws is left
 * unanswered (undefined): that backend is then tried as before.
 */
export async function browserAdapterFacts(): Promise<AdapterFacts> {
  const facts: AdapterFacts = {};
  try {
    const canvas = new OffscreenCanvas(1, 1);
    const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
    if (!gl) facts.webgl = null;
    else {
      const debug = gl.getExtension('WEBGL_debug_renderer_info');
      facts.webgl = {
        renderer: String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? ''),
        vendor: String(gl.getParameter(debug ? debug.UNMASKED_VENDOR_WEBGL : gl.VENDOR) ?? ''),
      };
      gl.getExtension('WEBGL_lose_context')?.loseContext();
    }
  } catch {
    // No answer: WebGL is tried as before.
  }
  const gpu = (self.navigator as Navigator & { gpu?: { requestAdapter(o?: object): Promise<GpuAdapterFacts | null> } })
    .gpu;
  try {
    // tfjs's webgpu backend asks for the high-performance adapter too.
    const adapter = gpu ? await gpu.requestAdapter({ powerPreference: 'high-performance' }) : null;
    const info: NonNullable<GpuAdapterFacts['info']> = adapter?.info ?? {};
    facts.webgpu = adapter
      ? {
          fallback: Boolean(adapter.isFallbackAdapter ?? info.isFallbackAdapter),
          vendor: info.vendor ?? '',
          architecture: info.architecture ?? '',
          device: info.device ?? '',
          description: info.description ?? '',
        }
      : null;
  } catch {
    // No answer: WebGPU is tried as before.
  }
  return facts;
}

/** Auto's timings kept in this origin's IndexedDB; the pack sandbox (an opaque origin) has none, and times again. */
export function calibrationStore(): CalibrationCache {
  const request = objectStore('stylegraph-backend', 'calibration');
  return {
    get: (key) => request('readonly', (s) => s.get(key) as IDBRequest<string | undefined>),
    set: async (key, value) => {
      await request('readwrite', (s) => s.put(value, key));
    },
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

/** How a picture is named in an error: its source, or "the data: URL picture" (as the CLI names it). */
export const pictureName = (source: string) => (source.startsWith('data:') ? 'the data: URL picture' : source);

/** Fetches and decodes an image relative to `base` (the document's URL). */
export async function decodeInBrowser(source: string, base: string) {
  // Parsed against the page as fetch would; the run store asked the user before a run naming another origin was
  // sent (sourcePlace decides that the same way). Only web and data: URLs are fetched.
  const url = new URL(source, base);
  if (!['http:', 'https:', 'data:', 'blob:'].includes(url.protocol))
    throw new Error(`${url.protocol} URLs are not fetched`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return decodeBitmap(new Uint8Array(await res.arrayBuffer()), pictureName(source));
}

/**
 * Decodes image bytes (a fetched or dropped file) to RGBA; works in a worker. The header is read first
 * (`checkImageHeader`): a picture over 40 MP, or one whose size the header does not give, is refused before the
 * browser decodes it. The browser turns a JPEG upright by its EXIF orientation, as the CLI's decoder does.
 */
export async function decodeBitmap(bytes: Uint8Array<ArrayBuffer>, name: string) {
  checkImageHeader(bytes, name);
  const bitmap = await createImageBitmap(new Blob([bytes]));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}
