import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef, watch } from 'vue';
import { formatDiagnostic, hasErrors } from '../../graph/diagnostics';
import { serialiseDocument } from '../../graph/document';
import type { GraphModel } from '../../graph/model';
import { sourceNodes } from '../../graph/edit';
import { sweepOf } from '../../graph/sweep';
import type { RGBAImage } from '../../ops/image';
import type { Preview } from '../../ops/preview';
import type { BackendChoice } from '../../runtime/backend';
import type { StepRecord } from '../../runtime/executor';
import type { CheckpointShapes, FromWorker } from '../../web/protocol';
import { storedPacks } from '../../web/pack-store';
import { modelFolders, runUploads, unallowedOrigins } from '../../web/run-sources';
import { remoteOrigin } from '../../web/source-origin';
import { allowedFetchOrigins, allowFetchOrigins, WorkerClient, type PackLoad } from '../../web/worker-client';
import { checkpointShapes, modelLayers, registry, setPackQuery, trustedDefault } from '../registry';
import { hostLimit as limitOf } from '../host-limits';
import { useGraphStore } from './graph';
import { useHistoryStore } from './history';
import { useQueueStore, type QueuedRun } from './queue';
import { useSettingsStore } from './settings';

export { PACK_LOAD_MS, type PackLoad } from '../../web/worker-client';
export { keepHistory, type HistoryItem } from './history';
export type { QueuedRun } from './queue';

/** The bundled presets' file names (in presets/ of a clone, where the command line finds them). */
const PRESETS = Object.keys(import.meta.glob('../../../presets/*.json')).map((p) => p.slice(p.lastIndexOf('/') + 1));

export type RunPhase = 'starting' | 'ready' | 'running' | 'stopping' | 'no-backend';

/** A Stop the worker has not answered within this long ends the worker (a compute that never yields cannot be stopped otherwise). */
export const STOP_GRACE_MS = 1000;
/** A sandboxed worker not ready after this long: the run bar offers to start without packs. */
export const SLOW_START_MS = 20_000;

type LiveDone = Extract<FromWorker, { type: 'live-done' }>;
type Done = Extract<FromWorker, { type: 'done' }>;

/** What the run bar, the output and the panels show: the worker's state, the run's progress and its pictures. */
function runState() {
  return {
    phase: ref<RunPhase>('starting'),
    choice: ref<BackendChoice | null>(null),
    startError: ref<string | null>(null),
    weights: ref<string[]>([]),
    steps: shallowRef<StepRecord[]>([]),
    total: ref(0),
    output: shallowRef<RGBAImage | null>(null),
    outputStep: ref<number | null>(null),
    pinned: shallowRef<{ image: RGBAImage; label: string } | null>(null),
    previews: shallowRef(new Map<string, Preview>()),
    message: ref('starting TensorFlow.js…'),
    /** How the last run was tiled ("tiling 2048x2048 into 36 tiles ..."), or null when it ran whole. */
    tiling: ref<string | null>(null),
    failed: ref(false),
    result: ref<{
      status: string;
      steps: number;
      seconds: number;
      reused: { hits: number; misses: number };
      weights: string;
    } | null>(null),
    /** The weights each network of the last run used (the 'done' message's lines; "random (seed 0); no weights named ..."). */
    runWeights: shallowRef<{ nodes: string[]; weights: string }[]>([]),
    startedAt: ref(0),
    now: ref(0),
    /** Where the run going on waits at its pause gate (the queue's Pause), or null while it runs. */
    paused: ref<{ step: number; total: number } | null>(null),
    /** Time the run going on spent paused (ms), and when its current pause began: not counted as elapsed. */
    pausedMs: ref(0),
    pausedAt: ref<number | null>(null),
    /** The sweep cell running, when a sweep runs. */
    cell: ref<{ index: number; count: number; label: string } | null>(null),
    /** Whether Run runs the graph's sweep (its lesson grid) or the graph once. */
    sweep: ref(true),
    /** Whether the worker is the sandboxed one. */
    sandboxed: ref(false),
    /** Packs are off for this page (`?nopacks`, or the user chose to start without them): the worker is a plain one. */
    packsOff: ref(typeof location !== 'undefined' && new URLSearchParams(location.search).has('nopacks')),
    /** The sandboxed worker has not said it is ready for SLOW_START_MS (or failed): the run bar offers to start without packs. */
    slowStart: ref(false),
    /** Origins a graph wants to fetch images (or models) from, that the user has not allowed yet. */
    askOrigins: ref<string[]>([]),
    /** Bumped when the allowed origins change, so `remote` is recomputed. */
    fetchVersion: ref(0),
  };
}

