import { builtinRegistry } from '../../nodes';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from '../../src/graph/document';
import { planJobs, type JobData } from '../../src/cli/queue/jobs';
import { hasRedis, startRedis } from '../redis';

/**
 * Queue jobs are checked like command-line input (issue 29, item 7): a job is whatever anyone who can write to Redis
 * put there. A real redis-server on loopback and a real worker process (as tests/queue.test.ts); the jobs are written
 * straight into the queue, as an attacker would. Each case waits with a deadline (a hang guard, not a timing) and
 * checks the job's end in Redis itself.
 */
const root = new URL('../..', import.meta.url).pathname;
if (!hasRedis && process.env.CI)
  throw new Error('redis-server is missing: .ci/run installs it (apt-get install redis-server)');
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-queue-jobs-'));
const outRoot = join(tmp, 'results');
const workdir = join(tmp, 'workdir');
const elsewhere = join(tmp, 'elsewhere');
const QUEUE = 'hostile';
/** The worker's cap in this test (--max-job-mb 4); the large payload is 24 times that. */
const CAP_MB = 4;
const PAYLOAD_MB = 96;

let redisServer: ChildProcess;
let worker: ChildProcess;
let workerLog = '';
let port = 0;
let queue: Queue;
let redis: Redis;
let base: JobData;

