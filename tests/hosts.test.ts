import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type Io } from '../src/cli/main';
import { requestFromFlags } from '../src/cli/run/command-line';
import { encodePng } from '../src/cli/node/node-images';
import { documentAccess } from '../src/cli/node/node-session';
import type { JobResult } from '../src/cli/queue/jobs';
import type { RunReport } from '../src/runtime/report';
import type { RunRequest } from '../src/runtime/request';
import type { FromWorker } from '../src/web/protocol';
import { runInWorker } from '../src/web/runner';
import { hasRedis, startRedis } from './redis';
import { nodeWorkerDeps, pixelTvDocument } from './small-run';

/**
 * One RunRequest, four hosts: `stylegraph run`, the editor's worker (runner.ts, in Node), a queue worker (BullMQ on
 * a real redis-server) and the video path (a one-frame lossless clip of the same picture). Their reports must be
 * equal but for timings, threads and paths. The queue part needs Debian's redis-server, the video part ffmpeg.
 */
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-hosts-'));
process.env.STYLEGRAPH_CACHE = join(tmp, 'cache');
const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
if (process.env.CI && !(hasRedis && hasFfmpeg))
  throw new Error('redis-server and ffmpeg are missing: .ci/run installs them');

/** 32 x 32 pictures, so no host resamples them (a video frame decodes to the same pixels as the still). */
function picture(seed: number) {
  const data = new Uint8ClampedArray(32 * 32 * 4);
  for (let i = 0; i < 32 * 32; i++) {
    const [x, y] = [i % 32, Math.floor(i / 32)];
    data.set([(x * 8 + seed * 40) % 256, (y * 8) % 256, ((x + y) * 4 * seed) % 256, 255], i * 4);
  }
  return encodePng({ width: 32, height: 32, data });
}

/** A small optimisation graph: a pixel loss to the photo, a total-variation term, Adam. */
const doc = pixelTvDocument('hosts', { method: 'adam', steps: 50 });

/** The request every host is given: the CLI as flags, the worker in its message, the queue in its job. */
const request: RunRequest = { size: 32, seed: 7, steps: 3, backend: 'wasm' };
const flags = ['--size', '32', '--seed', '7', '--steps', '3', '--backend', 'wasm'];

/**
 * What must not depend on the host: everything but timings, threads, labels and paths (the report file's `graph`),
 * and the process-wide count of live tensors (a queue worker or the video host in this same process holds its own).
 */
function comparable(r: RunReport & { graph?: string }) {
  const { msPerStep: _m, outputs: _o, label: _l, item: _i, threads: _t, graph: _g, tensors: _n, ...rest } = r;
  return { ...rest, steps: r.steps.map(({ ms: _ms, ...s }) => s) };
}

const graphFile = join(tmp, 'hosts.json');
beforeAll(() => {
  writeFileSync(join(tmp, 'content.png'), picture(1));
  writeFileSync(graphFile, JSON.stringify(doc));
});

async function cli(args: string[], signal?: AbortSignal): Promise<{ code: number; err: string }> {
  const lines: string[] = [];
  const io: Io = { out: () => {}, err: (l) => lines.push(l), isTTY: false, cwd: tmp };
  const code = await main(args, io, signal);
  return { code, err: lines.join('\n') };
}

describe('one RunRequest gives one report on every host', () => {
  let reference: ReturnType<typeof comparable>;

  it('the command line reads its flags into that request and runs it', async () => {
    expect(requestFromFlags({ size: '32', seed: '7', steps: '3', backend: 'wasm' })).toEqual(request);
    const r = await cli(['run', graphFile, ...flags, '--out', join(tmp, 'cli.png'), '--report', join(tmp, 'cli.json')]);
    expect(r.code, r.err).toBe(0);
    reference = comparable(JSON.parse(readFileSync(join(tmp, 'cli.json'), 'utf8')));
    expect(reference.status).toBe('done');
    expect(reference.steps).toHaveLength(4);
    expect(reference.steps[3]!.loss).toBeLessThan(reference.steps[0]!.loss);
  });

  it("the editor's worker, given the request in its run message", async () => {
    const posted: FromWorker[] = [];
    const access = documentAccess(graphFile);
    await runInWorker(
      { type: 'run', id: 1, document: JSON.stringify(doc), base: tmp, uploads: {}, request },
      nodeWorkerDeps(
        (s) => access.decode(s),
        (m) => posted.push(m),
      ),
      new AbortController().signal,
    );
    const done = posted.find((m) => m.type === 'done');
    expect(done?.type === 'done' && done.status).toBe('done');
    expect(done?.type === 'done' && done.report && comparable(done.report)).toEqual(reference);
  });

  it.skipIf(!hasFfmpeg)('the video path, on a one-frame lossless clip of the same picture', async () => {
    const clip = join(tmp, 'clip.mkv');
    const made = spawnSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-i',
      join(tmp, 'content.png'),
      '-c:v',
      'png',
      '-frames:v',
      '1',
      clip,
    ]);
    expect(made.status, made.stderr?.toString()).toBe(0);
    const r = await cli([
      'run',
      graphFile,
      ...flags,
      '--content',
      clip,
      '--out',
      join(tmp, 'styled.mkv'),
      '--report',
      join(tmp, 'video.json'),
    ]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(readFileSync(join(tmp, 'video.json'), 'utf8'));
    expect(report.frames).toBe(1);
    expect(comparable(report.firstFrame)).toEqual(reference);
  });

  describe.skipIf(!hasRedis)('through the queue', () => {
    let redis: ChildProcess;
    let url = '';
    beforeAll(async () => {
      ({ server: redis, url } = await startRedis(tmp));
    });
    afterAll(() => void redis?.kill('SIGKILL'));

    it('a job carries the request; the worker runs it', async () => {
      const stop = new AbortController();
      const worker = cli(
        ['worker', '--redis', url, '--queue', 'hosts', '--backend', 'wasm', '--out-root', tmp],
        stop.signal,
      );
      const submitted = await cli([
        'submit',
        graphFile,
        '--redis',
        url,
        '--queue',
        'hosts',
        ...flags.slice(0, 6),
        '--out',
        join(tmp, 'queued'),
      ]);
      expect(submitted.code, submitted.err).toBe(0);
      const q = new Queue('hosts', { connection: { host: '127.0.0.1', port: Number(new URL(url).port) } });
      const [job] = await q.getJobs(['completed']);
      await q.close();
      expect(job!.data.request).toEqual({ size: 32, seed: 7, steps: 3 });
      const result = job!.returnvalue as JobResult;
      expect(comparable(result.report!)).toEqual(reference);
      stop.abort();
      expect((await worker).code).toBe(0);
    });
  });
});