/** The run store's parts: its state, the worker client, the stores it uses, and the plain bookkeeping of runs. */
interface Run {
  s: ReturnType<typeof runState>;
  client: WorkerClient;
  graph: ReturnType<typeof useGraphStore>;
  settings: ReturnType<typeof useSettingsStore>;
  queue: ReturnType<typeof useQueueStore>;
  history: ReturnType<typeof useHistoryStore>;
  /** The run going on (ids the worker echoes), live camera frames' ids (negative), the run the output previews. */
  runId: number;
  liveId: number;
  previewOf: number;
  /** Whether the worker answered the last Stop. */
  stopAnswered: boolean;
  /** Whether the queue goes on when the next worker is ready (after a Stop that had to end the worker). */
  resumeQueue: boolean;
  clock: ReturnType<typeof setInterval> | undefined;
  slowTimer: ReturnType<typeof setTimeout> | undefined;
  /** Who hears that the run store replaced the worker on its own (a Stop not answered, packs turned off): the plugins store loads its packs again. */
  restartListeners: Set<() => void>;
  liveListeners: Set<(m: LiveDone) => void>;
  /** Grabs the camera's picture for a run of a graph with a camera node (the camera store provides it). */
  grabFrame: (() => Promise<ImageBitmap | null>) | null;
  /** Images already sent with a live frame: the worker keeps them, so later frames do not carry them again. */
  liveUploads: Set<string>;
  /** Models the worker was asked to describe. */
  asked: Set<string>;
  /** Starts the first queued run, if no run is going on. */
  startNext: () => void;
  /** What a run waits for before it is sent (the weights store: downloads of its networks), told how to say so. */
  beforeRun: Set<BeforeRun>;
}

/** A wait before a run is sent: resolves when the run can go; `say` puts what it waits for in the status line. */
export type BeforeRun = (model: GraphModel, say: (text: string) => void) => Promise<void>;

/** Starts the worker, in the pack sandbox or not (the client hands it what it cannot read itself). */
function startWorker(r: Run, sandbox: boolean) {
  r.s.sandboxed.value = sandbox;
  r.s.slowStart.value = false;
  clearTimeout(r.slowTimer);
  if (sandbox)
    r.slowTimer = setTimeout(() => r.s.phase.value === 'starting' && (r.s.slowStart.value = true), SLOW_START_MS);
  r.client.start({ sandbox, backend: r.settings.backend ?? undefined, threads: r.settings.threads });
  setPackQuery((query) => r.client.packQuery(query));
}

/**
 * Moves the run worker into the pack sandbox (or out of it): a new worker, started again. What the old one owed is
 * answered with an error; a run going on in it is lost and says so.
 */
function restart(r: Run, sandbox: boolean, notify = false, keepQueue = false) {
  r.client.terminate();
  // The new worker has none of the images the old one kept for live frames.
  r.liveUploads.clear();
  r.s.paused.value = null;
  r.s.pausedAt.value = null;
  if (r.queue.current) {
    clearInterval(r.clock);
    r.queue.current = null;
    if (!keepQueue) r.queue.clear();
  }
  // A Stop that ended the worker keeps the runs queued after it: they start once the new worker is ready.
  r.resumeQueue = keepQueue && r.queue.items.length > 0;
  r.s.phase.value = 'starting';
  r.s.message.value = sandbox ? 'starting TensorFlow.js in the pack sandbox…' : 'starting TensorFlow.js…';
  startWorker(r, sandbox);
  if (notify) for (const listener of r.restartListeners) listener();
}