async function waitFor<T>(check: () => Promise<T | null | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}\nworker: ${workerLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const key = (id: string) => `bull:${QUEUE}:${id}`;

/** How a job ended, read from Redis itself (no JSON parse of its data): failed with a reason, or completed. */
async function ended(id: string): Promise<{ state: 'failed' | 'completed'; reason: string; attempts: number } | null> {
  const [failed, completed] = await Promise.all([
    redis.zscore(`bull:${QUEUE}:failed`, id),
    redis.zscore(`bull:${QUEUE}:completed`, id),
  ]);
  if (failed === null && completed === null) return null;
  // BullMQ counts attempts in the hash's `atm` field (older versions: attemptsMade).
  const [reason, atm, old] = await redis.hmget(key(id), 'failedReason', 'atm', 'attemptsMade');
  return { state: failed !== null ? 'failed' : 'completed', reason: reason ?? '', attempts: Number(atm ?? old ?? 0) };
}

async function inLists(id: string): Promise<string[]> {
  const lists: string[] = [];
  for (const l of ['wait', 'active', 'paused'])
    if ((await redis.lrange(`bull:${QUEUE}:${l}`, 0, -1)).includes(id)) lists.push(l);
  for (const z of ['delayed', 'prioritized'])
    if ((await redis.zscore(`bull:${QUEUE}:${z}`, id)) !== null) lists.push(z);
  return lists;
}

/** The worker process's resident size in bytes, from /proc. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

const add = (id: string, data: object, opts: { delay?: number } = {}) =>
  queue.add('hostile', data as JobData, { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 200 }, ...opts });

beforeAll(async () => {
  if (!hasRedis) return;
  for (const d of [outRoot, workdir, elsewhere]) mkdirSync(d, { recursive: true });
  ({ server: redisServer, port } = await startRedis(tmp));
  redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });
  queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port } });
  // A job as submit makes it, in the worker's out root: the cases below change one thing each.
  const model = parseDocument(readFileSync(join(root, 'presets/adain.json'), 'utf8')).model!;
  const planned = await planJobs({
    model,
    contents: [join(root, 'presets/images/astronaut.jpg')],
    styles: [join(root, 'presets/images/swirls.jpg')],
    sweep: null,
    outDir: outRoot,
    registry: builtinRegistry(),
    request: { size: 24, seed: 1 },
    weights: [],
  });
  expect(planned.errors).toEqual([]);
  base = planned.jobs[0]!.data;
  // The worker starts in another folder than its out root, so a relative out would land in workdir.
  worker = spawn(
    'node',
    [
      join(root, 'scripts/stylegraph.mjs'),
      'worker',
      '--redis',
      `redis://127.0.0.1:${port}`,
      '--queue',
      QUEUE,
      '--backend',
      'wasm',
      '--threads',
      '1',
      '--lock-seconds',
      '30',
      '--out-root',
      outRoot,
      '--max-job-mb',
      String(CAP_MB),
    ],
    { cwd: workdir },
  );
  worker.stderr!.on('data', (d: Buffer) => (workerLog += d));
  await waitFor(async () => workerLog.includes('waiting for jobs'), 120_000, 'the worker to start');
}, 150_000);

afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  worker?.kill('SIGKILL');
  redisServer?.kill('SIGKILL');
});

describe.skipIf(!hasRedis)("a queue job's out is checked like --out", () => {
  it('writes a job whose out is an absolute path in the out root (the control case)', async () => {
    await add('control', base);
    const end = await waitFor(() => ended('control'), 120_000, 'the control job');
    expect(end.state, end.reason).toBe('completed');
    expect(existsSync(base.out)).toBe(true);
  }, 150_000);

  it("refuses a relative out, and writes nothing in the worker's folder", async () => {
    await add('relative', { ...base, out: 'stolen.png' });
    const end = await waitFor(() => ended('relative'), 60_000, 'the relative job');
    expect(end).toMatchObject({ state: 'failed', attempts: 1 });
    expect(end.reason).toMatch(/out stolen.png: a job's output must be an absolute path/);
    expect(existsSync(join(workdir, 'stolen.png'))).toBe(false);
  }, 90_000);

  it('refuses an absolute out outside the out roots, also through ../ and a link in the root', async () => {
    symlinkSync(elsewhere, join(outRoot, 'link'));
    const cases: [string, string][] = [
      ['outside', join(elsewhere, 'x.png')],
      ['dotdot', `${outRoot}/../elsewhere/y.png`],
      ['link', join(outRoot, 'link', 'z.png')],
      ['bashrc', join(tmp, '.bashrc.png')],
    ];
    for (const [id, out] of cases) await add(id, { ...base, out });
    for (const [id, out] of cases) {
      const end = await waitFor(() => ended(id), 60_000, `the ${id} job`);
      expect(end, id).toMatchObject({ state: 'failed', attempts: 1 });
      expect(end.reason, id).toMatch(/outside the folders this worker writes .*--out-root/);
      expect(existsSync(out), out).toBe(false);
    }
  }, 120_000);

  it('never replaces an existing file unless the job says overwrite', async () => {
    const precious = join(outRoot, 'precious.png');
    writeFileSync(precious, 'my own work');
    await add('existing', { ...base, out: precious });
    const end = await waitFor(() => ended('existing'), 60_000, 'the existing-file job');
    expect(end).toMatchObject({ state: 'failed', attempts: 1 });
    expect(end.reason).toMatch(/the file exists and the job does not say overwrite/);
    expect(readFileSync(precious, 'utf8')).toBe('my own work');
    // A folder or a link at out is never replaced, overwrite or not.
    mkdirSync(join(outRoot, 'folder.png'));
    await add('folder', { ...base, out: join(outRoot, 'folder.png'), overwrite: true });
    expect((await waitFor(() => ended('folder'), 60_000, 'the folder job')).reason).toMatch(
      /exists and is not a regular file/,
    );
    await add('overwrite', { ...base, out: precious, overwrite: true });
    const replaced = await waitFor(() => ended('overwrite'), 120_000, 'the overwrite job');
    expect(replaced.state, replaced.reason).toBe('completed');
    expect(readFileSync(precious).subarray(1, 4).toString()).toBe('PNG');
  }, 240_000);
});

describe.skipIf(!hasRedis)("a queue job's payload is measured before it is read", () => {
  it(`refuses a ${PAYLOAD_MB} MB payload (cap ${CAP_MB} MiB) without reading it: it fails once, and the worker's memory does not grow by it`, async () => {
    const pid = worker.pid!;
    const before = rss(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 5);
    try {
      await add('huge', { v: 1, pad: 'x'.repeat(PAYLOAD_MB * 2 ** 20) });
      const end = await waitFor(() => ended('huge'), 60_000, 'the huge job to fail');
      expect(end).toMatchObject({ state: 'failed' });
      expect(end.attempts).toBeLessThanOrEqual(1);
      expect(end.reason).toMatch(
        new RegExp(
          `the job's data was ${PAYLOAD_MB}\\.0 MiB, more than the ${CAP_MB}\\.0 MiB a worker takes \\(--max-job-mb\\)`,
        ),
      );
      expect(await inLists('huge')).toEqual([]);
      // The payload was never transferred: Redis now holds its size instead of it.
      expect(await redis.hstrlen(key('huge'), 'data')).toBeLessThan(100);
    } finally {
      clearInterval(sampler);
    }
    // Not even a quarter of the payload reached the worker (before this fix it took about 6 times the payload).
    expect(peak - before).toBeLessThan((PAYLOAD_MB / 4) * 2 ** 20);
    expect(workerLog).toMatch(/job huge: failed \(not retried\): the job's data was 96\.0 MiB/);
  }, 90_000);

  it('fails a job whose data is not JSON once, with the reason, and it leaves the wait and active lists', async () => {
    // Delayed, so its data can be spoiled in Redis before the worker sees it.
    await add('garbled', { v: 1 }, { delay: 1500 });
    await redis.hset(key('garbled'), 'data', '{"v": 1, "document": ');
    const end = await waitFor(() => ended('garbled'), 60_000, 'the garbled job to fail');
    expect(end).toMatchObject({ state: 'failed', attempts: 1 });
    expect(end.reason).toMatch(/the job's data is not valid JSON/);
    expect(await inLists('garbled')).toEqual([]);
    // It stays failed: no stalled-job check brings it back.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await inLists('garbled')).toEqual([]);
    expect((await ended('garbled'))?.attempts).toBe(1);
  }, 90_000);

  it('still runs ordinary jobs after all that', async () => {
    await add('after', { ...base, out: join(outRoot, 'after.png') });
    const end = await waitFor(() => ended('after'), 120_000, 'the last job');
    expect(end.state, end.reason).toBe('completed');
    expect(existsSync(join(outRoot, 'after.png'))).toBe(true);
  }, 150_000);
});
