import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;

/** Fastest first on a real GPU. */
export const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

export interface BackendChoice {
  backend: BackendName;
  /** Each backend tried before the chosen one, and why it was passed over. */
  skipped: { backend: BackendName; reason: string }[];
  /** Threads the backend computes on (wasm: its pthread pool; 1 elsewhere on the CPU). Absent: not known. */
  threads?: number;
  /**
   * Why wasm runs on fewer threads than the cores (the page is not cross-origin isolated, the threaded build failed,
   * the machine is busy: more threads timed no faster).
   */
  threadsNote?: string;
  /** Why auto took this backend: the software adapters it passed over, what a timing found. */
  why?: string;
}

/** The most threads tfjs-wasm can use: it creates eight pthread workers when it starts. */
export const MAX_WASM_THREADS = 8;

/** The threads a request gets: a whole number from 1 to 8; absent: `available` (the machine's cores), capped at 8. */
export function wasmThreads(requested: number | undefined, available: number): number {
  const n = requested ?? available;
  return Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(Number.isFinite(n) ? n : 1)));
}

/**
 * "wasm, 2 threads", "wasm, 1 thread (page not cross-origin isolated)", "webgpu", and after an em dash why auto took
 * it ("wasm, 2 threads — WebGL is SwiftShader (software)"): for status lines and the run bar.
 */
export function backendLabel(choice: BackendChoice): string {
  const why = choice.why ? ` — ${choice.why}` : '';
  if (choice.threads === undefined || choice.backend === 'webgpu' || choice.backend === 'webgl')
    return choice.backend + why;
  return `${choice.backend}, ${choice.threads} thread${choice.threads === 1 ? '' : 's'}${choice.threadsNote ? ` (${choice.threadsNote})` : ''}${why}`;
}

/**
 * Tries each candidate in order and keeps the first that initialises. `setBackend` can resolve
 * false while `getBackend()` still names the failed backend, so only its return value is trusted;
 * a switch that hangs (threaded wasm in some builds) is abandoned after `timeoutMs`.
 */
