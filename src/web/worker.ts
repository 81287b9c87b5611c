/// <reference lib="webworker" />
import { builtinRegistry } from '../../nodes';
import type { LoadedCheckpoint } from '../plugin/types';
import { RunMemo } from '../runtime/memo';
import { createModelCache } from '../runtime/models';
import type { DecodedImage } from '../runtime/sources';
import { loadTfjsModel, tapShapes, type TfjsModel } from '../models/tfjs-models';
import { calibrationStore, decodeBitmap, decodeInBrowser, pictureName, startBrowserBackend, tf } from './backend';
import type { CheckpointShapes, FromWorker, ToWorker, WeightBytes } from './protocol';
import { PauseGates, runInWorker, type RunMessage } from './runner';
import { isCameraSource } from '../../nodes/camera-input';
import { parseWeightBytes } from './weights';
import { importSource } from './pack-store';
import { SandboxPacks } from './sandbox-packs';

/**
 * Runs graphs off the main thread, so the canvas stays responsive: tfjs, the decoded images, the networks
 * and the run memo (results a later run reuses) all live here, and so do the node packs' code.
 *
 * The editor starts it inside a sandboxed iframe with an opaque origin (src/web/sandbox-host.ts): no cookies,
 * storage or IndexedDB, no DOM of the page, and a content security policy that forbids network access. So
 * everything it used to fetch or read comes in by message: the wasm binaries and the cached weights with 'init',
 * each run's images in its 'run', a tfjs model's files through 'fetch' (which the page answers). The page talks
 * to it over a MessagePort handed in by the sandbox's first message ('connect'); before that, on `self`.
 */
const scope = self as unknown as DedicatedWorkerGlobalScope;
/** Where messages go and come from: the page's MessagePort once connected. */
let endpoint: { postMessage(m: unknown, transfer: Transferable[]): void } = scope;
const registry = builtinRegistry();
const packs = new SandboxPacks(registry);
packs.host.onChange = (p) => post({ type: 'pack-disabled', name: p.name, problem: p.problem ?? 'disabled' });
/** Pack installs finish before a run that was sent after them starts. */
let packsReady: Promise<void> = Promise.resolve();
const networks = createModelCache();
const memo = new RunMemo();
const images = new Map<string, DecodedImage>();
const checkpoints = new Map<string, LoadedCheckpoint>();
const uploads = new Map<string, ArrayBuffer>();
/** tfjs models by source, loaded once. */
const tfjsModels = new Map<string, Promise<TfjsModel>>();
/** Files asked of the page (the sandbox cannot fetch), by request id. */
const fetching = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
let fetchId = 0;
const hostFetch = (url: string) =>
  new Promise<Uint8Array>((resolve, reject) => {
    const id = ++fetchId;
    fetching.set(id, { resolve, reject });
    post({ type: 'fetch', id, url });
  });
const loadModel = (source: string, base: string) => {
  let m = tfjsModels.get(source);
  if (!m) {
    const url = new URL(source, base).href;
    m = loadTfjsModel(tf, url, (p, from) => hostFetch(new URL(p, from ?? url).href));
    m.catch(() => tfjsModels.delete(source));
    tfjsModels.set(source, m);
  }
  return m;
};
const running = new Map<number, AbortController>();
/** The editor's Pause: a gate per run sent (not live frames), by id. */
const gates = new PauseGates();
/** The runs so far, in the order they arrived. */
let runs: Promise<void> = Promise.resolve();
let ready: Promise<void> | null = null;
/** Reloading the cached weights finishes before a run that was sent after it starts. */
let weightsReady: Promise<unknown> = Promise.resolve();

const post = (m: FromWorker, transfer: Transferable[] = []) => endpoint.postMessage(m, transfer);
const shapesOf = (): CheckpointShapes =>
  Object.fromEntries(
    [...checkpoints].map(([name, c]) => [
      name,
      [...c.tensors].map(([k, t]) => [k, [...t.shape]] as [string, number[]]),
    ]),
  );

function loadWeights(entries: readonly WeightBytes[], pageErrors: readonly string[] = []): string[] {
  checkpoints.clear();
  const parsed = parseWeightBytes(entries);
  const { loaded } = parsed;
  const errors = [...pageErrors, ...parsed.errors];
  for (const c of loaded) checkpoints.set(c.name, c);
  networks.dispose();
  memo.clear();
  return errors;
}

/** A camera frame's RGBA pixels, drawn on one reused canvas; the bitmap is closed. */
let frameCanvas: OffscreenCanvas | null = null;
function pixels(frame: ImageBitmap): DecodedImage {
  const { width, height } = frame;
  if (!frameCanvas || frameCanvas.width !== width || frameCanvas.height !== height)
    frameCanvas = new OffscreenCanvas(width, height);
  const ctx = frameCanvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(frame, 0, 0);
  frame.close();
  return ctx.getImageData(0, 0, width, height);
}

async function decode(source: string, base: string): Promise<DecodedImage> {
  if (isCameraSource(source))
    throw new Error('the camera is off: press Start camera in the output panel (or use a still)');
  const bytes = uploads.get(source);
  if (bytes) return decodeBitmap(new Uint8Array(bytes), pictureName(source));
  // Only a data: URL is read here: the sandbox fetches nothing, so the page hands in every other image's bytes.
  if (new URL(source, base).protocol === 'data:') return decodeInBrowser(source, base);
  throw new Error(`${source}: the page did not hand in this image's bytes`);
}

