import { builtinRegistry } from '../../nodes';
import { formatDiagnostic } from '../graph/diagnostics';
import { parseDocument } from '../graph/document';
import type { GraphModel } from '../graph/model';
import type { RGBAImage } from '../ops/image';
import { BACKEND_ORDER, type BackendName } from '../runtime/backend';
import { RunMemo, execute } from '../runtime/executor';
import { createModelCache } from '../runtime/models';
import { compileWithImages, loadGraphImages, makeServices, type DecodedImage } from '../runtime/session';
import { MANIFEST } from '../models/weights/manifest';
import type { LoadedCheckpoint } from '../plugin/types';
import { decodeInBrowser, startBrowserBackend, tf } from './backend';
import { clearWeights, download, listWeights, loadCachedWeights, storeWeights } from './weights';

/**
 * A plain page that runs the Gatys preset and shows the result, until the node editor lands.
 * Query options: ?backend=webgpu|webgl|wasm|cpu, ?size=PX, ?steps=N, ?preset=NAME.json.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const query = new URLSearchParams(location.search);
const registry = builtinRegistry();
const models = createModelCache();
/** Re-running after changing a weight or the step count reuses the images, encoder passes and targets. */
const memo = new RunMemo();
const images = new Map<string, DecodedImage>();
let controller: AbortController | null = null;
const checkpoints = new Map<string, LoadedCheckpoint>();

async function showWeights() {
  const list = $('weights-list');
  list.innerHTML = '';
  for (const w of await listWeights()) {
    const item = document.createElement('li');
    item.textContent = `${w.name}: ${w.source}, ${(w.size / 2 ** 20).toFixed(1)} MiB, sha256 ${w.sha256.slice(0, 12)}…`;
    list.append(item);
  }
  if (!list.children.length) list.textContent = 'No weights loaded: every network runs on seeded random weights.';
}

async function setUpWeights() {
  const select = $<HTMLSelectElement>('weights-name');
  for (const e of MANIFEST) select.add(new Option(`${e.name} (${e.network}${e.variant ? `, ${e.variant}` : ''})`, e.name));
  const { loaded, errors } = await loadCachedWeights();
  for (const c of loaded) checkpoints.set(c.name, c);
  if (errors.length) status(`cached weights not used: ${errors.join('; ')}`, true);
  const keep = async (name: string, source: string, bytes: ArrayBuffer) => {
    try {
      checkpoints.set(name, await storeWeights(name, source, bytes));
      models.dispose(); // networks built from the old weights must be rebuilt, and what they computed
      memo.clear();
      status(`weights "${name}" loaded from ${source}`);
    } catch (e) {
      status(`cannot use ${source} as "${name}": ${(e as Error).message}`, true);
    }
    await showWeights();
  };
  $<HTMLInputElement>('weights-file').onchange = async (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) await keep(select.value, file.name, await file.arrayBuffer());
  };
  $('weights-url').onclick = async () => {
    const entry = MANIFEST.find((m) => m.name === select.value)!;
    const url = prompt(`URL of the ${entry.name} checkpoint`, entry.url);
    if (!url) return;
    try {
      const bytes = await download(url, (got, total) => status(`downloading ${entry.name}: ${(got / 2 ** 20).toFixed(1)} MiB${total ? ` of ${(total / 2 ** 20).toFixed(1)}` : ''}`));
      await keep(entry.name, url, bytes);
    } catch (err) {
      status(`download failed (${(err as Error).message}); servers without CORS headers need the file picker`, true);
    }
  };
  $('weights-clear').onclick = async () => {
    await clearWeights();
    checkpoints.clear();
    models.dispose();
    memo.clear();
    await showWeights();
  };
  await showWeights();
}

const status = (text: string, error = false) => {
  $('status').textContent = text;
  $('status').className = error ? 'error' : 'muted';
};
const fmt = (x: number) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toPrecision(4));

function draw(image: RGBAImage) {
  const canvas = $<HTMLCanvasElement>('result');
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(new ImageData(image.data, image.width, image.height), 0, 0);
}

function setParam(model: GraphModel, type: string, param: string, value: unknown): void {
  for (const n of model.nodes) if (n.type === type) n.params[param] = value;
}

