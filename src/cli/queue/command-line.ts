/** `worker` and `status` from the command line: their options checked, then the queue's own code (loaded late: BullMQ). */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { int, parseBackend, parseThreads, parseWeightSpecs } from '../args';
import { queueName, redisUrl, weightsSettings, type CommandContext, type Loaded } from '../context';
import { UsageError } from '../io';

/** `stylegraph worker`: until SIGTERM or SIGINT (or the caller's signal), then drains. */
export async function workerFromCommandLine(c: CommandContext, { registry }: Loaded): Promise<number> {
  const { io, flags: v } = c;
  const redis = redisUrl(c);
  const { mirror } = await weightsSettings(c);
  const concurrency = int('concurrency', v.concurrency, 1, 64) ?? 1;
  const lockSeconds = v['lock-seconds'] === undefined ? 30 : Number(v['lock-seconds']);
  if (!(lockSeconds >= 1 && lockSeconds <= 3600))
    throw new UsageError(`--lock-seconds must be from 1 to 3600, got "${v['lock-seconds']}"`);
  const backend = parseBackend(v.backend);
  // A job's picture goes only into these folders (an absolute path inside one), as --out's folder for a run.
  const outRoots = (v['out-root'] ?? [io.cwd]).map((r) => resolve(io.cwd, r));
  for (const r of outRoots) {
    const folder = await stat(r).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!folder) throw new UsageError(`--out-root ${r}: not a folder`);
  }
  const maxJobMb = int('max-job-mb', v['max-job-mb'], 1, 1024) ?? 64;
  const weights = parseWeightSpecs(v.weights);
  const stop = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
    c.signal?.addEventListener('abort', () => resolve());
  });
  const { workerCommand } = await import('./worker');
  const threads = parseThreads(v.threads);
  return workerCommand(io, {
    redis,
    queue: queueName(c),
    concurrency,
    lockSeconds,
    outRoots,
    maxJobBytes: maxJobMb * 2 ** 20,
    weights,
    mirror,
    registry,
    stop,
    ...(backend ? { backend } : {}),
    ...(threads !== undefined ? { threads } : {}),
  });
}

/** `stylegraph status BATCH_ID`: a submitted batch's progress. */
export async function statusFromCommandLine(c: CommandContext): Promise<number> {
  if (!c.file) throw new UsageError('status needs a batch id (submit --detach prints it)');
  const { statusCommand } = await import('./commands');
  return statusCommand(c.io, { redis: redisUrl(c), queue: queueName(c), batch: c.file });
}