async function run(m: RunMessage) {
  for (const [k, v] of Object.entries(m.uploads)) uploads.set(k, v);
  const controller = new AbortController();
  running.set(m.id, controller);
  try {
    await runInWorker(
      m,
      {
        tf,
        registry,
        state: { models: networks, memo, images },
        checkpoints: { get: (n) => checkpoints.get(n) },
        decode,
        loadModel,
        post,
        pixels,
      },
      controller.signal,
      m.live ? undefined : gates.of(m.id),
    );
  } finally {
    running.delete(m.id);
    gates.end(m.id);
  }
}

/** The first message from the sandbox hands in the page's port: everything after comes and goes through it. */
scope.onmessage = (e: MessageEvent<ToWorker | { type: 'connect' }>) => {
  const port = e.ports[0];
  if (e.data.type === 'connect' && port) {
    endpoint = port;
    port.onmessage = (ev: MessageEvent<ToWorker>) => void receive(ev.data);
    return;
  }
  void receive(e.data as ToWorker);
};

async function receive(m: ToWorker) {
  if (m.type === 'init') {
    ready = (async () => {
      try {
        // tfjs fetches its wasm from these URLs: blob: URLs of the bytes the page handed in (the sandbox may fetch blob: only).
        const wasm =
          m.wasm &&
          Object.fromEntries(
            Object.entries(m.wasm).map(([name, b]) => [
              name,
              URL.createObjectURL(new Blob([b], { type: 'application/wasm' })),
            ]),
          );
        const choice = await startBrowserBackend(m.backend, wasm, {
          ...(m.threads !== undefined ? { threads: m.threads } : {}),
          // The sandbox (an opaque origin) has no IndexedDB: auto times again there where in doubt.
          ...(m.sandboxed ? {} : { cache: calibrationStore() }),
        });
        // No WebGPU in an opaque-origin worker (navigator.gpu needs a secure context): say why it was skipped.
        if (m.sandboxed && !('gpu' in navigator))
          for (const s of choice.skipped)
            if (s.backend === 'webgpu')
              s.reason = 'not available in the pack sandbox (an opaque-origin worker has no WebGPU)';
        const errors = loadWeights(m.weights ?? [], m.weightErrors);
        post({ type: 'ready', choice, weights: [...checkpoints.keys()], shapes: shapesOf(), errors });
      } catch (err) {
        post({ type: 'failed-to-start', message: err instanceof Error ? err.message : String(err) });
      }
    })();
  } else if (m.type === 'stop') {
    running.get(m.id)?.abort();
    post({ type: 'stopping', id: m.id });
  } else if (m.type === 'pause' || m.type === 'resume') {
    gates.receive(m);
  } else if (m.type === 'describe-model') {
    await ready;
    try {
      const model = await loadModel(m.source, m.base);
      post({ type: 'model-layers', source: m.source, layers: [...tapShapes(model, [1, m.size, m.size, 3])] });
    } catch (e) {
      post({ type: 'model-layers', source: m.source, layers: null, error: (e as Error).message });
    }
  } else if (m.type === 'fetched') {
    const f = fetching.get(m.id);
    fetching.delete(m.id);
    if (m.bytes) f?.resolve(new Uint8Array(m.bytes));
    else f?.reject(new Error(m.error ?? 'not fetched'));
  } else if (m.type === 'pack-query') {
    await packsReady;
    try {
      post({ type: 'pack-answer', id: m.id, result: packs.answer(m.query) });
    } catch (e) {
      post({ type: 'pack-answer', id: m.id, error: e instanceof Error ? e.message : String(e) });
    }
  } else if (m.type === 'load-pack') {
    // One pack at a time, as the page asks: the page attributes the answer to the pack it sent (and a pack that never
    // finishes loading to that pack, after its deadline).
    packsReady = packsReady.then(async () => {
      const loaded = await packs.add(m, importSource);
      networks.dispose();
      memo.clear();
      post({ type: 'pack-loaded', id: m.id, ...loaded });
    });
  } else if (m.type === 'weights-changed') {
    // New weights dispose the networks (and clear the memo) that a run sent before them may be using: they wait for
    // those runs to end (a network disposed mid-run failed it with "Cannot read properties of undefined (reading
    // 'backend')"). Runs sent after them wait for them.
    const before = runs;
    const load = weightsReady.then(async () => {
      await ready;
      await before;
      const errors = loadWeights(m.weights ?? [], m.weightErrors);
      post({ type: 'weights', weights: [...checkpoints.keys()], shapes: shapesOf(), errors });
    });
    weightsReady = load.catch(() => {});
    await load;
  } else if (m.type === 'run') {
    // What this run waits for is decided as it arrives (the start, pack installs and weights sent before it), and it
    // joins the queue of runs at once, so a weights change sent after it waits for it.
    const waits = Promise.all([ready, packsReady, weightsReady]);
    // Its gate now: a Pause sent while it waits its turn holds it at its first step.
    if (!m.live) gates.of(m.id);
    // One run at a time: a live camera frame and a run the user started share the memo, which a run trims at its end.
    const turn = runs.then(() => waits).then(() => run(m));
    runs = turn.catch(() => {});
    await turn;
  }
}
