/**
 * The page's side of the run worker (no Vue): which worker (a plain module worker, or the pack sandbox's), its
 * start with what it cannot read itself (tfjs's wasm files, the cached weights), request ids for the questions
 * it answers (pack loads, questions about pack node types), the fetch relay for a tfjs model's files, and the
 * origins the user allowed the page to fetch from. The editor's run store owns one and hears every other message.
 */
import type { PackRecord } from '../plugin/packs';
import type { BackendName } from '../runtime/backend';
import type { FromWorker, PackQuery, PackTypeData, ToWorker } from './protocol';
import { remoteOrigin } from './source-origin';
import { SandboxedWorker, wasmBinaries } from './sandbox-host';
import { WASM_URLS } from './wasm-urls';
import { readCachedWeightBytes } from './weights';
import workerUrl from './worker.ts?worker&url';

/** A pack whose load the worker has not answered within this long is skipped for the session (a new worker starts without it). */
export const PACK_LOAD_MS = 15_000;

/** What came of asking the worker to load one pack; the page attributes it to the pack it sent. */
export type PackLoad =
  | { kind: 'loaded'; reply: { pack?: { record: PackRecord; types: PackTypeData[] }; error?: string } }
  /** No answer within PACK_LOAD_MS: the worker is busy for good (the caller starts a new one). */
  | { kind: 'timeout' }
  /** The worker was replaced (or never started) before it answered. */
  | { kind: 'gone'; error: string };

const FETCH_ORIGINS = 'stylegraph.fetch-origins';

