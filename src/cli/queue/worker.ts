import { hostname } from 'node:os';
import type * as tfjs from '@tensorflow/tfjs';
import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { parseDocument } from '../../graph/document';
import { manifestEntry } from '../../models/weights/manifest';
import type { NodeRegistry } from '../../plugin/registry';
import type { BackendName } from '../../runtime/backend';
import { RunMemo } from '../../runtime/memo';
import { createModelCache } from '../../runtime/models';
import { runSession, type SessionEvent, type SessionResult, type SessionState } from '../../runtime/session';
import type { LoadedCheckpoint } from '../../plugin/types';
import type { Io } from '../io';
import { writeAtomically } from '../files';
import { backendLine, graphPng } from '../run/outputs';
import { decodeImage, encodePng, readSource } from '../node/node-images';
import { SourceRefused, userSourceAccess } from '../security/source-access';
import { loadWeights, type WeightsSpec } from '../node/node-weights';
import { defaultCacheDir } from '../weights/weights-cache';
import { cachedWeights, type WeightsSettings } from '../weights/weights-fetch';
import { CheckedWorker, checkJobOut, fileId, MAX_JOB_BYTES } from './job-guard';
import { zJob, type JobData, type JobProgress, type JobResult } from './jobs';
import { redisConnection } from './redis';

export interface WorkerOptions {
  redis: string;
  queue: string;
  concurrency: number;
  backend?: BackendName;
  /** wasm's threads (`--threads`); absent: every core. */
  threads?: number;
  weights: WeightsSpec[];
  /** The weights mirror, for `--weights NAME` not yet cached. */
  mirror?: WeightsSettings['mirror'];
  /** How long a job's lock lasts without renewal: a killed worker's job goes back to the queue after about this. */
  lockSeconds: number;
  /** The folders a job's `out` may lie in (`--out-root`, repeatable; default: the folder the worker started in). */
  outRoots?: string[];
  /** Job payloads above this many bytes are refused unread (`--max-job-mb`; default MAX_JOB_BYTES, 64 MiB). */
  maxJobBytes?: number;
  registry: NodeRegistry;
  /** Resolves when the worker should drain and stop (SIGTERM, SIGINT, a test). */
  stop: Promise<void>;
}

/**
 * An image a job names. `submit` checked every source with the document rules on the submitter's machine (the
 * submitter's command line is the user's act) and put in the job only data: URLs (small images, and anything fetched
 * with the submitter's consent) and absolute paths to regular files. A worker reads exactly those: a data: URL, or
 * an absolute path to a regular file (no device, FIFO, /proc file or folder). It fetches nothing and resolves no
 * relative path, so a job written straight into Redis cannot make it fetch or read outside what a path names.
 */
export async function readJobSource(source: string): Promise<Uint8Array> {
  if (source.startsWith('data:')) return readSource(source, '/');
  if (!isAbsolute(source))
    throw new UnrecoverableError(
      `${/^[a-z][a-z0-9+.-]+:/i.test(source) ? `${source.slice(0, 80)}: a worker fetches nothing` : `${source.slice(0, 80)}: a worker reads only absolute paths`}; a job carries data: URLs or the absolute paths submit resolved`,
    );
  try {
    return await readSource(source, {
      ...userSourceAccess('/'),
      remote: { any: false, hosts: [], privateNetwork: false },
    });
  } catch (e) {
    throw e instanceof SourceRefused ? new UnrecoverableError(e.message) : e;
  }
}