export async function chooseBackend(
  tf: TF,
  candidates: readonly BackendName[] = BACKEND_ORDER,
  timeoutMs = 15000,
): Promise<BackendChoice> {
  const skipped: BackendChoice['skipped'] = [];
  for (const backend of candidates) {
    if (!tf.findBackendFactory(backend)) {
      skipped.push({ backend, reason: 'not available in this build' });
      continue;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const ok = await Promise.race([tf.setBackend(backend), timeout]);
      if (ok === true) {
        await tf.ready();
        return { backend, skipped };
      }
      skipped.push({
        backend,
        reason: ok === 'timeout' ? `did not start within ${timeoutMs / 1000} s` : 'failed to initialise',
      });
    } catch (e) {
      skipped.push({ backend, reason: e instanceof Error ? e.message : String(e) });
    } finally {
      clearTimeout(timer);
    }
  }
  throw new Error(
    `no TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
  );
}

/** What a host learnt about its GPU adapters before starting a backend. */
export interface AdapterFacts {
  /**
   * WebGPU's adapter (`requestAdapter()`): its fallback flag and `adapter.info`. null: no WebGPU or no adapter;
   * absent: not looked at (the backend is tried as before).
   */
  webgpu?: { fallback: boolean; vendor: string; architecture: string; device: string; description: string } | null;
  /**
   * WebGL's renderer: WEBGL_debug_renderer_info's unmasked renderer and vendor where the browser offers them, else
   * RENDERER and VENDOR. null: no WebGL context; absent: not looked at.
   */
  webgl?: { renderer: string; vendor: string } | null;
}

/** `hardware`: a GPU of a known maker; `software`: a rasteriser on the CPU; `unknown`: the names say neither. */
export interface AdapterVerdict {
  kind: 'hardware' | 'software' | 'unknown' | 'absent';
  /** The adapter in words: "SwiftShader", "NVIDIA GeForce RTX 3060", "no adapter". */
  name: string;
}

/** Software rasterisers and their usual spelling; the first that matches names the adapter. */
const SOFTWARE: [RegExp, string][] = [
  [/swiftshader/i, 'SwiftShader'],
  [/llvmpipe/i, 'llvmpipe'],
  [/lavapipe/i, 'lavapipe'],
  [/softpipe/i, 'softpipe'],
  [/microsoft basic render/i, 'Microsoft Basic Render Driver'],
  [/\bswrast\b|software (rasteri[sz]er|renderer|adapter)/i, 'a software renderer'],
];

/** GPU makers as WebGL renderers and WebGPU's adapter info spell them. */
const HARDWARE =
  /nvidia|geforce|quadro|\bamd\b|radeon|\bati\b|intel|apple|adreno|qualcomm|\bmali\b|\barm\b|powervr|imagination|broadcom|videocore|vivante|samsung|xclipse|moore ?threads/i;

function verdict(text: string, fallback = false): AdapterVerdict {
  const soft = SOFTWARE.find(([re]) => re.test(text));
  if (soft) return { kind: 'software', name: soft[1] };
  if (fallback) return { kind: 'software', name: 'a fallback adapter' };
  const name = text.replace(/\s+/g, ' ').trim();
  return { kind: HARDWARE.test(text) ? 'hardware' : 'unknown', name: name || 'an adapter that gives no name' };
}

/** What kind of adapter a GPU backend would run on, from the facts a host gathered (undefined: not looked at). */
export function judgeAdapter(backend: 'webgpu' | 'webgl', facts: AdapterFacts): AdapterVerdict | undefined {
  if (backend === 'webgl') {
    const gl = facts.webgl;
    return gl === undefined
      ? undefined
      : gl === null
        ? { kind: 'absent', name: 'no WebGL context' }
        : verdict(`${gl.renderer} ${gl.vendor}`);
  }
  const gpu = facts.webgpu;
  if (gpu === undefined) return undefined;
  if (gpu === null) return { kind: 'absent', name: 'no WebGPU adapter' };
  return verdict([gpu.vendor, gpu.architecture, gpu.device, gpu.description].filter(Boolean).join(' '), gpu.fallback);
}

const GPU_LABEL = { webgpu: 'WebGPU', webgl: 'WebGL' } as const;

/** What auto tries, once the adapters are judged. */
export interface AutoPlan {
  /** The backends to try, in order: software and absent adapters left out. */
  order: BackendName[];
  /** GPU backends left out for a software adapter, and its name ("SwiftShader"). */
  software: { backend: BackendName; name: string }[];
  /** GPU backends left out for want of an adapter ("no WebGPU adapter"). */
  skipped: BackendChoice['skipped'];
  /** GPU backends whose adapter is neither known hardware nor known software, and no hardware one is present: timed. */
  doubt: BackendName[];
}

/**
 * Auto's plan over `order`: a software adapter (SwiftShader, llvmpipe, a WebGPU fallback adapter) is never tried,
 * since wasm beats it (7x for Gatys in headless Chromium); a hardware adapter is kept in its place. Adapters that
 * cannot be judged are timed against wasm (`doubt`), unless a known hardware adapter is present.
 */
export function autoPlan(order: readonly BackendName[], facts: AdapterFacts): AutoPlan {
  const plan: AutoPlan = { order: [], software: [], skipped: [], doubt: [] };
  let hardware = false;
  for (const backend of order) {
    if (backend !== 'webgpu' && backend !== 'webgl') {
      plan.order.push(backend);
      continue;
    }
    const v = judgeAdapter(backend, facts);
    if (v?.kind === 'software') plan.software.push({ backend, name: v.name });
    else if (v?.kind === 'absent') plan.skipped.push({ backend, reason: v.name });
    else {
      plan.order.push(backend);
      if (v?.kind === 'hardware') hardware = true;
      else if (v?.kind === 'unknown') plan.doubt.push(backend);
    }
  }
  if (hardware || !plan.order.includes('wasm')) plan.doubt = [];
  return plan;
}

/** "WebGPU and WebGL are SwiftShader (software)", "WebGL is llvmpipe (software)": the adapters auto passed over. */
export function softwareText(software: AutoPlan['software']): string {
  const names = [...new Set(software.map((s) => s.name))];
  return names
    .map((name) => {
      const apis = software.filter((s) => s.name === name).map((s) => GPU_LABEL[s.backend as 'webgpu' | 'webgl']);
      return `${apis.join(' and ')} ${apis.length > 1 ? 'are' : 'is'} ${name} (software)`;
    })
    .join('; ');
}

/** The fastest of the timed backends (the earlier in the list on a tie); undefined when none was timed. */
export function pickFastest(timings: readonly { backend: BackendName; ms: number }[]): BackendName | undefined {
  let best: { backend: BackendName; ms: number } | undefined;
  for (const t of timings) if (Number.isFinite(t.ms) && (!best || t.ms < best.ms)) best = t;
  return best?.backend;
}

/** The key a calibration is kept under: the adapters it was measured on (another GPU or driver measures again). */
export function calibrationKey(facts: AdapterFacts, threads = 1): string {
  return JSON.stringify({ webgpu: facts.webgpu ?? null, webgl: facts.webgl ?? null, threads });
}

/** Somewhere to keep a calibration (IndexedDB in the page); either call may fail, which only costs a new timing. */
export interface CalibrationCache {
  get(key: string): Promise<string | null | undefined>;
  set(key: string, value: string): Promise<void>;
}

export interface AutoHost {
  facts: AdapterFacts;
  /** Starts the first of `candidates` that starts (the host's chooseBackend, with its wasm set-up). */
  start(candidates: readonly BackendName[]): Promise<BackendChoice>;
  /** Milliseconds of a small fixed workload on the backend now running (timeConvolution). */
  time(): Promise<number>;
  cache?: CalibrationCache;
}

const timingsText = (t: readonly { backend: BackendName; ms: number }[]) =>
  t.map((x) => `${x.backend} ${x.ms.toFixed(1)} ms`).join(', ');

/**
 * The auto backend: `autoPlan` over the adapter facts; where an adapter is in doubt, one small convolution is timed
 * on each candidate (the doubtful GPUs and wasm), once per device (kept in `cache` under the adapter facts), and the
 * fastest is started. The choice's `why` says what decided it.
 */
export async function chooseAuto(order: readonly BackendName[], host: AutoHost): Promise<BackendChoice> {
  const plan = autoPlan(order, host.facts);
  // Why the choice is what it is: the software adapters passed over, and what a timing found.
  const finish = (c: BackendChoice, measured?: string): BackendChoice => {
    const why = [softwareText(plan.software), measured].filter(Boolean).join('; ');
    return { ...c, skipped: [...plan.skipped, ...c.skipped], ...(why ? { why } : {}) };
  };
  if (!plan.doubt.length) return finish(await host.start(plan.order));
  const key = calibrationKey(host.facts);
  const cached = await host.cache?.get(key).catch(() => null);
  const kept = parseCalibration(cached);
  if (kept && plan.order.includes(kept.backend)) {
    const c = await host.start([kept.backend, ...plan.order.filter((b) => b !== kept.backend)]);
    return finish(c, `measured fastest on this device: ${timingsText(kept.timings)}`);
  }
  const timings: { backend: BackendName; ms: number }[] = [];
  for (const backend of [...plan.doubt, 'wasm' as const]) {
    try {
      const c = await host.start([backend]);
      if (c.backend === backend) timings.push({ backend, ms: await host.time() });
    } catch {
      // It did not start: not a candidate (chooseBackend below says why, if it is tried again).
    }
  }
  const best = pickFastest(timings);
  if (best) await host.cache?.set(key, JSON.stringify({ backend: best, timings })).catch(() => undefined);
  const c = await host.start(best ? [best, ...plan.order.filter((b) => b !== best)] : plan.order);
  return finish(c, timings.length ? `measured fastest on this device: ${timingsText(timings)}` : undefined);
}

function parseCalibration(
  text: string | null | undefined,
): { backend: BackendName; timings: { backend: BackendName; ms: number }[] } | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as { backend?: unknown; timings?: unknown };
    const known = (b: unknown): b is BackendName =>
      typeof b === 'string' && (BACKEND_ORDER as readonly string[]).includes(b);
    if (!known(v.backend) || !Array.isArray(v.timings)) return null;
    const timings = v.timings.filter(
      (t): t is { backend: BackendName; ms: number } =>
        typeof t === 'object' &&
        t !== null &&
        known((t as { backend?: unknown }).backend) &&
        typeof (t as { ms?: unknown }).ms === 'number',
    );
    return { backend: v.backend, timings };
  } catch {
    return null;
  }
}

/** A count of more threads is taken only when it times at least this much faster than the fewer-thread one. */
export const THREAD_MARGIN = 0.1;

/**
 * The thread counts worth timing, fewest first: 1, the cores a load average of `load` leaves free, and every core
 * (each at most 8).
 */
export function threadCandidates(cores: number, load?: number): number[] {
  const all = wasmThreads(undefined, cores);
  const free =
    load === undefined || !Number.isFinite(load)
      ? all
      : Math.min(all, wasmThreads(undefined, Math.round(cores - load)));
  return [...new Set([1, free, all])].sort((a, b) => a - b);
}

export interface ThreadTiming {
  threads: number;
  ms: number;
}

/**
 * The thread count to run on, from the same workload timed on each count: fewest first, a larger count taken only
 * when it is THREAD_MARGIN faster than the one taken so far, so a busy machine (where a thread shares its core with
 * another program and the others wait for it) runs on fewer threads rather than slower. The note says why it is
 * fewer than the most timed ("busy machine: timed 1 thread 16.0 ms, 2 threads 18.0 ms": a small convolution each).
 */
export function pickThreads(
  timings: readonly ThreadTiming[],
  margin = THREAD_MARGIN,
): { threads: number; note?: string } {
  const ok = timings.filter((t) => Number.isFinite(t.ms) && t.ms > 0).sort((a, b) => a.threads - b.threads);
  let best = ok[0];
  if (!best) return { threads: 1 };
  for (const t of ok.slice(1)) if (t.ms < best.ms * (1 - margin)) best = t;
  const most = ok[ok.length - 1]!;
  if (best.threads === most.threads) return { threads: best.threads };
  const took = ok.map((t) => `${t.threads} thread${t.threads === 1 ? '' : 's'} ${t.ms.toFixed(1)} ms`).join(', ');
  return { threads: best.threads, note: `busy machine: timed ${took}` };
}

/** Starting wasm on a thread count and timing it, given by a host (Node's or the page's wasm set-up). */
export interface ThreadTrial {
  /** Starts wasm on `threads` threads (and makes it the backend); throws when it cannot. */
  use(threads: number): Promise<void>;
  /** Milliseconds of a small fixed workload on the backend now running (timeConvolution). */
  time(): Promise<number>;
}

/**
 * Times each candidate count (fewest first: the single-threaded start is the cheap one), picks with pickThreads,
 * and leaves wasm running on the pick. A count that fails to start is left out, and said in the note when it
 * leaves fewer threads than the most.
 */
export async function calibrateThreads(
  candidates: readonly number[],
  trial: ThreadTrial,
): Promise<{ threads: number; note?: string; timings: ThreadTiming[] }> {
  const timings: ThreadTiming[] = [];
  const failed: string[] = [];
  let running: number | null = null;
  for (const threads of candidates) {
    try {
      await trial.use(threads);
      running = threads;
      // The best of two: the first timing on a pool just started is two to four times slow (its threads still
      // starting: measured 110 then 26 ms on two threads here), which would always favour the count timed first.
      const first = await trial.time();
      timings.push({ threads, ms: Math.min(first, await trial.time()) });
    } catch (e) {
      running = null;
      failed.push(`${threads} threads: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const pick = pickThreads(timings);
  if (running !== pick.threads) await trial.use(pick.threads);
  const most = Math.max(...candidates);
  const note = [
    pick.note,
    ...(pick.threads < most && failed.length ? [`threaded wasm failed: ${failed.join('; ')}`] : []),
  ]
    .filter(Boolean)
    .join('; ');
  return { threads: pick.threads, ...(note ? { note } : {}), timings };
}

/**
 * Milliseconds a small fixed workload takes on the running backend: `reps` chained 3x3 convolutions of a 64x64x64
 * tensor (about 150 MFLOP each, some 15 ms on one wasm thread), after two untimed ones (kernels compiled, XNNPACK
 * operators set up), read back once at the end so a GPU is not timed on its read-backs.
 */
export async function timeConvolution(tf: TF, reps = 6, size = 64, channels = 64): Promise<number> {
  const x = tf.randomNormal([1, size, size, channels]) as tfjs.Tensor4D;
  // Scaled so a chain of convolutions neither grows nor vanishes.
  const w = tf.randomNormal([3, 3, channels, channels], 0, 1 / Math.sqrt(9 * channels)) as tfjs.Tensor4D;
  const chain = async (n: number) => {
    const s = tf.tidy(() => {
      let y = x;
      for (let i = 0; i < n; i++) y = tf.conv2d(y, w, 1, 'same');
      return y.sum();
    });
    try {
      await s.data();
    } finally {
      s.dispose();
    }
  };
  try {
    await chain(2);
    const t0 = performance.now();
    await chain(reps);
    return (performance.now() - t0) / reps;
  } finally {
    x.dispose();
    w.dispose();
  }
}