const setShapes = (shapes: CheckpointShapes) =>
  (checkpointShapes.value = new Map(Object.entries(shapes).map(([k, v]) => [k, new Map(v)])));

/** A message about the worker itself (not about a run): ready, weights, packs, models, a failed start. Returns false for a run's message. */
function onWorkerMessage(r: Run, m: FromWorker): boolean {
  const s = r.s;
  if (m.type === 'live-done') for (const listener of r.liveListeners) listener(m);
  else if (m.type === 'ready') {
    s.choice.value = m.choice;
    s.weights.value = m.weights;
    setShapes(m.shapes);
    s.phase.value = 'ready';
    s.message.value = m.errors.length ? `cached weights not used: ${m.errors.join('; ')}` : 'ready';
    s.slowStart.value = false;
    clearTimeout(r.slowTimer);
    r.client.settle(true);
    if (r.resumeQueue) {
      r.resumeQueue = false;
      r.startNext();
    }
  } else if (m.type === 'weights') {
    s.weights.value = m.weights;
    setShapes(m.shapes);
    if (m.errors.length) r.graph.tell(`cached weights not used: ${m.errors.join('; ')}`, true);
  } else if (m.type === 'pack-disabled') {
    // Pack code could have sent this about any pack: it is shown as what the worker says, and changes nothing stored.
    r.graph.tell(
      `the run worker says node pack "${String(m.name).slice(0, 80)}" failed: ${String(m.problem).slice(0, 500)}`,
      true,
    );
  } else if (m.type === 'model-layers') {
    const next = new Map(modelLayers.value);
    next.set(m.source, m.layers ? new Map(m.layers) : { error: m.error ?? 'could not be loaded' });
    modelLayers.value = next;
  } else if (m.type === 'failed-to-start') {
    s.phase.value = 'no-backend';
    s.startError.value = m.message;
    r.client.settle(false);
  } else return false;
  return true;
}

/** A message about the run going on: stopping, its events (status, tiles, previews, steps), sweep cells, probes, done. */
function onRunMessage(r: Run, m: FromWorker) {
  const s = r.s;
  if (!('id' in m) || m.id !== r.runId) return;
  if (m.type === 'stopping') r.stopAnswered = true;
  else if (m.type === 'event') {
    const e = m.event;
    if (e.type === 'status') {
      s.message.value = e.message;
      if (e.message.startsWith('tiling')) s.tiling.value = e.message;
    } else if (e.type === 'tile')
      s.message.value = `step ${s.steps.value.length}: ${e.phase} tile ${e.tile}/${e.tiles}`;
    else if (e.type === 'preview') {
      s.output.value = e.image;
      s.outputStep.value = e.step;
      r.previewOf = r.runId;
    } else if (e.type === 'paused' || e.type === 'resumed') onPauseEvent(r, e);
    else {
      s.total.value = e.total;
      const { type: _t, total: _n, ...record } = e;
      s.steps.value = [...s.steps.value, record];
      s.message.value = `step ${e.step}/${e.total}`;
    }
  } else if (m.type === 'cell') {
    s.steps.value = [];
    s.message.value = `sweep cell ${m.index + 1}/${m.count}: ${m.label}`;
    s.cell.value = { index: m.index, count: m.count, label: m.label };
  } else if (m.type === 'probe') {
    const next = new Map(s.previews.value);
    next.set(m.key, m.preview);
    s.previews.value = next;
  } else if (m.type === 'done') finishRun(r, m);
}

/** The run going on waits at its pause gate, or goes on from there: the run bar says so, and its clock stops meanwhile. */
function onPauseEvent(r: Run, e: { type: 'paused' | 'resumed'; step: number; total: number }) {
  const s = r.s;
  if (e.type === 'paused') {
    s.paused.value = { step: e.step, total: e.total };
    s.pausedAt.value ??= performance.now();
    if (s.phase.value === 'running')
      s.message.value = `paused at step ${e.step} of ${e.total} (Resume in the queue panel)`;
    return;
  }
  s.paused.value = null;
  endPause(s);
  if (s.phase.value === 'running') s.message.value = `resumed at step ${e.step} of ${e.total}`;
}