/** A job's data, checked: bad input fails at once and is not retried. */
function jobData(job: Job): JobData {
  const parsed = zJob.safeParse(job.data);
  if (!parsed.success)
    throw new UnrecoverableError(
      `not a StyleGraph job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const data: JobData = parsed.data;
  // Where the picture goes is checked like a command line's --out, before anything runs.
  if (data.frames && data.out)
    throw new UnrecoverableError('a frames job returns its frames and writes no file; its out must be empty');
  return data;
}

/**
 * The checkpoints given with --weights, loaded, and a lookup by name for those a job asks for: given with --weights,
 * or in this machine's cache (loaded once, then kept); otherwise none (random weights, said in the report).
 */
async function workerCheckpoints(
  tf: typeof tfjs,
  io: Io,
  o: WorkerOptions,
): Promise<{
  checkpoints: Map<string, LoadedCheckpoint>;
  checkpoint: (n: string) => Promise<LoadedCheckpoint | undefined>;
}> {
  const checkpoints = new Map<string, LoadedCheckpoint>();
  const settings: WeightsSettings = { dir: defaultCacheDir(), mirror: o.mirror ?? null };
  for (const spec of o.weights)
    checkpoints.set(spec.name, await loadWeights(tf, spec, process.cwd(), settings, { io }));
  const checkpoint = async (n: string): Promise<LoadedCheckpoint | undefined> => {
    if (checkpoints.has(n)) return checkpoints.get(n);
    const entry = manifestEntry(n);
    const cached = entry ? await cachedWeights(entry, settings) : null;
    if (!cached) return undefined;
    const c = await loadWeights(tf, { name: n, source: cached }, process.cwd(), settings);
    checkpoints.set(n, c);
    return c;
  };
  return { checkpoints, checkpoint };
}

/** A run's step events as the job's progress, at most every 200 ms (and always the last step). */
function progressReporter(job: Job): (e: SessionEvent) => void {
  let lastProgress = 0;
  return (e) => {
    if (e.type !== 'step') return;
    const now = performance.now();
    if (now - lastProgress < 200 && e.step < e.total) return;
    lastProgress = now;
    const p: JobProgress = { step: e.step, total: e.total, loss: e.loss };
    void job.updateProgress(p).catch(() => {});
  };
}

/** What a job returns once its run ended: an invalid run fails for good, any other unfinished one is retried. */
function jobResult(
  result: SessionResult,
  name: string,
  written: string | null,
  frames: string[] | null,
  started: number,
): JobResult {
  const report = result.runs[0];
  if (result.status === 'invalid') throw new UnrecoverableError(result.error ?? 'the job is not valid');
  if (result.status !== 'done') throw new Error(result.error ?? `the run ended ${result.status}`);
  const loss: [number, number] | null = report?.steps.length
    ? [report.steps[0]!.loss, report.steps.at(-1)!.loss]
    : null;
  return {
    worker: name,
    out: written ?? '',
    status: result.status,
    loss,
    weights: report?.weights.map((w) => w.weights) ?? [],
    ms: performance.now() - started,
    ...(frames ? { frames } : {}),
    ...(report ? { report } : {}),
  };
}

/**
 * `stylegraph worker`: takes jobs from the queue and runs each with the run session, as `stylegraph run` would.
 * Networks and style targets stay in memory between jobs (a batch of one style encodes it once per worker).
 * Bad input fails at once; anything else (a crash, memory) is retried by BullMQ with backoff.
 */
export async function workerCommand(io: Io, o: WorkerOptions): Promise<number> {
  const { tf, startNodeBackend } = await import('../node/node-tf');
  const choice = await startNodeBackend(o.backend, o.threads !== undefined ? { threads: o.threads } : {});
  const name = `${hostname()}:${process.pid}`;
  io.err(`worker ${name}: ${backendLine(choice)}, queue "${o.queue}" on ${o.redis}, ${o.concurrency} at a time`);

  const outRoots = o.outRoots?.length ? o.outRoots : [process.cwd()];
  io.err(
    `worker ${name}: writes pictures only inside ${outRoots.join(', ')} (--out-root); job payloads up to ${((o.maxJobBytes ?? MAX_JOB_BYTES) / 2 ** 20).toFixed(0)} MiB`,
  );
  const { checkpoints, checkpoint } = await workerCheckpoints(tf, io, o);

  // One session state per concurrent job: a memo trims what its last run did not use, so runs must not share one.
  const fresh = (): SessionState => ({ models: createModelCache(), memo: new RunMemo(), images: new Map() });
  const free: SessionState[] = Array.from({ length: o.concurrency }, fresh);

  const process_ = async (job: Job): Promise<JobResult> => {
    const started = performance.now();
    const data = jobData(job);
    // The picture an earlier attempt of this job wrote (recorded below): a retry may replace it.
    const client = await worker.getBackend().client;
    const ownKey = `stylegraph:${o.queue}:wrote:${job.id}`;
    const own = data.frames ? null : await client.get(ownKey);
    const target = data.frames ? '' : await checkJobOut(data.out, outRoots, data.overwrite ?? false, own);
    const doc = parseDocument(data.document);
    if (!doc.model)
      throw new UnrecoverableError(
        `the job's graph cannot be read: ${doc.diagnostics.map((d) => d.message).join('; ')}`,
      );
    for (const n of data.weights) await checkpoint(n);
    const state = free.pop() ?? fresh();
    let written: string | null = null;
    // A batch of a video's frames: one stream through the session, the results returned in order.
    const frames = data.frames;
    const styled: string[] = [];
    async function* decoded() {
      for (const [i, f] of (frames ?? []).entries()) yield decodeImage(await readJobSource(f), `frame ${i}`);
    }
    try {
      const result = await runSession(
        doc.model,
        o.registry,
        // The job's RunRequest as submit (or the video host) wrote it; its frames are the job's pictures.
        frames && !data.request.frames ? { ...data.request, frames: {} } : data.request,
        {
          tf,
          ...(frames ? { frames: decoded() } : {}),
          readImage: async (s) => decodeImage(await readJobSource(s), s.startsWith('data:') ? 'image' : s),
          readWeights: async () => ({ get: (n) => checkpoints.get(n) }),
          state,
          write: async (out) => {
            const image = out.kind === 'run' ? Object.values(out.images)[0] : out.image;
            if (!image) return [];
            if (frames) return (void styled.push(encodePng(image).toString('base64')), []);
            // Checked again just before writing: a file that appeared during the run is not replaced either.
            await checkJobOut(target, outRoots, data.overwrite ?? false, own);
            await writeAtomically(target, graphPng(image, out.model));
            await client.set(ownKey, fileId(await stat(target)), { EX: 7 * 24 * 3600 });
            written = target;
            return [target];
          },
          onEvent: progressReporter(job),
        },
      );
      const done = jobResult(result, name, written, frames ? styled : null, started);
      io.err(
        `${name}: ${data.label}: done${done.loss ? `, loss ${done.loss[0].toPrecision(4)} -> ${done.loss[1].toPrecision(4)}` : ''} -> ${frames ? `${styled.length} frames` : (written ?? '(no picture)')}`,
      );
      return done;
    } catch (e) {
      io.err(
        `${name}: ${data.label}: ${e instanceof UnrecoverableError ? 'failed (not retried)' : 'failed'}: ${(e as Error).message}`,
      );
      throw e;
    } finally {
      state.images.clear();
      free.push(state);
    }
  };

  const worker = new CheckedWorker(o.queue, process_, {
    maxJobBytes: o.maxJobBytes ?? MAX_JOB_BYTES,
    connection: redisConnection(o.redis),
    concurrency: o.concurrency,
    lockDuration: o.lockSeconds * 1000,
    stalledInterval: Math.max(1000, (o.lockSeconds * 1000) / 2),
    maxStalledCount: 2,
    name,
  });
  worker.on('error', (e) => io.err(`${name}: ${e.message}`));
  // A job refused before it was read (its size, its JSON) never reaches the processor: said here.
  worker.on(
    'failed',
    (job, e) => void (job?.deferredFailure && io.err(`${name}: job ${job.id}: failed (not retried): ${e.message}`)),
  );
  await worker.waitUntilReady();
  io.err(`${name}: waiting for jobs`);
  await o.stop;
  io.err(`${name}: stopping after the job in hand`);
  await worker.close();
  for (const s of free) {
    s.memo.clear();
    s.models.dispose();
  }
  io.err(`${name}: stopped`);
  return 0;
}