/** The origins the user allowed the page to fetch images and models from (remembered in localStorage). */
export function allowedFetchOrigins(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(FETCH_ORIGINS) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Adds origins to the allowed ones. */
export function allowFetchOrigins(origins: string[]): void {
  localStorage.setItem(FETCH_ORIGINS, JSON.stringify([...new Set([...allowedFetchOrigins(), ...origins])]));
}

/** What the client tells its owner. */
export interface WorkerClientEvents {
  /** Every message the client does not answer itself (answers to requests and fetches are its own). */
  message(m: FromWorker): void;
  /** The worker could not start: it failed, or its files could not be read. */
  failed(message: string): void;
  /** The folders of the tfjs models the worker may fetch files of now (the open graph's, the queued runs'). */
  modelFolders(): string[];
}

export interface WorkerStart {
  /** In the pack sandbox (an opaque-origin iframe): as soon as pack code is to run. */
  sandbox: boolean;
  backend?: BackendName | undefined;
  /** wasm's threads (`?threads=`); absent: timed when the pool starts. */
  threads?: number | undefined;
}

const noWeights = (e: unknown) => ({
  entries: [],
  errors: [`the weight cache could not be read: ${e instanceof Error ? e.message : String(e)}`],
});

/**
 * One run worker at a time: `start` replaces the one before (what it owed is answered with an error). The sandbox
 * has no WebGPU (an opaque-origin worker is not a secure context), so it is used only when there is pack code to
 * contain.
 */
export class WorkerClient {
  private worker: SandboxedWorker | Worker | null = null;
  /** Resolves true when the current worker is ready, false when it failed or was replaced first. */
  private started: { promise: Promise<boolean>; settle: (ok: boolean) => void } | null = null;
  /** Answers the worker owes: pack installs and questions about pack node types, by request id. */
  private readonly waiting = new Map<number, (m: FromWorker) => void>();
  private requestId = 0;
  /** Whether the current worker is the sandboxed one. */
  sandboxed = false;

  constructor(private readonly events: WorkerClientEvents) {}

  /** Whether a worker was started (a page whose backend failed has none). */
  get running(): boolean {
    return this.worker !== null;
  }

  post(m: ToWorker, transfer: Transferable[] = []): void {
    this.worker?.postMessage(m, transfer);
  }

  /** Sends a message that carries a fresh request id; resolves with the worker's answer to that id. */
  request<T extends FromWorker>(send: (id: number) => ToWorker): Promise<T> {
    return new Promise((resolve) => {
      const id = ++this.requestId;
      this.waiting.set(id, resolve as (m: FromWorker) => void);
      this.post(send(id));
    });
  }

  /** Asks the worker about a pack's node type (the registry's pack query). */
  packQuery(query: PackQuery): Promise<Extract<FromWorker, { type: 'pack-answer' }>> {
    return this.request((id) => ({ type: 'pack-query', id, query }));
  }

  /** Starts a worker, in the pack sandbox or not, and hands it what it cannot read itself. */
  start(o: WorkerStart): void {
    this.sandboxed = o.sandbox;
    this.started?.settle(false);
    let settle: (ok: boolean) => void = () => {};
    const promise = new Promise<boolean>((r) => (settle = r));
    this.started = { promise, settle };
    // A build hands the sandbox the worker bundle's text (fetched here, same-origin), so any static host serves the
    // editor; `npm start` gives its URL (unbundled modules, imported with CORS).
    const worker = !o.sandbox
      ? new Worker(workerUrl, { type: import.meta.env.DEV ? 'module' : 'classic' })
      : new SandboxedWorker(
          import.meta.env.DEV
            ? { url: workerUrl }
            : {
                source: fetch(workerUrl).then((r) =>
                  r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status} for ${workerUrl}`)),
                ),
              },
        );
    this.worker = worker;
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    worker.onerror = (e: { message: string }) => this.fail(`the worker failed: ${e.message}`);
    void this.init(o);
  }

  /** The sandbox can neither fetch nor open IndexedDB: the page hands in tfjs's wasm files and the cached weights (to either worker, so both work the same way). */
  private async init(o: WorkerStart): Promise<void> {
    try {
      const [wasm, cached] = await Promise.all([wasmBinaries(WASM_URLS), readCachedWeightBytes().catch(noWeights)]);
      this.post(
        {
          type: 'init',
          ...(o.backend ? { backend: o.backend } : {}),
          ...(o.threads ? { threads: o.threads } : {}),
          wasm,
          weights: cached.entries,
          weightErrors: cached.errors,
          sandboxed: o.sandbox,
        },
        [...Object.values(wasm), ...cached.entries.map((w) => w.bytes)],
      );
    } catch (e) {
      this.fail(`the worker's files could not be read: ${(e as Error).message}`);
    }
  }

  private fail(message: string): void {
    this.events.failed(message);
    this.started?.settle(false);
  }

  /** The worker said it is ready (true) or could not start (false). */
  settle(ok: boolean): void {
    this.started?.settle(ok);
  }

  /** Ends the worker; what it owed is answered with an error. */
  terminate(): void {
    this.worker?.terminate();
    this.worker = null;
    for (const [id, resolve] of this.waiting) resolve({ type: 'pack-answer', id, error: 'the run worker restarted' });
    this.waiting.clear();
    this.started?.settle(false);
  }

  /** The cached weights changed: the page reads them again and hands them to the worker. */
  async weightsChanged(): Promise<void> {
    const cached = await readCachedWeightBytes().catch(noWeights);
    this.post(
      { type: 'weights-changed', weights: cached.entries, weightErrors: cached.errors },
      cached.entries.map((w) => w.bytes),
    );
  }

  /**
   * Loads one pack in the (sandboxed) worker once it is ready, and waits PACK_LOAD_MS at most for its answer. Sent
   * one at a time, so the answer, or its absence, is this pack's. `startError` says why a worker did not start.
   */
  async loadPack(
    p: { origin: string; source: string },
    startError: () => string | null,
    ms = PACK_LOAD_MS,
  ): Promise<PackLoad> {
    const w = this.worker;
    if (!w || !this.started) return { kind: 'gone', error: 'packs run in the worker, which is not running' };
    if (!(await this.started.promise) || this.worker !== w)
      return {
        kind: 'gone',
        error: this.worker === w ? `the worker did not start: ${startError()}` : 'the run worker restarted',
      };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = await Promise.race([
      this.request<FromWorker>((id) => ({ type: 'load-pack', id, origin: p.origin, source: p.source })),
      new Promise<null>((r) => (timer = setTimeout(() => r(null), ms))),
    ]).finally(() => clearTimeout(timer));
    if (this.worker !== w) return { kind: 'gone', error: 'the run worker restarted' };
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

  /** Whether `w` is still the current worker (a timer set for one worker must not act on the next). */
  isCurrent(w: unknown): boolean {
    return this.worker === w;
  }

  /** The current worker, as an identity to compare with `isCurrent` later. */
  get identity(): unknown {
    return this.worker;
  }

  private receive(m: FromWorker): void {
    // The worker runs pack code: what it sends is data to check, not to trust.
    if (!m || typeof m !== 'object' || typeof m.type !== 'string') return;
    if ((m.type === 'pack-answer' || m.type === 'pack-loaded') && typeof m.id === 'number') {
      const resolve = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      resolve?.(m);
      return;
    }
    if (m.type === 'fetch') return void this.fetchFor(m.id, String(m.url));
    this.events.message(m);
  }

  /**
   * A file the worker asked for (a tfjs model's parts): fetched here, without credentials, only from this site or a
   * site the user allowed (as the images of a run are), and only a file of a model the graph names.
   */
  private async fetchFor(id: number, url: string): Promise<void> {
    try {
      const origin = remoteOrigin(url, location.href);
      const u = new URL(url, location.href);
      if (!['http:', 'https:'].includes(u.protocol)) throw new Error(`${u.protocol} URLs are not fetched`);
      if (origin && !allowedFetchOrigins().includes(origin))
        throw new Error(`${origin} is not allowed: allow it when the editor asks`);
      // Only a model's own files: what the worker asks is not trusted (pack code runs there).
      if (!this.events.modelFolders().some((f) => u.href.startsWith(f)))
        throw new Error('not a file of a model this graph names');
      const res = await fetch(u, { credentials: 'omit' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const bytes = await res.arrayBuffer();
      this.post({ type: 'fetched', id, bytes }, [bytes]);
    } catch (e) {
      this.post({ type: 'fetched', id, error: `${url}: ${(e as Error).message}` });
    }
  }
}
