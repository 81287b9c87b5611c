/// <reference lib="webworker" />
import { builtinRegistry } from '../../nodes';
import { formatDiagnostic } from '../graph/diagnostics';
import { parseDocument } from '../graph/document';
import type { LoadedCheckpoint } from '../plugin/types';
import { contactSheet } from '../ops/contact-sheet';
import type { RGBAImage } from '../ops/image';
import { summarise } from '../ops/preview';
import { sweepOf } from '../graph/sweep';
import { runSweep } from '../runtime/sweep';
import { RunMemo, execute } from '../runtime/executor';
import { createModelCache } from '../runtime/models';
import { compileWithImages, loadGraphImages, loadGraphModels, makeServices, type DecodedImage } from '../runtime/session';
import { fetchTfjsModel, tapShapes, type TfjsModel } from '../models/tfjs-models';
import { decodeBitmap, decodeInBrowser, startBrowserBackend, tf } from './backend';
import type { FromWorker, ToWorker } from './protocol';
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
let ready: Promise<void> | null = null;

const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

async function loadWeights(): Promise<string[]> {
  checkpoints.clear();
  const { loaded, errors } = await loadCachedWeights();
  for (const c of loaded) checkpoints.set(c.name, c);
  networks.dispose();
  memo.clear();
  return errors;
}

async function decode(source: string, base: string): Promise<DecodedImage> {
  const bytes = uploads.get(source);
  return bytes ? decodeBitmap(new Blob([bytes])) : decodeInBrowser(source, base);
}

async function run(m: Extract<ToWorker, { type: 'run' }>) {
  const started = performance.now();
  const done = (rest: Partial<Extract<FromWorker, { type: 'done' }>>) =>
    post({ type: 'done', id: m.id, status: 'failed', diagnostics: [], outputs: {}, weights: [], reused: { hits: 0, misses: 0 }, ms: performance.now() - started, ...rest });
  for (const [k, v] of Object.entries(m.uploads)) uploads.set(k, v);
  const parsed = parseDocument(m.document);
  if (!parsed.model) return done({ error: 'the graph could not be read', diagnostics: parsed.diagnostics.map(formatDiagnostic) });
  const model = parsed.model;
  const loaded = await loadGraphImages(model, registry, (s) => decode(s, m.base), images);
  if (loaded.errors.length) return done({ error: loaded.errors.join('\n') });
  const models = await loadGraphModels(model, registry, (s) => loadModel(s, m.base));
  if (models.errors.length) return done({ error: models.errors.join('\n') });
  const { plan, diagnostics } = compileWithImages(model, registry, images, m.size, models.models);
  if (!plan) return done({ error: 'the graph does not compile', diagnostics: diagnostics.map(formatDiagnostic) });
  const controller = new AbortController();
  running.set(m.id, controller);
  const hits = memo.hits;
  const misses = memo.misses;
  const sockets = new Map(plan.steps.flatMap((s) => s.outputs.map((o) => [o.key, o.socket] as const)));
  const services = makeServices(tf, images, m.size, 0, networks, { get: (n) => checkpoints.get(n) }, { tfjsModels: models.models });
  const sweep = m.sweep ? sweepOf(model).sweep : null;
  try {
    if (sweep) {
      const r = await runSweep(model, sweep, registry, (cell) => compileWithImages(cell, registry, images, m.size, models.models), services, {
        memo, signal: controller.signal,
        onCell: (label, index, count) => post({ type: 'cell', id: m.id, label, index, count }),
        onEvent: (event) => event.type === 'step' && post({ type: 'event', id: m.id, event }),
      });
      const outputs: Record<string, RGBAImage> = r.tiles.length ? { sheet: contactSheet(r.tiles, sweep.columns.length) } : {};
      return done({ status: r.status, error: r.error, outputs, reused: { hits: memo.hits - hits, misses: memo.misses - misses } });
    }
    const result = await execute(plan, registry, services, {
      signal: controller.signal,
      memo,
      ...(m.tile ? { tiling: { extent: m.tile } } : {}),
      onEvent: (event) => post({ type: 'event', id: m.id, event }, event.type === 'preview' ? [event.image.data.buffer] : []),
      probe: {
        keys: new Set(m.probe),
        read: (key, shape, data) => {
          const preview = summarise(data, shape, sockets.get(key) ?? '');
          post({ type: 'probe', id: m.id, key, preview }, 'image' in preview ? [preview.image.data.buffer] : []);
        },
      },
    });
    done({
      status: result.status, error: result.error, outputs: result.outputs, weights: result.weights,
      reused: { hits: memo.hits - hits, misses: memo.misses - misses },
    });
  } catch (e) {
    done({ error: e instanceof Error ? e.message : String(e) });
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
        post({ type: 'ready', choice, weights: [...checkpoints.keys()], errors });
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
    await ready;
    const errors = await loadWeights();
    post({ type: 'weights', weights: [...checkpoints.keys()], errors });
  } else if (m.type === 'run') {
    await ready;
    await packsReady;
    await run(m);
  }
};