/** Counts a pause that ended as time not elapsed. */
function endPause(s: Run['s']) {
  if (s.pausedAt.value !== null) s.pausedMs.value += performance.now() - s.pausedAt.value;
  s.pausedAt.value = null;
}

/** Pause and Resume in the queue panel: the run going on (if one is) pauses between steps, or goes on. */
function pauseRun(r: Run, pause: boolean) {
  if (!r.queue.current || (r.s.phase.value !== 'running' && r.s.phase.value !== 'stopping')) return;
  r.client.post({ type: pause ? 'pause' : 'resume', id: r.runId });
  if (pause && r.s.phase.value === 'running' && !r.s.paused.value) r.s.message.value = 'pausing after this step';
}

/** The run ended: its picture, status and report shown, kept in the history, and the next queued run started. */
function finishRun(r: Run, m: Done) {
  const s = r.s;
  clearInterval(r.clock);
  s.now.value = performance.now();
  s.paused.value = null;
  endPause(s);
  const out = Object.values(m.outputs)[0];
  if (out) {
    s.output.value = out;
    s.outputStep.value = s.steps.value.at(-1)?.step ?? null;
  }
  // 'invalid' (the graph or the request is wrong: nothing ran) is not 'failed' (the run broke), but neither is done.
  s.failed.value = m.status === 'failed' || m.status === 'invalid';
  r.graph.runDiagnostics = m.diagnostics;
  const done = Math.max(0, s.steps.value.at(-1)?.step ?? 0);
  const seconds = m.ms / 1000;
  s.result.value = { status: m.status, steps: done, seconds, reused: m.reused, weights: m.weights[0]?.weights ?? '' };
  s.runWeights.value = m.weights;
  s.message.value =
    m.status === 'failed'
      ? `failed: ${m.error ?? 'unknown error'}`
      : m.status === 'invalid'
        ? `cannot run: ${m.error ?? 'the graph or the run settings are wrong'}`
        : `${m.status === 'cancelled' ? 'stopped' : 'done'}${done > 0 ? ` after ${done} step${done === 1 ? '' : 's'}` : ''} in ${seconds.toFixed(1)} s` +
          // A graph without an optimiser has no steps: it runs once ("done after 0 steps" read as if nothing ran).
          (m.status === 'done' && done === 0 && !s.total.value && !r.queue.current?.sweep ? ' (one pass)' : '') +
          (m.reused.hits ? ` · reused ${m.reused.hits} earlier results` : '');
  const job = r.queue.current;
  if (job) {
    r.history.add({ key: job.key, label: job.label, image: out ?? null, status: m.status, seconds, steps: done });
    r.queue.current = null;
  }
  s.phase.value = 'ready';
  r.startNext();
  if (r.queue.paused && r.queue.items.length)
    s.message.value += ` · queue paused, ${r.queue.items.length} waiting (Resume in the queue panel)`;
}

/**
 * Asks the worker for the layers of every tfjs model the graph names that it has not described yet, so the
 * compiler knows their shapes and the inspector can offer their layers. Models on other sites wait for consent.
 */
function describeModels(r: Run) {
  if (!r.client.running || r.s.phase.value === 'starting' || r.s.phase.value === 'no-backend') return;
  const allowed = allowedFetchOrigins();
  for (const n of r.graph.model.nodes)
    for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
      const v = n.params[name] ?? trustedDefault(n.type, name);
      if (p.kind !== 'model' || typeof v !== 'string' || !v || modelLayers.value.has(v) || r.asked.has(v)) continue;
      const origin = remoteOrigin(v, location.href);
      if (origin && !allowed.includes(origin)) continue;
      r.asked.add(v);
      r.client.post({ type: 'describe-model', source: v, base: location.href, size: r.settings.size });
    }
}

