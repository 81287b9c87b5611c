import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResult } from '../src/cli/queue/jobs';
import { hasRedis, startRedis } from './redis';

/**
 * The queue end to end: a real redis-server on loopback, workers as real processes, `submit` as a user runs it.
 * Needs Debian's redis-server (.ci/run installs it); without it the suite says so and is skipped, except in CI.
 */
const root = new URL('..', import.meta.url).pathname;
if (!hasRedis && process.env.CI)
  throw new Error('redis-server is missing: .ci/run installs it (apt-get install redis-server)');
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-queue-'));

let redisServer: ChildProcess;
let url = '';
const children: ChildProcess[] = [];

function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn('node', ['scripts/stylegraph.mjs', ...args], { cwd: root });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * A worker process; `log()` is what it has printed so far, `exited` its exit code. A short lock makes a killed
 * worker's job come back quickly; the other tests keep a long one, so a loaded machine never makes a live job stall.
 */
function startWorker(queue: string, lockSeconds = 30) {
  const p = spawn(
    'node',
    [
      'scripts/stylegraph.mjs',
      'worker',
      '--redis',
      url,
      '--queue',
      queue,
      '--backend',
      'wasm',
      '--threads',
      '1',
      '--lock-seconds',
      String(lockSeconds),
      '--out-root',
      tmp,
    ],
    { cwd: root },
  );
  children.push(p);
  let log = '';
  p.stderr.on('data', (d: Buffer) => (log += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  return {
    p,
    log: () => log,
    exited,
    ready: waitFor(
      () => log.includes('waiting for jobs'),
      60_000,
      () => log,
    ),
  };
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: () => string = () => '',
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const photos = join(tmp, 'photos');

beforeAll(async () => {
  if (!hasRedis) return;
  ({ server: redisServer, url } = await startRedis(tmp));
  mkdirSync(photos);
  for (const n of ['astronaut', 'chelsea', 'brick'])
    copyFileSync(join(root, 'presets/images', `${n}.jpg`), join(photos, `${n}.jpg`));
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  redisServer?.kill('SIGKILL');
});

const jobsOf = async (queue: string) => {
  const q = new Queue(queue, { connection: { host: '127.0.0.1', port: Number(new URL(url).port) } });
  try {
    return await q.getJobs(['completed', 'failed', 'active', 'wait', 'delayed']);
  } finally {
    await q.close();
  }
};

describe.skipIf(!hasRedis)('stylegraph worker and submit (BullMQ on Redis)', () => {
  it('runs the jobs, fails a poisoned one at once without blocking the others, and does not redo a resubmitted batch', async () => {
    const bad = join(tmp, 'poisoned');
    mkdirSync(bad);
    writeFileSync(join(bad, 'broken.jpg'), 'this is not a JPEG');
    const w = startWorker('q1');
    await w.ready;
    const out = join(tmp, 'out1');
    const args = [
      'submit',
      'presets/adain.json',
      '--redis',
      url,
      '--queue',
      'q1',
      '--content',
      photos,
      '--content',
      join(bad, 'broken.jpg'),
      '--size',
      '32',
      '--out',
      out,
    ];
    const first = await cli(...args);
    expect(first.code, first.err).toBe(1);
    expect(first.err).toMatch(/4 jobs \(4 new\)/);
    expect(first.err).toMatch(/3 of 4 jobs done .*; 1 failed:\n {2}broken\.jpg: .*not a PNG or JPEG/);
    expect(readdirSync(out).sort()).toEqual(['astronaut.png', 'brick.png', 'chelsea.png']);
    const jobs = await jobsOf('q1');
    const poisoned = jobs.find((j) => j.data.label === 'broken.jpg')!;
    expect(poisoned.attemptsMade).toBe(1); // not retried: bad input
    const done = jobs.filter((j) => j.finishedOn && !j.failedReason);
    expect(done.map((j) => (j.returnvalue as JobResult).status)).toEqual(['done', 'done', 'done']);

    const ranBefore = (w.log().match(/: done/g) ?? []).length;
    const again = await cli(...args);
    expect(again.err).toMatch(/4 jobs \(0 new, 3 already done, 1 failed before and retried\)/);
    expect(again.code).toBe(1);
    expect((w.log().match(/: done/g) ?? []).length).toBe(ranBefore);
    w.p.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  }, 180_000);

  it('gives the job of a worker killed mid-run to another, and its picture lands exactly once', async () => {
    const a = startWorker('q2', 4);
    await a.ready;
    const out = join(tmp, 'out2');
    const args = [
      'submit',
      'presets/gatys.json',
      '--redis',
      url,
      '--queue',
      'q2',
      '--content',
      join(photos, 'chelsea.jpg'),
      '--size',
      '48',
      '--steps',
      '40',
      '--set',
      'optim.method=adam',
      '--out',
      out,
    ];
    const detached = await cli(...args, '--detach');
    expect(detached.code, detached.err).toBe(0);
    const batch = detached.out.trim();
    expect(batch).toMatch(/^[0-9a-f]{16}$/);
    // Kill the worker once it is a few steps in.
    await waitFor(
      async () => {
        const [job] = await jobsOf('q2');
        return typeof job?.progress === 'object' && (job.progress as { step: number }).step >= 2;
      },
      90_000,
      a.log,
    );
    a.p.kill('SIGKILL');
    const b = startWorker('q2', 4);
    const status = await cli('status', batch, '--redis', url, '--queue', 'q2');
    expect(status.out).toMatch(/chelsea\.jpg: (active|wait)/);
    // Resubmitting attaches to the same batch and waits for it.
    const waited = await cli(...args);
    expect(waited.code, waited.err).toBe(0);
    expect(waited.err).toMatch(/1 jobs \(0 new\)/);
    const [job] = await jobsOf('q2');
    expect((job!.returnvalue as JobResult).worker).toMatch(new RegExp(`:${b.p.pid}$`));
    expect(readdirSync(out)).toEqual(['chelsea.png']);
    b.p.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  }, 240_000);

  it('drains on SIGTERM: the job in hand finishes and lands before the worker exits', async () => {
    const w = startWorker('q3');
    await w.ready;
    const out = join(tmp, 'out3');
    const detached = await cli(
      'submit',
      'presets/gatys.json',
      '--redis',
      url,
      '--queue',
      'q3',
      '--content',
      join(photos, 'brick.jpg'),
      '--size',
      '48',
      '--steps',
      '30',
      '--set',
      'optim.method=adam',
      '--out',
      out,
      '--detach',
    );
    expect(detached.code, detached.err).toBe(0);
    await waitFor(async () => (await jobsOf('q3'))[0]?.progress !== 0, 90_000, w.log);
    w.p.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.log()).toMatch(/stopping after the job in hand[\s\S]*brick\.jpg: done[\s\S]*stopped/);
    expect(existsSync(join(out, 'brick.png'))).toBe(true);
    const [job] = await jobsOf('q3');
    expect(job!.finishedOn).toBeGreaterThan(0);
    expect(job!.failedReason).toBeFalsy();
  }, 180_000);
});
