import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef, toRaw, watch } from 'vue';
import { formatDiagnostic, hasErrors } from '../../graph/diagnostics';
import { serialiseDocument } from '../../graph/document';
import type { GraphModel } from '../../graph/model';
import { sweepOf } from '../../graph/sweep';
import type { RGBAImage } from '../../ops/image';
import type { Preview } from '../../ops/preview';
import type { BackendChoice } from '../../runtime/backend';
import type { StepRecord } from '../../runtime/executor';
import type { CheckpointShapes, FromWorker, PackQuery, PackTypeData, ToWorker } from '../../web/protocol';
import { SandboxedWorker, wasmBinaries } from '../../web/sandbox-host';
import type { PackRecord } from '../../plugin/packs';
import { WASM_URLS } from '../../web/wasm-urls';
import { readCachedWeightBytes } from '../../web/weights';
import workerUrl from '../../web/worker.ts?worker&url';
import { getUpload, isUpload } from '../../web/uploads';
import { storedPacks } from '../../web/pack-store';
import { remoteOrigin } from '../../web/source-origin';
import { checkpointShapes, modelLayers, registry, setPackQuery, trustedDefault } from '../registry';
import { hostLimit as limitOf } from '../host-limits';

/** The bundled presets' file names (in presets/ of a clone, where the command line finds them). */
const PRESETS = Object.keys(import.meta.glob('../../../presets/*.json')).map((p) => p.slice(p.lastIndexOf('/') + 1));
import { useGraphStore } from './graph';
import { useSettingsStore } from './settings';

