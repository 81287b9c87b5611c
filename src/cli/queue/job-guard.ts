import { lstat, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { Job, UnrecoverableError, Worker, type JobJson, type Processor, type WorkerOptions } from 'bullmq';

/**
 * A queue job is input from whoever can write to Redis, and is checked like command-line input (docs/security.md,
 * "Queue workers"): its payload's size before anything parses it, its JSON, and where it writes.
 */

/** Job payloads (the `data` field as Redis holds it) above this are refused unread: 64 MiB (`--max-job-mb`). */
export const MAX_JOB_BYTES = 64 * 2 ** 20;

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * Before each fetch, the jobs the worker may take next (the end of the wait list and the first prioritised ones) are
 * measured in Redis (HSTRLEN, which reads nothing); a payload over the cap is replaced by a note of its size, so the
 * oversized bytes never leave Redis, and the job then fails with the reason like any other bad job.
 */
const SHRINK = `
local n = tonumber(ARGV[3])
local cap = tonumber(ARGV[2])
local ids = redis.call('LRANGE', KEYS[1], -n, -1)
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, n - 1)) do table.insert(ids, id) end
local shrunk = 0
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local len = redis.call('HSTRLEN', key, 'data')
  if len > cap then
    redis.call('HSET', key, 'data', '{"stylegraphRefusedBytes":' .. len .. '}')
    shrunk = shrunk + 1
  end
end
return shrunk
`;

/** Why a job's raw payload may not be parsed, or null. */
export function payloadProblem(raw: string | undefined, maxBytes: number): string | null {
  const bytes = Buffer.byteLength(raw ?? '', 'utf8');
  if (bytes > maxBytes)
    return `the job's data is ${mib(bytes)}, more than the ${mib(maxBytes)} a worker takes (--max-job-mb); it was not read`;
  return null;
}

/**
 * BullMQ's Worker with the job checks in the two places BullMQ reads a job: the jobs it may take next are measured
 * in Redis before it moves one to active (`moveToActive`), and the hash it got is checked before `Job.fromJSON`
 * parses its data (`createJob`). A job that fails a check is handed to BullMQ as a deferred failure: BullMQ moves it
 * to the failed list with the reason, once, without calling the processor and without retrying.
 */
export class CheckedWorker<D = unknown, R = unknown> extends Worker<D, R> {
  private readonly maxJobBytes: number;
  private readonly shrinkDefined = new WeakSet<object>();

  constructor(name: string, processor: Processor<D, R>, opts: WorkerOptions & { maxJobBytes?: number }) {
    const { maxJobBytes, ...rest } = opts;
    super(name, processor, rest);
    this.maxJobBytes = maxJobBytes ?? MAX_JOB_BYTES;
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job<D, R>> {
    const client = await this.getBackend().client;
    if (!this.shrinkDefined.has(client)) {
      client.defineCommand('stylegraphShrinkOversized', { numberOfKeys: 2, lua: SHRINK });
      this.shrinkDefined.add(client);
    }
    const ahead = String((this.opts.concurrency ?? 1) + 8);
    await client.runCommand('stylegraphShrinkOversized', [
      this.toKey('wait'),
      this.toKey('prioritized'),
      this.toKey(''),
      String(this.maxJobBytes),
      ahead,
    ]);
    return super.moveToActive(token, name);
  }

  protected override createJob(json: JobJson, jobId: string): Job<D, R> {
    const refuse = (why: string) => {
      const job = super.createJob({ ...json, data: '{}' }, jobId);
      job.deferredFailure = why;
      return job;
    };
    const tooLarge = payloadProblem(json.data, this.maxJobBytes);
    if (tooLarge) return refuse(tooLarge);
    let job: Job<D, R>;
    try {
      job = super.createJob(json, jobId);
    } catch (e) {
      return refuse(`the job's data is not valid JSON (${(e as Error).message.slice(0, 200)}); it was not run`);
    }
    const shrunk = (job.data as { stylegraphRefusedBytes?: unknown } | null)?.stylegraphRefusedBytes;
    if (typeof shrunk === 'number')
      return refuse(
        `the job's data was ${mib(shrunk)}, more than the ${mib(this.maxJobBytes)} a worker takes (--max-job-mb); it was not read`,
      );
    return job;
  }
}

/** A written file's identity (device and inode), recorded per job so a retry knows its own picture. */
export const fileId = (s: { dev: number; ino: number }) => `${s.dev}:${s.ino}`;

const inside = (root: string, path: string) => {
  const r = relative(root, path);
  return r === '' || (!r.startsWith('..' + sep) && r !== '..' && !isAbsolute(r));
};

/**
 * Checks a job's `out` before the run: an absolute path, inside one of the folders the worker was started to write
 * (`--out-root`, also after following links), in a folder that exists, and not an existing file unless the job
 * says `overwrite` (never a folder, link, device or FIFO) or the file is this job's own from an earlier attempt (`own`:
 * the `fileId` the worker recorded when it wrote it). Returns the path to write; throws an UnrecoverableError.
 */
export async function checkJobOut(
  out: string,
  roots: readonly string[],
  overwrite: boolean,
  own?: string | null,
): Promise<string> {
  const shown = out.slice(0, 300);
  if (!out) throw new UnrecoverableError('the job names no output file (out)');
  if (!isAbsolute(out))
    throw new UnrecoverableError(
      `out ${shown}: a job's output must be an absolute path (submit writes absolute paths); it was not resolved against the worker's folder`,
    );
  if (!/\.png$/i.test(out)) throw new UnrecoverableError(`out ${shown}: a worker writes only .png files`);
  const path = resolve(out);
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => resolve(r))));
  const folder = await realpath(dirname(path)).catch(() => null);
  if (!folder) throw new UnrecoverableError(`out ${shown}: the folder ${dirname(path)} does not exist`);
  if (!realRoots.some((r) => inside(r, folder)))
    throw new UnrecoverableError(
      `out ${shown}: outside the folders this worker writes (${realRoots.join(', ')}); start the worker with --out-root for that folder`,
    );
  const target = resolve(folder, path.slice(dirname(path).length + 1));
  const existing = await lstat(target).catch(() => null);
  if (existing) {
    if (!existing.isFile())
      throw new UnrecoverableError(`out ${shown}: it exists and is not a regular file; nothing was written`);
    // The job's own picture from an earlier attempt (a retry after the write) is its to replace.
    const mine = own === fileId(existing);
    if (!overwrite && !mine)
      throw new UnrecoverableError(
        `out ${shown}: the file exists and the job does not say overwrite (submit --overwrite); nothing was written`,
      );
  }
  return target;
}