/** A snapshot of the graph and the run settings as they are now. */
function snapshot(r: Run, runSweep: boolean): QueuedRun {
  const { graph, settings } = r;
  const model = structuredClone(graph.model);
  for (const n of model.nodes) {
    const param = registry.get(n.type)?.roles?.optimiser?.previewEvery;
    if (param) n.params[param] = settings.previewEvery;
  }
  const key = r.queue.nextKey();
  const sweeping = runSweep && sweepOf(model).sweep !== null;
  const time = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const probe = graph.compiled.plan?.steps.flatMap((st) =>
    st.outputs.filter((o) => o.socket !== 'Model').map((o) => o.key),
  );
  return {
    key,
    model: markRaw(model),
    size: settings.size,
    seed: settings.seed,
    sweep: sweeping,
    probe: sweeping ? [] : (probe ?? []),
    label: `#${key} ${graph.fileName || model.metadata.title || 'graph'} · ${settings.size} px · seed ${settings.seed}${sweeping ? ' · sweep' : ''} · ${time}`,
  };
}

/**
 * Waits for what the run needs before it is sent (a network still downloading: it neither runs on random weights nor
 * has its networks replaced under it), saying so in the status line. A Stop meanwhile ends the run there (cancelled,
 * nothing was sent); false then, or when the worker was replaced meanwhile.
 */
async function waitBeforeRun(r: Run, id: number, model: GraphModel): Promise<boolean> {
  const s = r.s;
  if (!r.beforeRun.size) return true;
  const going = () => r.runId === id && s.phase.value === 'running';
  let unwatch = () => {};
  const stopped = new Promise<void>((resolve) => (unwatch = watch(s.phase, () => !going() && resolve())));
  try {
    for (const wait of r.beforeRun) {
      await Promise.race([wait(model, (text) => going() && (s.message.value = text)), stopped]);
      if (!going()) break;
    }
  } finally {
    unwatch();
  }
  if (going()) return true;
  if (r.runId === id && s.phase.value === 'stopping')
    finishRun(r, {
      type: 'done',
      id,
      status: 'cancelled',
      diagnostics: [],
      outputs: {},
      weights: [],
      reused: { hits: 0, misses: 0 },
      ms: performance.now() - s.startedAt.value,
    });
  return false;
}

/** Sends a queued run to the worker. Everything the user sees changes at once, before any await: a click shows "running" immediately. */
async function startRun(r: Run, job: QueuedRun) {
  const s = r.s;
  const id = ++r.runId;
  r.queue.current = job;
  s.steps.value = [];
  s.previews.value = new Map();
  s.result.value = null;
  s.runWeights.value = [];
  s.failed.value = false;
  s.total.value = 0;
  s.cell.value = null;
  s.tiling.value = null;
  s.phase.value = 'running';
  s.paused.value = null;
  s.pausedAt.value = null;
  s.pausedMs.value = 0;
  const more = r.queue.items.length;
  s.message.value = more ? `sending the graph to the worker (${more} more queued)` : 'sending the graph to the worker';
  s.startedAt.value = s.now.value = performance.now();
  r.clock = setInterval(() => (s.now.value = performance.now()), 250);
  const model = job.model;
  if (!(await waitBeforeRun(r, id, model))) return;
  const uploads = await runUploads(model, registry, trustedDefault);
  // A graph with a camera runs once on the camera's picture now (without one, the worker says the camera is off).
  const frame = sourceNodes(model, registry, 'camera').length ? await r.grabFrame?.() : null;
  const { size, seed, sweep } = job;
  const tile = r.settings.tile;
  r.client.post(
    {
      type: 'run',
      id,
      document: serialiseDocument(model),
      base: location.href,
      uploads,
      request: { size, seed, probe: [...job.probe], sweep, ...(tile ? { tiling: { extent: tile } } : {}) },
      ...(frame ? { frame } : {}),
    },
    frame ? [frame] : [],
  );
  // Paused while it was being sent: it holds at its first step.
  if (r.queue.paused && r.runId === id) r.client.post({ type: 'pause', id });
}

/**
 * Stop: the worker stops after the step it is in. A compute that never yields never reads the stop: unanswered
 * after STOP_GRACE_MS, the worker is ended and a new one starts (the queued runs go on there).
 */