async function start() {
  const presetUrl = new URL(query.get('preset') ?? 'gatys.json', location.href).href;
  const forced = query.get('backend') as BackendName | null;
  if (forced && !BACKEND_ORDER.includes(forced)) return status(`unknown backend "${forced}"; use one of ${BACKEND_ORDER.join(', ')}`, true);
  if (query.get('size')) $<HTMLInputElement>('size').value = query.get('size')!;
  if (query.get('steps')) $<HTMLInputElement>('steps').value = query.get('steps')!;

  const parsed = parseDocument(await (await fetch(presetUrl)).text());
  if (!parsed.model) return status(parsed.diagnostics.map(formatDiagnostic).join('\n'), true);
  const model = parsed.model;
  $('title').textContent = model.metadata.title ?? presetUrl;
  $('description').textContent = model.metadata.description ?? '';
  const source = (slot: string) => model.nodes.find((n) => n.type === 'image' && n.params.slot === slot)?.params.source as string | undefined;
  for (const slot of ['content', 'style']) {
    const s = source(slot);
    if (s) $<HTMLImageElement>(slot).src = new URL(s, presetUrl).href;
  }
  const optimiser = model.nodes.find((n) => n.type === 'optimiser');
  if (optimiser?.params.method) $<HTMLSelectElement>('method').value = optimiser.params.method as string;

  status('starting TensorFlow.js…');
  const choice = await startBrowserBackend(forced ?? undefined);
  $('backend').textContent = `backend: ${choice.backend}${choice.skipped.length ? ` (${choice.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')})` : ''}`;
  $('backend').dataset.backend = choice.backend;

  await setUpWeights();
  const loaded = await loadGraphImages(model, registry, (s) => decodeInBrowser(s, presetUrl), images);
  if (loaded.errors.length) return status(loaded.errors.join('\n'), true);
  status('ready');
  $<HTMLButtonElement>('run').disabled = false;
  $('run').onclick = () => void run(structuredClone(model));
  $('stop').onclick = () => controller?.abort();
}

async function run(model: GraphModel) {
  const size = Number($<HTMLInputElement>('size').value);
  const steps = Number($<HTMLInputElement>('steps').value);
  setParam(model, 'optimiser', 'steps', steps);
  setParam(model, 'optimiser', 'method', $<HTMLSelectElement>('method').value);
  setParam(model, 'optimiser', 'previewEvery', 5);
  const { plan, diagnostics } = compileWithImages(model, registry, images, size);
  if (!plan) return status(diagnostics.map(formatDiagnostic).join('\n'), true);

  controller = new AbortController();
  $<HTMLButtonElement>('run').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  const bar = $<HTMLProgressElement>('progress');
  const started = performance.now();
  const result = await execute(plan, registry, makeServices(tf, images, size, 0, models, { get: (name) => checkpoints.get(name) }), {
    signal: controller.signal,
    memo,
    onEvent: (e) => {
      if (e.type === 'status') status(e.message);
      else if (e.type === 'preview') draw(e.image);
      else if (e.type === 'step') {
        bar.value = e.step / Math.max(1, e.total);
        const rate = e.step / ((performance.now() - started) / 1000);
        status(`step ${e.step}/${e.total} · loss ${fmt(e.loss)} · ${rate.toFixed(2)} steps/s`);
        $('terms').innerHTML = '';
        for (const [name, value] of Object.entries(e.terms)) {
          const row = $<HTMLTableElement>('terms').insertRow();
          row.insertCell().textContent = name;
          row.insertCell().textContent = fmt(value);
        }
      }
    },
  });
  const out = Object.values(result.outputs)[0];
  if (out) draw(out);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  if (result.status === 'failed') status(`failed: ${result.error}`, true);
  else status(`${result.status === 'cancelled' ? 'stopped' : 'done'} after ${result.steps.length - 1} steps in ${secs} s · ${result.weights[0]?.weights ?? ''}`);
  $('result-caption').textContent = `Result (${size} px)`;
  document.body.dataset.runStatus = result.status;
  $<HTMLButtonElement>('run').disabled = false;
  $<HTMLButtonElement>('stop').disabled = true;
}

start().catch((e) => status(e instanceof Error ? e.message : String(e), true));
