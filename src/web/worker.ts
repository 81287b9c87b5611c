/// <reference lib="webworker" />
import { builtinRegistry } from '../../nodes';
import type { LoadedCheckpoint } from '../plugin/types';
import { RunMemo } from '../runtime/memo';
import { createModelCache } from '../runtime/models';
import type { DecodedImage } from '../runtime/sources';
import { fetchTfjsModel, tapShapes, type TfjsModel } from '../models/tfjs-models';
import { decodeBitmap, decodeInBrowser, startBrowserBackend, tf } from './backend';
import type { CheckpointShapes, FromWorker, ToWorker } from './protocol';
import { runInWorker, type RunMessage } from './runner';
import { isCameraSource } from '../../nodes/camera-input';
import { loadCachedWeights } from './weights';
import { importSource } from './pack-store';
import { PackHost } from '../plugin/packs';

/**
 * Runs graphs off the main thread, so the canvas stays responsive: tfjs, the decoded images, the networks
 * and the run memo (results a later run reuses) all live here.
 */
const scope = self as unknown as DedicatedWorkerGlobalScope;
const registry = builtinRegistry();
const packs = new PackHost(registry);
packs.onChange = (p) => post({ type: 'pack-disabled', name: p.name, problem: p.problem ?? 'disabled' });
/** Pack installs finish before a run that was sent after them starts. */
let packsReady: Promise<void> = Promise.resolve();
const networks = createModelCache();
const memo = new RunMemo();
const images = new Map<string, DecodedImage>();
const checkpoints = new Map<string, LoadedCheckpoint>();
const uploads = new Map<string, ArrayBuffer>();
/** tfjs models by source, loaded once. */
const tfjsModels = new Map<string, Promise<TfjsModel>>();
const loadModel = (source: string, base: string) => {
  let m = tfjsModels.get(source);
  if (!m) {
    m = fetchTfjsModel(tf, new URL(source, base).href);
    m.catch(() => tfjsModels.delete(source));
    tfjsModels.set(source, m);
  }
  return m;
};
const running = new Map<number, AbortController>();
/** The runs so far, in the order they arrived. */
let runs: Promise<void> = Promise.resolve();
let ready: Promise<void> | null = null;
/** Reloading the cached weights finishes before a run that was sent after it starts. */
let weightsReady: Promise<unknown> = Promise.resolve();

const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);
const shapesOf = (): CheckpointShapes =>
  Object.fromEntries([...checkpoints].map(([name, c]) => [name, [...c.tensors].map(([k, t]) => [k, [...t.shape]] as [string, number[]])]));

async function loadWeights(): Promise<string[]> {
  checkpoints.clear();
  const { loaded, errors } = await loadCachedWeights();
  for (const c of loaded) checkpoints.set(c.name, c);
  networks.dispose();
  memo.clear();
  return errors;
}

/** A camera frame's RGBA pixels, drawn on one reused canvas; the bitmap is closed. */
let frameCanvas: OffscreenCanvas | null = null;
function pixels(frame: ImageBitmap): DecodedImage {
  const { width, height } = frame;
  if (!frameCanvas || frameCanvas.width !== width || frameCanvas.height !== height) frameCanvas = new OffscreenCanvas(width, height);
  const ctx = frameCanvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(frame, 0, 0);
  frame.close();
  return ctx.getImageData(0, 0, width, height);
}

async function decode(source: string, base: string): Promise<DecodedImage> {
  if (isCameraSource(source)) throw new Error('the camera is off: press Start camera in the output panel (or use a still)');
  const bytes = uploads.get(source);
  return bytes ? decodeBitmap(new Blob([bytes])) : decodeInBrowser(source, base);
}

async function run(m: RunMessage) {
  for (const [k, v] of Object.entries(m.uploads)) uploads.set(k, v);
  const controller = new AbortController();
  running.set(m.id, controller);
  try {
    await runInWorker(m, {
      tf, registry, state: { models: networks, memo, images }, checkpoints: { get: (n) => checkpoints.get(n) }, decode, loadModel, post, pixels,
    }, controller.signal);
  } finally {
    running.delete(m.id);
  }
}

scope.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'init') {
    ready = (async () => {
      try {
        const choice = await startBrowserBackend(m.backend);
        const errors = await loadWeights();
        post({ type: 'ready', choice, weights: [...checkpoints.keys()], shapes: shapesOf(), errors });
      } catch (err) {
        post({ type: 'failed-to-start', message: err instanceof Error ? err.message : String(err) });
      }
    })();
  } else if (m.type === 'stop') running.get(m.id)?.abort();
  else if (m.type === 'describe-model') {
    await ready;
    try {
      const model = await loadModel(m.source, m.base);
      post({ type: 'model-layers', source: m.source, layers: [...tapShapes(model, [1, m.size, m.size, 3])] });
    } catch (e) {
      post({ type: 'model-layers', source: m.source, layers: null, error: (e as Error).message });
    }
  }
  else if (m.type === 'packs') {
    packsReady = packsReady.then(async () => {
      for (const p of [...packs.packs]) packs.remove(p.name);
      const errors: string[] = [];
      for (const p of m.packs) {
        try {
          const r = packs.install(await importSource(p.source), p.origin);
          if (!r.ok) errors.push(r.error);
        } catch (e) {
          errors.push(`${p.origin}: ${(e as Error).message}`);
        }
      }
      networks.dispose();
      memo.clear();
      post({ type: 'packs-loaded', errors });
    });
  }
  else if (m.type === 'weights-changed') {
    const load = weightsReady.then(async () => {
      await ready;
      const errors = await loadWeights();
      post({ type: 'weights', weights: [...checkpoints.keys()], shapes: shapesOf(), errors });
    });
    weightsReady = load.catch(() => {});
    await load;
  } else if (m.type === 'run') {
    await ready;
    await packsReady;
    await weightsReady;
    // One run at a time: a live camera frame and a run the user started share the memo, which a run trims at its end.
    const turn = runs.then(() => run(m));
    runs = turn.catch(() => {});
    await turn;
  }
};