function stopRun(r: Run, lastStep: () => number) {
  const s = r.s;
  if (s.phase.value !== 'running') return;
  s.phase.value = 'stopping';
  s.message.value = 'stopping after this step';
  r.stopAnswered = false;
  r.client.post({ type: 'stop', id: r.runId });
  const id = r.runId;
  const w = r.client.identity;
  setTimeout(() => {
    if (r.stopAnswered || s.phase.value !== 'stopping' || r.runId !== id || !r.client.isCurrent(w)) return;
    clearInterval(r.clock);
    const job = r.queue.current;
    // The history keeps the last picture the run showed, as a Stop the worker answers does.
    const image = r.previewOf === id && s.output.value ? s.output.value : null;
    const seconds = (performance.now() - s.startedAt.value) / 1000;
    if (job) r.history.add({ key: job.key, label: job.label, image, status: 'cancelled', seconds, steps: lastStep() });
    r.graph.tell(
      `the run did not stop within ${STOP_GRACE_MS / 1000} s, so its worker was ended and a new one started (a node that never yields cannot be stopped otherwise)`,
      true,
    );
    restart(r, s.sandboxed.value, true, true);
  }, STOP_GRACE_MS);
}

/** Why Run is disabled: what this page cannot run, what is wrong with the graph, what the worker is doing. */
function blockers(r: Run) {
  const { graph, s } = r;
  /** What this page cannot run (a training graph reads folders) and the command line that can. */
  const hostLimit = computed(() => {
    const plan = graph.compiled.plan;
    const planned = plan ? new Set(plan.steps.flatMap((st) => st.nodes)) : null;
    return limitOf(graph.model, registry, graph.fileName, planned, PRESETS);
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
    // What the person must fix comes before what they only wait for.
    if (s.phase.value === 'starting') return graphBlocked.value ?? 'TensorFlow.js is starting';
    if (s.phase.value === 'no-backend') return `no backend: ${s.startError.value}`;
    if (s.phase.value !== 'ready') return 'a run is going on';
    return graphBlocked.value;
  });
  // The status never says "ready" while Run is disabled: it says what to fix.
  // The phase too: a reason said while TensorFlow.js started is the same string once it is ready.
  watch(
    [blocked, s.phase],
    ([why]) => {
      if (s.phase.value !== 'ready') return;
      if (why && (s.message.value === 'ready' || s.message.value.startsWith('cannot run:')))
        s.message.value = `cannot run: ${why}`;
      else if (!why && s.message.value.startsWith('cannot run:')) s.message.value = 'ready';
    },
    { immediate: true },
  );
  return { hostLimit, graphBlocked, blocked };
}

/** Elapsed time, steps per second, what remains, and the fraction done, of the run going on. */
function progressOf(s: Run['s']) {
  // Time paused is not elapsed: steps per second and the time left stay the run's own.
  const elapsed = computed(() => {
    if (s.phase.value === 'starting') return 0;
    const pausing = s.pausedAt.value === null ? 0 : Math.max(0, s.now.value - s.pausedAt.value);
    return Math.max(0, s.now.value - s.startedAt.value - s.pausedMs.value - pausing) / 1000;
  });
  const lastStep = computed(() => s.steps.value.at(-1)?.step ?? 0);
  const stepsPerSecond = computed(() => (lastStep.value > 0 && elapsed.value > 0 ? lastStep.value / elapsed.value : 0));
  const remaining = computed(() =>
    stepsPerSecond.value > 0 && s.phase.value === 'running'
      ? Math.max(0, s.total.value - lastStep.value) / stepsPerSecond.value
      : null,
  );
  const progress = computed(() => (s.total.value ? lastStep.value / s.total.value : 0));
  return { elapsed, lastStep, stepsPerSecond, remaining, progress };
}

