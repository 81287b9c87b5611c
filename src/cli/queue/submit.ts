import { Queue, type Job } from 'bullmq';
import type { Io } from '../io';
import { UsageError } from '../io';
import type { JobData, JobProgress, JobResult, PlannedJob } from './jobs';
import { batchKey, redisConnection } from './redis';

interface BatchRecord {
  graph: string;
  created: string;
  jobs: { id: string; label: string; out: string }[];
}

export interface JobState {
  id: string;
  label: string;
  out: string;
  state: string;
  progress: JobProgress | null;
  result: JobResult | null;
  error: string | null;
  /** When it finished (ms since the epoch). */
  finishedOn: number | null;
}

const DAY = 24 * 3600;

/** Adds a batch's jobs (those already finished are kept as they are), and records the batch for `status`. */
export async function submitBatch(o: {
  redis: string;
  queue: string;
  graph: string;
  batch: string;
  jobs: PlannedJob[];
}): Promise<{ added: number; done: number; retried: number }> {
  const queue = new Queue<JobData>(o.queue, { connection: redisConnection(o.redis) });
  try {
    let done = 0;
    let retried = 0;
    const fresh: PlannedJob[] = [];
    for (const j of o.jobs) {
      const existing = await queue.getJob(j.id);
      if (!existing) fresh.push(j);
      else {
        const state = await existing.getState();
        if (state === 'completed') done++;
        else if (state === 'failed') {
          await existing.retry('failed');
          retried++;
        }
      }
    }
    await queue.addBulk(
      fresh.map((j) => ({
        name: j.data.label,
        data: j.data,
        opts: {
          jobId: j.id,
          // A killed worker or memory may pass; bad input fails at once (the worker says it is unrecoverable).
          attempts: 3,
          backoff: { type: 'exponential', delay: 2000 },
          removeOnComplete: { age: 7 * DAY },
          removeOnFail: { age: 7 * DAY },
        },
      })),
    );
    const record: BatchRecord = {
      graph: o.graph,
      created: new Date().toISOString(),
      jobs: o.jobs.map((j) => ({ id: j.id, label: j.data.label, out: j.data.out })),
    };
    const client = await queue.getBackend().client;
    await client.set(batchKey(o.queue, o.batch), JSON.stringify(record), { EX: 7 * DAY });
    return { added: fresh.length, done, retried };
  } finally {
    await queue.close();
  }
}

async function jobState(queue: Queue, j: BatchRecord['jobs'][number]): Promise<JobState> {
  const job: Job | undefined = await queue.getJob(j.id);
  if (!job)
    return {
      ...j,
      state: 'missing',
      progress: null,
      result: null,
      error: 'not in the queue (expired or removed)',
      finishedOn: null,
    };
  const state = await job.getState();
  const progress = typeof job.progress === 'object' && job.progress !== null ? (job.progress as JobProgress) : null;
  return {
    ...j,
    state,
    progress,
    result: state === 'completed' ? (job.returnvalue as JobResult) : null,
    error: state === 'failed' ? job.failedReason : null,
    finishedOn: job.finishedOn ?? null,
  };
}

export async function readBatch(
  redis: string,
  queueName: string,
  batch: string,
): Promise<{ record: BatchRecord; states: JobState[] } | null> {
  const queue = new Queue(queueName, { connection: redisConnection(redis) });
  try {
    const client = await queue.getBackend().client;
    const text = await client.get(batchKey(queueName, batch));
    if (!text) return null;
    const record = JSON.parse(text) as BatchRecord;
    const states: JobState[] = [];
    for (const j of record.jobs) states.push(await jobState(queue, j));
    return { record, states };
  } finally {
    await queue.close();
  }
}

const finished = (s: JobState) => s.state === 'completed' || s.state === 'failed' || s.state === 'missing';

/** One line: the bar over all jobs, what runs now, and what each worker finished since `since` (epoch ms) and its rate. */
export function summaryLine(states: JobState[], since: number): string {
  const done = states.filter((s) => s.state === 'completed').length;
  const failed = states.filter((s) => s.state === 'failed' || s.state === 'missing').length;
  const active = states.filter((s) => s.state === 'active');
  const width = 24;
  const filled = Math.round((width * (done + failed)) / Math.max(1, states.length));
  const seconds = Math.max(1e-3, (Date.now() - since) / 1000);
  const perWorker = new Map<string, number>();
  for (const s of states)
    if (s.result && (s.finishedOn ?? 0) >= since)
      perWorker.set(s.result.worker, (perWorker.get(s.result.worker) ?? 0) + 1);
  const workers = [...perWorker].map(([w, n]) => `${w} ${n} (${(n / seconds).toFixed(2)}/s)`).join(', ');
  const running = active
    .map((s) => (s.progress ? `${s.label} step ${s.progress.step}/${s.progress.total}` : s.label))
    .slice(0, 2)
    .join('; ');
  return (
    `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${states.length} done${failed ? `, ${failed} failed` : ''}, ${active.length} running` +
    `${running ? ` (${running})` : ''}${workers ? ` · ${workers}` : ''}`
  );
}

/** Waits until every job of the batch is done or has failed for good, showing progress; exit 1 names the failures. */
export async function watchBatch(
  io: Io,
  o: { redis: string; queue: string; batch: string; signal?: AbortSignal; pollMs?: number },
): Promise<number> {
  const started = performance.now();
  const since = Date.now();
  let last = '';
  let lastAt = 0;
  for (;;) {
    const read = await readBatch(o.redis, o.queue, o.batch);
    if (!read) throw new UsageError(`no batch ${o.batch} in queue "${o.queue}"`);
    const seconds = (performance.now() - started) / 1000;
    const line = summaryLine(read.states, since);
    const all = read.states.every(finished);
    if (io.isTTY) process.stderr.write(`\r${line}\x1b[K${all ? '\n' : ''}`);
    else if (all || (line !== last && performance.now() - lastAt > 2000)) {
      io.err(line);
      lastAt = performance.now();
    }
    last = line;
    if (all) return report(io, read.states, seconds);
    if (o.signal?.aborted) {
      io.err(`stopped watching; the jobs go on. Follow them with: stylegraph status ${o.batch} --redis ${o.redis}`);
      return 130;
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}

export function report(io: Io, states: JobState[], seconds: number): number {
  const failed = states.filter((s) => s.state === 'failed' || s.state === 'missing');
  const done = states.length - failed.length;
  io.err(
    `${done} of ${states.length} jobs done in ${seconds.toFixed(1)} s${failed.length ? `; ${failed.length} failed:` : ''}`,
  );
  for (const f of failed) io.err(`  ${f.label}: ${f.error ?? f.state}`);
  return failed.length ? 1 : 0;
}