const FETCH_ORIGINS = 'stylegraph.fetch-origins';
const allowedFetchOrigins = (): string[] => {
  try {
    const v = JSON.parse(localStorage.getItem(FETCH_ORIGINS) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
};

export type RunPhase = 'starting' | 'ready' | 'running' | 'stopping' | 'no-backend';

/** A Stop the worker has not answered within this long ends the worker (a compute that never yields cannot be stopped otherwise). */
export const STOP_GRACE_MS = 1000;
/** A sandboxed worker not ready after this long: the run bar offers to start without packs. */
export const SLOW_START_MS = 20_000;
/** A pack whose load the worker has not answered within this long is skipped for the session (a new worker starts without it). */
export const PACK_LOAD_MS = 15_000;

/** What came of asking the worker to load one pack; the page attributes it to the pack it sent. */
export type PackLoad =
  | { kind: 'loaded'; reply: { pack?: { record: PackRecord; types: PackTypeData[] }; error?: string } }
  /** No answer within PACK_LOAD_MS: the worker is busy for good (the caller starts a new one). */
  | { kind: 'timeout' }
  /** The worker was replaced (or never started) before it answered. */
  | { kind: 'gone'; error: string };

/** A run waiting its turn: the graph and settings as they were when the user asked for it. */
export interface QueuedRun {
  key: number;
  label: string;
  model: GraphModel;
  size: number;
  seed: number;
  sweep: boolean;
  probe: string[];
}

/** A finished run in the history strip. */
export interface HistoryItem {
  key: number;
  label: string;
  image: RGBAImage | null;
  status: string;
  seconds: number;
  steps: number;
  /** Pinned items stay at the front and are not dropped when the history is full. */
  pinned?: boolean;
}

const HISTORY = 20;

/** Newest first, at most HISTORY items: the oldest unpinned ones go first. */
export function keepHistory(items: HistoryItem[]): HistoryItem[] {
  const out = [...items];
  for (let i = out.length - 1; out.length > HISTORY && i >= 0; i--) if (!out[i]!.pinned) out.splice(i, 1);
  return out;
}

/** One run's state: the worker, the backend it chose, progress, the loss history, the output and previews. */
export const useRunStore = defineStore('run', () => {
  const graph = useGraphStore();
  const settings = useSettingsStore();
  const phase = ref<RunPhase>('starting');
  const choice = ref<BackendChoice | null>(null);
  const startError = ref<string | null>(null);
  const weights = ref<string[]>([]);
  const steps = shallowRef<StepRecord[]>([]);
  const total = ref(0);
  const output = shallowRef<RGBAImage | null>(null);
  const outputStep = ref<number | null>(null);
  const pinned = shallowRef<{ image: RGBAImage; label: string } | null>(null);
  const previews = shallowRef(new Map<string, Preview>());
  const message = ref('starting TensorFlow.js…');
  /** How the last run was tiled ("tiling 2048x2048 into 36 tiles ..."), or null when it ran whole. */
  const tiling = ref<string | null>(null);
  const failed = ref(false);
  const result = ref<{
    status: string;
    steps: number;
    seconds: number;
    reused: { hits: number; misses: number };
    weights: string;
  } | null>(null);
  /** The weights each network of the last run used (the 'done' message's lines; "random (seed 0); no weights named ..."). */
  const runWeights = shallowRef<{ nodes: string[]; weights: string }[]>([]);
  const startedAt = ref(0);
  /** The sweep cell running, when a sweep runs. */
  const cell = ref<{ index: number; count: number; label: string } | null>(null);
  /** Whether Run runs the graph's sweep (its lesson grid) or the graph once. */
  const sweep = ref(true);
  const now = ref(0);
  /** Runs waiting their turn: snapshots of the graph and its settings, taken when the user asked. */
  const queue = ref<QueuedRun[]>([]);
  /** Finished runs, newest first: their picture, to show again or pin for comparison. */
  const history = shallowRef<HistoryItem[]>([]);
  /** The run going on now. */
  const current = shallowRef<QueuedRun | null>(null);
  let queued = 0;
  /**
   * The run worker: a plain module worker while no node pack is enabled, and in the pack sandbox (an opaque-origin
   * iframe, src/web/sandbox-host.ts) as soon as one is, since pack code runs in it. The sandbox has no WebGPU (an
   * opaque-origin worker is not a secure context), so it is used only when there is pack code to contain.
   */
  let worker: SandboxedWorker | Worker | null = null;
  /** Whether the worker is the sandboxed one. */
  const sandboxed = ref(false);
  /** Packs are off for this page (`?nopacks`, or the user chose to start without them): the worker is a plain one. */
  const packsOff = ref(typeof location !== 'undefined' && new URLSearchParams(location.search).has('nopacks'));
  /** The sandboxed worker has not said it is ready for SLOW_START_MS (or failed): the run bar offers to start without packs. */
  const slowStart = ref(false);
  let slowTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves true when the current worker is ready, false when it failed or was replaced first. */
  let started: { promise: Promise<boolean>; settle: (ok: boolean) => void } | null = null;
  /** Who hears that the run store replaced the worker on its own (a Stop not answered, packs turned off): the plugins store loads its packs again. */
  const restartListeners = new Set<() => void>();
  /** Answers the worker owes: pack installs and questions about pack node types, by request id. */
  const waiting = new Map<number, (m: FromWorker) => void>();
  let requestId = 0;
  const request = <T extends FromWorker>(send: (id: number) => ToWorker): Promise<T> =>
    new Promise((resolve) => {
      const id = ++requestId;
      waiting.set(id, resolve as (m: FromWorker) => void);
      post(send(id));
    });
  let runId = 0;
  /** Live camera frames have ids of their own (negative), outside the queue and the history. */
  let liveId = 0;
  const liveListeners = new Set<(m: Extract<FromWorker, { type: 'live-done' }>) => void>();
  /** Grabs the camera's picture for a run of a graph with a camera node (the camera store provides it). */
  let grabFrame: (() => Promise<ImageBitmap | null>) | null = null;
  let clock: ReturnType<typeof setInterval> | undefined;
  /** Whether the queue goes on when the next worker is ready (after a Stop that had to end the worker). */
  let resumeQueue = false;
  /** The run whose preview the output shows. */
  let previewOf = 0;
  /** Whether the worker answered the last Stop. */
  let stopAnswered = false;

  const post = (m: ToWorker, transfer: Transferable[] = []) => worker?.postMessage(m, transfer);

  function init() {
    if (worker) return;
    if (settings.backendError) {
      phase.value = 'no-backend';
      startError.value = settings.backendError;
      return;
    }
    startWorker(!packsOff.value && storedPacks().some((p) => p.enabled));
  }

  /** Starts the worker, in the pack sandbox or not, and hands it what it cannot read itself. */
  function startWorker(sandbox: boolean) {
    sandboxed.value = sandbox;
    started?.settle(false);
    let settle: (ok: boolean) => void = () => {};
    const promise = new Promise<boolean>((r) => (settle = r));
    started = { promise, settle };
    slowStart.value = false;
    clearTimeout(slowTimer);
    if (sandbox) slowTimer = setTimeout(() => phase.value === 'starting' && (slowStart.value = true), SLOW_START_MS);
    // A build hands the sandbox the worker bundle's text (fetched here, same-origin), so any static host serves the
    // editor; `npm start` gives its URL (unbundled modules, imported with CORS).
    worker = markRaw(
      !sandbox
        ? new Worker(workerUrl, { type: import.meta.env.DEV ? 'module' : 'classic' })
        : new SandboxedWorker(
            import.meta.env.DEV
              ? { url: workerUrl }
              : {
                  source: fetch(workerUrl).then((r) =>
                    r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status} for ${workerUrl}`)),
                  ),
                },
          ),
    );
    worker.onmessage = (e: MessageEvent<FromWorker>) => receive(e.data);
    worker.onerror = (e: { message: string }) => {
      phase.value = 'no-backend';
      startError.value = `the worker failed: ${e.message}`;
      started?.settle(false);
    };
    setPackQuery((query: PackQuery) =>
      request<Extract<FromWorker, { type: 'pack-answer' }>>((id) => ({ type: 'pack-query', id, query })),
    );
    // The sandbox can neither fetch nor open IndexedDB: the page hands in tfjs's wasm files and the cached weights
    // (to either worker, so both work the same way).
    void (async () => {
      try {
        const [wasm, cached] = await Promise.all([wasmBinaries(WASM_URLS), readCachedWeightBytes().catch(noWeights)]);
        post(
          {
            type: 'init',
            ...(settings.backend ? { backend: settings.backend } : {}),
            wasm,
            weights: cached.entries,
            weightErrors: cached.errors,
            sandboxed: sandbox,
          },
          [...Object.values(wasm), ...cached.entries.map((w) => w.bytes)],
        );
      } catch (e) {
        phase.value = 'no-backend';
        startError.value = `the worker's files could not be read: ${(e as Error).message}`;
        started?.settle(false);
      }
    })();
  }

  const noWeights = (e: unknown) => ({
    entries: [],
    errors: [`the weight cache could not be read: ${e instanceof Error ? e.message : String(e)}`],
  });

  /** The cached weights changed: the page reads them again and hands them to the worker. */
  async function weightsChanged() {
    const cached = await readCachedWeightBytes().catch(noWeights);
    post(
      { type: 'weights-changed', weights: cached.entries, weightErrors: cached.errors },
      cached.entries.map((w) => w.bytes),
    );
  }

  /**
   * Moves the run worker into the pack sandbox (or out of it): a new worker, started again. What the old one owed is
   * answered with an error; a run going on in it is lost and says so.
   */
  function restart(sandbox: boolean, notify = false, keepQueue = false) {
    worker?.terminate();
    worker = null;
    for (const [id, resolve] of waiting) resolve({ type: 'pack-answer', id, error: 'the run worker restarted' });
    waiting.clear();
    started?.settle(false);
    // The new worker has none of the images the old one kept for live frames.
    liveUploads.clear();
    if (current.value) {
      clearInterval(clock);
      current.value = null;
      if (!keepQueue) queue.value = [];
    }
    // A Stop that ended the worker keeps the runs queued after it: they start once the new worker is ready.
    resumeQueue = keepQueue && queue.value.length > 0;
    phase.value = 'starting';
    message.value = sandbox ? 'starting TensorFlow.js in the pack sandbox…' : 'starting TensorFlow.js…';
    startWorker(sandbox);
    if (notify) for (const listener of restartListeners) listener();
  }

  /**
   * Loads one pack in the (sandboxed) worker once it is ready, and waits PACK_LOAD_MS at most for its answer. Sent
   * one at a time, so the answer, or its absence, is this pack's.
   */
  async function loadPack(p: { origin: string; source: string }, ms = PACK_LOAD_MS): Promise<PackLoad> {
    const w = worker;
    if (!w || !started) return { kind: 'gone', error: 'packs run in the worker, which is not running' };
    if (!(await started.promise) || worker !== w)
      return {
        kind: 'gone',
        error: worker === w ? `the worker did not start: ${startError.value}` : 'the run worker restarted',
      };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = await Promise.race([
      request<FromWorker>((id) => ({ type: 'load-pack', id, origin: p.origin, source: p.source })),
      new Promise<null>((r) => (timer = setTimeout(() => r(null), ms))),
    ]).finally(() => clearTimeout(timer));
    if (worker !== w) return { kind: 'gone', error: 'the run worker restarted' };
    if (answer === null) return { kind: 'timeout' };
    if (answer.type !== 'pack-loaded') return { kind: 'gone', error: 'the run worker restarted' };
    const plainObject = (v: unknown): v is Record<string, unknown> =>
      typeof v === 'object' && v !== null && !Array.isArray(v);
    const pack =
      plainObject(answer.pack) && plainObject(answer.pack.record) && Array.isArray(answer.pack.types)
        ? answer.pack
        : undefined;
    return {
      kind: 'loaded',
      reply: { ...(pack ? { pack } : {}), ...(answer.error !== undefined ? { error: String(answer.error) } : {}) },
    };
  }

  /**
   * A file the worker asked for (a tfjs model's parts): fetched here, without credentials, only from this site or a
   * site the user allowed (as the images of a run are).
   */
  /** The folders of the tfjs models the open graph and the queued runs name (a model.json and its weight files). */
  function modelFolders(): string[] {
    const folders = new Set<string>();
    for (const m of [graph.model, current.value?.model, ...queue.value.map((q) => q.model)])
      for (const n of m?.nodes ?? [])
        for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
          // The graph's own value, or a built-in type's default: never a default a pack declared (it could name '/').
          const v = n.params[name] ?? trustedDefault(n.type, name);
          if (p.kind !== 'model' || typeof v !== 'string' || !v) continue;
          try {
            folders.add(new URL('.', new URL(v, location.href)).href);
          } catch {
            // Not a URL: nothing to fetch for it.
          }
        }
    return [...folders];
  }

  async function fetchFor(id: number, url: string) {
    try {
      const origin = remoteOrigin(url, location.href);
      const u = new URL(url, location.href);
      if (!['http:', 'https:'].includes(u.protocol)) throw new Error(`${u.protocol} URLs are not fetched`);
      if (origin && !allowedFetchOrigins().includes(origin))
        throw new Error(`${origin} is not allowed: allow it when the editor asks`);
      // Only a model's own files: what the worker asks is not trusted (pack code runs there).
      if (!modelFolders().some((f) => u.href.startsWith(f))) throw new Error('not a file of a model this graph names');
      const res = await fetch(u, { credentials: 'omit' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const bytes = await res.arrayBuffer();
      post({ type: 'fetched', id, bytes }, [bytes]);
    } catch (e) {
      post({ type: 'fetched', id, error: `${url}: ${(e as Error).message}` });
    }
  }

  const setShapes = (shapes: CheckpointShapes) =>
    (checkpointShapes.value = new Map(Object.entries(shapes).map(([k, v]) => [k, new Map(v)])));

  function receive(m: FromWorker) {
    // The worker runs pack code: what it sends is data to check, not to trust.
    if (!m || typeof m !== 'object' || typeof m.type !== 'string') return;
    if ((m.type === 'pack-answer' || m.type === 'pack-loaded') && typeof m.id === 'number') {
      const resolve = waiting.get(m.id);
      waiting.delete(m.id);
      resolve?.(m);
      return;
    }
    if (m.type === 'fetch') return void fetchFor(m.id, String(m.url));
    if (m.type === 'live-done') {
      for (const listener of liveListeners) listener(m);
      return;
    }
    if (m.type === 'ready') {
      choice.value = m.choice;
      weights.value = m.weights;
      setShapes(m.shapes);
      phase.value = 'ready';
      message.value = m.errors.length ? `cached weights not used: ${m.errors.join('; ')}` : 'ready';
      slowStart.value = false;
      clearTimeout(slowTimer);
      started?.settle(true);
      if (resumeQueue) {
        resumeQueue = false;
        startNext();
      }
    } else if (m.type === 'weights') {
      weights.value = m.weights;
      setShapes(m.shapes);
      if (m.errors.length) graph.tell(`cached weights not used: ${m.errors.join('; ')}`, true);
    } else if (m.type === 'pack-disabled') {
      // Pack code could have sent this about any pack: it is shown as what the worker says, and changes nothing stored.
      graph.tell(
        `the run worker says node pack "${String(m.name).slice(0, 80)}" failed: ${String(m.problem).slice(0, 500)}`,
        true,
      );
    } else if (m.type === 'model-layers') {
      const next = new Map(modelLayers.value);
      next.set(m.source, m.layers ? new Map(m.layers) : { error: m.error ?? 'could not be loaded' });
      modelLayers.value = next;
    } else if (m.type === 'failed-to-start') {
      phase.value = 'no-backend';
      startError.value = m.message;
      started?.settle(false);
    } else if (m.id !== runId) return;
    else if (m.type === 'stopping') stopAnswered = true;
    else if (m.type === 'event') {
      const e = m.event;
      if (e.type === 'status') {
        message.value = e.message;
        if (e.message.startsWith('tiling')) tiling.value = e.message;
      } else if (e.type === 'tile') message.value = `step ${steps.value.length}: ${e.phase} tile ${e.tile}/${e.tiles}`;
      else if (e.type === 'preview') {
        output.value = e.image;
        outputStep.value = e.step;
        previewOf = runId;
      } else {
        total.value = e.total;
        const { type: _t, total: _n, ...record } = e;
        steps.value = [...steps.value, record];
        message.value = `step ${e.step}/${e.total}`;
      }
    } else if (m.type === 'cell') {
      steps.value = [];
      message.value = `sweep cell ${m.index + 1}/${m.count}: ${m.label}`;
      cell.value = { index: m.index, count: m.count, label: m.label };
    } else if (m.type === 'probe') {
      const next = new Map(previews.value);
      next.set(m.key, m.preview);
      previews.value = next;
    } else if (m.type === 'done') {
      clearInterval(clock);
      now.value = performance.now();
      const out = Object.values(m.outputs)[0];
      if (out) {
        output.value = out;
        outputStep.value = steps.value.at(-1)?.step ?? null;
      }
      failed.value = m.status === 'failed';
      graph.runDiagnostics = m.diagnostics;
      const done = Math.max(0, steps.value.at(-1)?.step ?? 0);
      result.value = {
        status: m.status,
        steps: done,
        seconds: m.ms / 1000,
        reused: m.reused,
        weights: m.weights[0]?.weights ?? '',
      };
      runWeights.value = m.weights;
      message.value =
        m.status === 'failed'
          ? `failed: ${m.error ?? 'unknown error'}`
          : `${m.status === 'cancelled' ? 'stopped' : 'done'}${steps.value.length ? ` after ${done} step${done === 1 ? '' : 's'}` : ''} in ${(m.ms / 1000).toFixed(1)} s` +
            (m.reused.hits ? ` · reused ${m.reused.hits} earlier results` : '');
      if (current.value) {
        const item: HistoryItem = {
          key: current.value.key,
          label: current.value.label,
          image: out ? markRaw(out) : null,
          status: m.status,
          seconds: m.ms / 1000,
          steps: done,
        };
        history.value = keepHistory([item, ...history.value]);
        current.value = null;
      }
      phase.value = 'ready';
      startNext();
    }
  }

  /** What this page cannot run (a training graph reads folders) and the command line that can. */
  const hostLimit = computed(() => {
    const plan = graph.compiled.plan;
    return limitOf(
      graph.model,
      registry,
      graph.fileName,
      plan ? new Set(plan.steps.flatMap((s) => s.nodes)) : null,
      PRESETS,
    );
  });

  /** Why the graph as it is cannot run, whatever else is going on. */
  const graphBlocked = computed<string | null>(() => {
    if (!graph.model.nodes.length) return 'the graph is empty';
    const ds = graph.diagnostics;
    if (hasErrors(ds)) return formatDiagnostic(ds.find((d) => d.severity === 'error')!);
    if (hostLimit.value) return hostLimit.value.reason;
    return null;
  });

  /** Why Run is disabled, or null when it is not. */
  const blocked = computed<string | null>(() => {
    if (phase.value === 'starting') return 'TensorFlow.js is starting';
    if (phase.value === 'no-backend') return `no backend: ${startError.value}`;
    if (phase.value !== 'ready') return 'a run is going on';
    return graphBlocked.value;
  });

  // The status never says "ready" while Run is disabled: it says what to fix.
  watch(
    blocked,
    (why) => {
      if (phase.value !== 'ready') return;
      if (why && (message.value === 'ready' || message.value.startsWith('cannot run:')))
        message.value = `cannot run: ${why}`;
      else if (!why && message.value.startsWith('cannot run:')) message.value = 'ready';
    },
    { immediate: true },
  );

  /** Origins a graph wants to fetch images (or models) from, that the user has not allowed yet. */
  const askOrigins = ref<string[]>([]);

  function remoteOrigins(): string[] {
    const found = new Set<string>();
    for (const n of graph.model.nodes)
      for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
        if (p.kind !== 'image' && p.kind !== 'model') continue;
        const v = n.params[name];
        // Parsed as the browser will fetch it (` //host`, `/\host`, a tab in the scheme are remote), not by a pattern.
        const origin = typeof v === 'string' ? remoteOrigin(v, location.href) : null;
        if (origin) found.add(origin);
      }
    const allowed = allowedFetchOrigins();
    return [...found].filter((o) => !allowed.includes(o));
  }

  /**
   * Asks the worker for the layers of every tfjs model the graph names that it has not described yet, so the
   * compiler knows their shapes and the inspector can offer their layers. Models on other sites wait for consent.
   */
  function describeModels() {
    if (!worker || phase.value === 'starting' || phase.value === 'no-backend') return;
    const allowed = allowedFetchOrigins();
    for (const n of graph.model.nodes)
      for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
        const v = n.params[name] ?? trustedDefault(n.type, name);
        if (p.kind !== 'model' || typeof v !== 'string' || !v || modelLayers.value.has(v) || asked.has(v)) continue;
        const origin = remoteOrigin(v, location.href);
        if (origin && !allowed.includes(origin)) continue;
        asked.add(v);
        post({ type: 'describe-model', source: v, base: location.href, size: settings.size });
      }
  }
  const asked = new Set<string>();
  watch([() => graph.model, phase], describeModels);

  /** Bumped when the allowed origins change, so `remote` is recomputed. */
  const fetchVersion = ref(0);
  /** Origins the open graph reads from that the user has not allowed (shown as a question above the canvas). */
  const remote = computed(() => (fetchVersion.value, remoteOrigins()));

  /** Allows fetching from these origins (remembered), then loads the models the graph names. */
  function allowFetch(origins: string[]) {
    localStorage.setItem(FETCH_ORIGINS, JSON.stringify([...new Set([...allowedFetchOrigins(), ...origins])]));
    fetchVersion.value++;
    describeModels();
  }

  /** The answer to the question Run asks: allowing remembers the origins and runs; refusing runs nothing. */
  function answerFetch(allow: boolean) {
    const origins = askOrigins.value;
    askOrigins.value = [];
    if (!allow) {
      message.value = `not run: the graph reads from ${origins.join(', ')}, which you did not allow`;
      return;
    }
    allowFetch(origins);
    void run();
  }

  /** A snapshot of the graph and the run settings as they are now. */
  function snapshot(runSweep = sweep.value): QueuedRun {
    const model = structuredClone(graph.model);
    for (const n of model.nodes) {
      const param = registry.get(n.type)?.roles?.optimiser?.previewEvery;
      if (param) n.params[param] = settings.previewEvery;
    }
    const key = ++queued;
    const sweeping = runSweep && sweepOf(model).sweep !== null;
    const time = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return {
      key,
      model: markRaw(model),
      size: settings.size,
      seed: settings.seed,
      sweep: sweeping,
      probe: sweeping
        ? []
        : (graph.compiled.plan?.steps.flatMap((st) =>
            st.outputs.filter((o) => o.socket !== 'Model').map((o) => o.key),
          ) ?? []),
      label: `#${key} ${graph.fileName || model.metadata.title || 'graph'} · ${settings.size} px · seed ${settings.seed}${sweeping ? ' · sweep' : ''} · ${time}`,
    };
  }

  /**
   * Run (Ctrl+Enter): runs the graph now, or, while a run is going on, queues it as it is now (its parameters
   * and settings) to run after the ones before it. Says why when the graph cannot run. `sweep: false` runs the graph
   * once even when Run would run its sweep (a lesson's slider shows its one setting).
   */
  async function run(opts: { sweep?: boolean } = {}) {
    const busy = phase.value === 'running' || phase.value === 'stopping';
    const why = busy ? graphBlocked.value : blocked.value;
    if (why) {
      if (phase.value === 'ready') message.value = `cannot run: ${why}`;
      return;
    }
    // A document never makes the browser fetch from elsewhere without the user's consent.
    const ask = remoteOrigins();
    if (ask.length) {
      askOrigins.value = ask;
      return;
    }
    queue.value = [...queue.value, snapshot(opts.sweep ?? sweep.value)];
    if (!busy) startNext();
  }

  /** Starts the first queued run, if no run is going on. */
  function startNext() {
    if (phase.value !== 'ready' || !queue.value.length) return;
    const [next, ...rest] = queue.value;
    queue.value = rest;
    // The queue is reactive: what goes to the worker must be plain data it can clone.
    void start(toRaw(next!));
  }

  async function start(job: QueuedRun) {
    // Everything the user sees changes at once, before any await: a click shows "running" immediately.
    const id = ++runId;
    current.value = job;
    const model = job.model;
    steps.value = [];
    previews.value = new Map();
    result.value = null;
    runWeights.value = [];
    failed.value = false;
    total.value = 0;
    cell.value = null;
    tiling.value = null;
    phase.value = 'running';
    message.value = queue.value.length
      ? `sending the graph to the worker (${queue.value.length} more queued)`
      : 'sending the graph to the worker';
    startedAt.value = now.value = performance.now();
    clock = setInterval(() => (now.value = performance.now()), 250);
    const uploads = await uploadsOf(model);
    // A graph with a camera runs once on the camera's picture now (without one, the worker says the camera is off).
    const frame = model.nodes.some((n) => n.type === 'camera') ? await grabFrame?.() : null;
    post(
      {
        type: 'run',
        id,
        document: serialiseDocument(model),
        size: job.size,
        seed: job.seed,
        base: location.href,
        uploads,
        probe: [...toRaw(job.probe)],
        sweep: job.sweep,
        ...(settings.tile ? { tile: settings.tile } : {}),
        ...(frame ? { frame } : {}),
      },
      frame ? [frame] : [],
    );
  }

  /** The bytes of the images a run of `model` reads that the worker cannot read itself, except those in `skip`. */
  async function uploadsOf(
    model: GraphModel,
    skip: ReadonlySet<string> = new Set(),
  ): Promise<Record<string, ArrayBuffer>> {
    const uploads: Record<string, ArrayBuffer> = {};
    for (const n of model.nodes)
      for (const v of Object.values(n.params))
        if (typeof v === 'string' && isUpload(v) && !uploads[v] && !skip.has(v)) {
          const bytes = await getUpload(v);
          if (bytes) uploads[v] = bytes;
        }
    // The worker's sandbox fetches nothing: the page fetches the other images the run reads and hands in their bytes.
    for (const source of fetchedImages(model))
      if (!uploads[source] && !skip.has(source)) {
        const bytes = await fetchImage(source);
        if (bytes) uploads[source] = bytes;
      }
    return uploads;
  }

  /** The image sources of a run of `model` that are files to fetch: its image parameters, and their values in its sweep. */
  function fetchedImages(model: GraphModel): Set<string> {
    const found = new Set<string>();
    const add = (v: unknown) => {
      if (typeof v !== 'string' || !v || isUpload(v)) return;
      try {
        if (['http:', 'https:'].includes(new URL(v, location.href).protocol)) found.add(v);
      } catch {
        // Not a URL: the worker says why it cannot read it.
      }
    };
    const imageParams = new Map<string, Set<string>>();
    for (const n of model.nodes)
      for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {}))
        if (p.kind === 'image') {
          // The graph's value or a built-in type's default: a pack's declared default is not fetched (it could name this site's files).
          add(n.params[name] ?? trustedDefault(n.type, name));
          imageParams.set(n.id, (imageParams.get(n.id) ?? new Set()).add(name));
        }
    const sweep = sweepOf(model).sweep;
    for (const axis of [...(sweep?.rows ?? []), ...(sweep?.columns ?? [])])
      for (const [path, v] of Object.entries(axis.set)) {
        const [id, param] = path.split('.');
        if (id && param && imageParams.get(id)?.has(param)) add(v);
      }
    return found;
  }

  /** An image's bytes from this site, or from a site the user allowed (the run asked first); null when not fetched. */
  async function fetchImage(source: string): Promise<ArrayBuffer | null> {
    const origin = remoteOrigin(source, location.href);
    if (origin && !allowedFetchOrigins().includes(origin)) return null;
    try {
      const res = await fetch(new URL(source, location.href), origin ? { credentials: 'omit' } : {});
      return res.ok ? await res.arrayBuffer() : null;
    } catch {
      return null;
    }
  }
  /** Images already sent with a live frame: the worker keeps them, so later frames do not carry them again. */
  const liveUploads = new Set<string>();

  /**
   * One live camera frame (the camera store's loop): the graph as it is now on `frame`, outside the queue and the
   * history; answered by 'live-done' with the returned id. Returns null when the worker is not free for it.
   */
  async function postFrame(frame: ImageBitmap, model: GraphModel, size: number): Promise<number | null> {
    if (!worker || phase.value !== 'ready') return null;
    const uploads = await uploadsOf(model, liveUploads);
    for (const k of Object.keys(uploads)) liveUploads.add(k);
    const id = --liveId;
    post(
      {
        type: 'run',
        id,
        document: serialiseDocument(model),
        size,
        seed: settings.seed,
        base: location.href,
        uploads,
        probe: [],
        sweep: false,
        frame,
        live: true,
      },
      [frame],
    );
    return id;
  }

  /** Keeps a picture (a frozen camera frame) in the history strip, pinned, and shows it as the pinned image. */
  function keepPinned(image: RGBAImage, label: string) {
    const key = ++queued;
    history.value = keepHistory([
      { key, label: `#${key} ${label}`, image: markRaw(image), status: 'done', seconds: 0, steps: 0 },
      ...history.value,
    ]);
    pinHistory(key);
  }

  /** Moves a queued run earlier (-1) or later (+1). */
  function moveQueued(key: number, by: -1 | 1) {
    const list = [...queue.value];
    const i = list.findIndex((q) => q.key === key);
    const j = i + by;
    if (i < 0 || j < 0 || j >= list.length) return;
    [list[i], list[j]] = [list[j]!, list[i]!];
    queue.value = list;
  }

  const cancelQueued = (key: number) => (queue.value = queue.value.filter((q) => q.key !== key));

  /** Shows a finished run's picture in the output again. */
  function showHistory(key: number) {
    const h = history.value.find((x) => x.key === key);
    if (h?.image) output.value = h.image;
  }

  /** Pins a finished run for comparison (the output's wipe), and keeps it in the history. */
  function pinHistory(key: number) {
    const h = history.value.find((x) => x.key === key);
    if (!h?.image) return;
    pinned.value = { image: h.image, label: h.label };
    history.value = history.value.map((x) => (x.key === key ? { ...x, pinned: true } : x));
  }

  function stop() {
    if (phase.value !== 'running') return;
    phase.value = 'stopping';
    message.value = 'stopping after this step';
    stopAnswered = false;
    post({ type: 'stop', id: runId });
    const id = runId;
    const w = worker;
    // A compute that never yields never reads the stop: unanswered after STOP_GRACE_MS, the worker is ended and a new
    // one starts. A worker that answered ends the run after the step it is in (a long step is not cut short).
    setTimeout(() => {
      if (stopAnswered || phase.value !== 'stopping' || runId !== id || worker !== w) return;
      clearInterval(clock);
      const job = current.value;
      // The history keeps the last picture the run showed, as a Stop the worker answers does.
      const image = previewOf === id && output.value ? markRaw(output.value) : null;
      if (job)
        history.value = keepHistory([
          {
            key: job.key,
            label: job.label,
            image,
            status: 'cancelled',
            seconds: (performance.now() - startedAt.value) / 1000,
            steps: lastStep.value,
          },
          ...history.value,
        ]);
      graph.tell(
        `the run did not stop within ${STOP_GRACE_MS / 1000} s, so its worker was ended and a new one started (a node that never yields cannot be stopped otherwise)`,
        true,
      );
      restart(sandboxed.value, true, true);
    }, STOP_GRACE_MS);
  }

  /** Starts a new worker with packs off for this page (the offer when the sandbox is slow or fails to start; `?nopacks`). */
  function startWithoutPacks() {
    packsOff.value = true;
    slowStart.value = false;
    restart(false, true);
  }

  function pin() {
    if (output.value)
      pinned.value = { image: output.value, label: `pinned (${graph.fileName}, step ${outputStep.value ?? '?'})` };
  }

  const elapsed = computed(() => (phase.value === 'starting' ? 0 : Math.max(0, now.value - startedAt.value) / 1000));
  const lastStep = computed(() => steps.value.at(-1)?.step ?? 0);
  const stepsPerSecond = computed(() => (lastStep.value > 0 && elapsed.value > 0 ? lastStep.value / elapsed.value : 0));
  const remaining = computed(() =>
    stepsPerSecond.value > 0 && phase.value === 'running'
      ? Math.max(0, total.value - lastStep.value) / stepsPerSecond.value
      : null,
  );
  const progress = computed(() => (total.value ? lastStep.value / total.value : 0));

  return {
    phase,
    choice,
    startError,
    cell,
    sweep,
    weights,
    runWeights,
    steps,
    total,
    output,
    outputStep,
    pinned,
    previews,
    message,
    tiling,
    failed,
    result,
    blocked,
    elapsed,
    stepsPerSecond,
    remaining,
    progress,
    lastStep,
    askOrigins,
    answerFetch,
    remote,
    allowFetch,
    loadPack,
    /** A new worker, in the pack sandbox or not (the plugins store: a pack it no longer wants may have changed the old one for good). */
    restartWorker: (sandbox: boolean) => {
      if (worker) restart(sandbox);
    },
    /** Whether a worker was started (a page whose backend failed has none). */
    hasWorker: () => worker !== null,
    sandboxed,
    packsOff,
    slowStart,
    startWithoutPacks,
    /** The sandbox is slow to start or failed: offer to start without packs. */
    offerNoPacks: computed(
      () => sandboxed.value && !packsOff.value && (slowStart.value || phase.value === 'no-backend'),
    ),
    onRestart: (listener: () => void) => void restartListeners.add(listener),
    queue,
    history,
    current,
    graphBlocked,
    hostLimit,
    moveQueued,
    cancelQueued,
    showHistory,
    pinHistory,
    init,
    run,
    stop,
    pin,
    unpin: () => (pinned.value = null),
    weightsChanged,
    postFrame,
    keepPinned,
    onLiveFrame: (listener: (m: Extract<FromWorker, { type: 'live-done' }>) => void) =>
      void liveListeners.add(listener),
    provideFrames: (grab: () => Promise<ImageBitmap | null>) => void (grabFrame = grab),
  };
});