/** The run store's parts, around its state. */
function createRun(s: Run['s']): Run {
  const r: Run = {
    s,
    graph: useGraphStore(),
    settings: useSettingsStore(),
    queue: useQueueStore(),
    history: useHistoryStore(),
    client: new WorkerClient({
      message: (m) => onWorkerMessage(r, m) || onRunMessage(r, m),
      failed: (message) => {
        s.phase.value = 'no-backend';
        s.startError.value = message;
      },
      modelFolders: () =>
        modelFolders(
          [r.graph.model, r.queue.current?.model, ...r.queue.items.map((q) => q.model)],
          registry,
          trustedDefault,
        ),
    }),
    runId: 0,
    liveId: 0,
    previewOf: 0,
    stopAnswered: false,
    resumeQueue: false,
    clock: undefined,
    slowTimer: undefined,
    restartListeners: new Set(),
    liveListeners: new Set(),
    grabFrame: null,
    liveUploads: new Set(),
    asked: new Set(),
    beforeRun: new Set(),
    startNext: () => {
      const next = s.phase.value === 'ready' ? r.queue.take() : null;
      if (next) void startRun(r, next);
    },
  };
  // Pause (the queue panel) pauses the run going on too; Resume lets it go on, or starts the next waiting run when
  // none goes on.
  r.queue.onPause(() => pauseRun(r, true));
  r.queue.onResume(() => {
    pauseRun(r, false);
    r.startNext();
  });
  return r;
}

/** Allows fetching from these origins (remembered), then loads the models the graph names. */
function allowFetch(r: Run, origins: string[]) {
  allowFetchOrigins(origins);
  r.s.fetchVersion.value++;
  describeModels(r);
}

/**
 * Run (Ctrl+Enter): runs the graph now, or, while a run is going on, queues it as it is now (its parameters
 * and settings) to run after the ones before it. Says why when the graph cannot run. `sweep: false` runs the graph
 * once even when Run would run its sweep (a lesson's slider shows its one setting).
 */
async function requestRun(r: Run, b: ReturnType<typeof blockers>, opts: { sweep?: boolean } = {}) {
  const s = r.s;
  const busy = s.phase.value === 'running' || s.phase.value === 'stopping';
  const why = busy ? b.graphBlocked.value : b.blocked.value;
  if (why) {
    if (s.phase.value === 'ready') s.message.value = `cannot run: ${why}`;
    return;
  }
  // A document never makes the browser fetch from elsewhere without the user's consent.
  const ask = unallowedOrigins(r.graph.model, registry);
  if (ask.length) return void (s.askOrigins.value = ask);
  r.queue.add(snapshot(r, opts.sweep ?? s.sweep.value));
  if (!busy) r.startNext();
  // A paused queue holds even a run asked for while none goes on: say so, or Run would seem to do nothing.
  if (!busy && r.queue.paused)
    s.message.value = `queued: the queue is paused (${r.queue.items.length} waiting; Resume in the queue panel)`;
}

/** The answer to the question Run asks: allowing remembers the origins and runs; refusing runs nothing. */
function answerFetch(r: Run, b: ReturnType<typeof blockers>, allow: boolean) {
  const s = r.s;
  const origins = s.askOrigins.value;
  s.askOrigins.value = [];
  if (!allow)
    return void (s.message.value = `not run: the graph reads from ${origins.join(', ')}, which you did not allow`);
  allowFetch(r, origins);
  void requestRun(r, b);
}

/**
 * One live camera frame (the camera store's loop): the graph as it is now on `frame`, outside the queue and the
 * history; answered by 'live-done' with the returned id. Returns null when the worker is not free for it.
 */
async function postFrame(r: Run, frame: ImageBitmap, model: GraphModel, size: number): Promise<number | null> {
  const s = r.s;
  if (!r.client.running || s.phase.value !== 'ready') return null;
  const uploads = await runUploads(model, registry, trustedDefault, r.liveUploads);
  for (const k of Object.keys(uploads)) r.liveUploads.add(k);
  const id = --r.liveId;
  const document = serialiseDocument(model);
  const request = { size, seed: r.settings.seed };
  r.client.post({ type: 'run', id, document, base: location.href, uploads, request, frame, live: true }, [frame]);
  return id;
}

/** One run's state: the worker, the backend it chose, progress, the loss history, the output and previews. */
export const useRunStore = defineStore('run', () => {
  const s = runState();
  const r = createRun(s);
  const { queue, history } = r;
  const b = blockers(r);
  const { hostLimit, graphBlocked, blocked } = b;
  const progress = progressOf(s);
  watch([() => r.graph.model, s.phase], () => describeModels(r));
  /** Origins the open graph reads from that the user has not allowed (shown as a question above the canvas). */
  const remote = computed(() => (s.fetchVersion.value, unallowedOrigins(r.graph.model, registry)));

  /** Pins a finished run for comparison (the output's wipe), and keeps it in the history. */
  function pinHistory(key: number) {
    const h = history.pin(key);
    if (h?.image) s.pinned.value = { image: h.image, label: h.label };
  }

  return {
    ...s,
    ...progress,
    blocked,
    hostLimit,
    graphBlocked,
    remote,
    allowFetch: (origins: string[]) => allowFetch(r, origins),
    answerFetch: (allow: boolean) => answerFetch(r, b, allow),
    loadPack: (p: { origin: string; source: string }, ms?: number): Promise<PackLoad> =>
      r.client.loadPack(p, () => s.startError.value, ms),
    /** A new worker, in the pack sandbox or not (the plugins store: a pack it no longer wants may have changed the old one for good). */
    restartWorker: (sandbox: boolean) => {
      if (r.client.running) restart(r, sandbox);
    },
    /** Whether a worker was started (a page whose backend failed has none). */
    hasWorker: () => r.client.running,
    /** Starts a new worker with packs off for this page (the offer when the sandbox is slow or fails to start; `?nopacks`). */
    startWithoutPacks: () => {
      s.packsOff.value = true;
      s.slowStart.value = false;
      restart(r, false, true);
    },
    /** The sandbox is slow to start or failed: offer to start without packs. */
    offerNoPacks: computed(
      () => s.sandboxed.value && !s.packsOff.value && (s.slowStart.value || s.phase.value === 'no-backend'),
    ),
    onRestart: (listener: () => void) => void r.restartListeners.add(listener),
    // The queue and the history are stores of their own (queue.ts, history.ts); these read and act on them.
    queue: computed(() => queue.items),
    history: computed(() => history.items),
    current: computed(() => queue.current),
    moveQueued: queue.move,
    cancelQueued: queue.cancel,
    /** Shows a finished run's picture in the output again. */
    showHistory: (key: number) => {
      const image = history.find(key)?.image;
      if (image) s.output.value = image;
    },
    pinHistory,
    init: () => {
      if (r.client.running) return;
      if (r.settings.backendError) {
        s.phase.value = 'no-backend';
        s.startError.value = r.settings.backendError;
        return;
      }
      startWorker(r, !s.packsOff.value && storedPacks().some((p) => p.enabled));
    },
    run: (opts?: { sweep?: boolean }) => requestRun(r, b, opts),
    stop: () => stopRun(r, () => progress.lastStep.value),
    pin: () => {
      if (s.output.value)
        s.pinned.value = {
          image: s.output.value,
          label: `pinned (${r.graph.fileName}, step ${s.outputStep.value ?? '?'})`,
        };
    },
    unpin: () => (s.pinned.value = null),
    weightsChanged: () => r.client.weightsChanged(),
    postFrame: (frame: ImageBitmap, model: GraphModel, size: number) => postFrame(r, frame, model, size),
    /** Keeps a picture (a frozen camera frame) in the history strip, pinned, and shows it as the pinned image. */
    keepPinned: (image: RGBAImage, label: string) => {
      const key = queue.nextKey();
      history.add({ key, label: `#${key} ${label}`, image, status: 'done', seconds: 0, steps: 0 });
      pinHistory(key);
    },
    onLiveFrame: (listener: (m: LiveDone) => void) => void r.liveListeners.add(listener),
    /** A wait before each run is sent (the weights store waits for the downloads the graph needs). */
    beforeRun: (wait: BeforeRun) => void r.beforeRun.add(wait),
    provideFrames: (grab: () => Promise<ImageBitmap | null>) => void (r.grabFrame = grab),
  };
});
