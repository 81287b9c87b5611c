import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendLabel, wasmThreads } from '../src/runtime/backend';
import { ownCache, runCli } from './run-cli';

const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-threads-'));

const cli = (...args: string[]) => runCli(args, { env: ownCache(tmp) });

/** CPU ticks (user + system) each thread of this process has used, by thread id (Linux). */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const id of readdirSync('/proc/self/task')) {
    try {
      // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/self/task/${id}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(id, Number(f[11]) + Number(f[12]));
    } catch {
      // The thread ended.
    }
  }
  return out;
}

describe('wasm threads', () => {
  it('counts threads from the request and the cores, 1 to 8', () => {
    expect(wasmThreads(undefined, 2)).toBe(2);
    expect(wasmThreads(undefined, 64)).toBe(8);
    expect(wasmThreads(3, 2)).toBe(3);
    expect(wasmThreads(0, 2)).toBe(1);
    expect(backendLabel({ backend: 'wasm', skipped: [], threads: 2 })).toBe('wasm, 2 threads');
    expect(
      backendLabel({ backend: 'wasm', skipped: [], threads: 1, threadsNote: 'page not cross-origin isolated' }),
    ).toBe('wasm, 1 thread (page not cross-origin isolated)');
    expect(backendLabel({ backend: 'webgpu', skipped: [] })).toBe('webgpu');
  });

  it('runs Node wasm on 2 threads: the pool reports 2 and a pthread worker does part of the work', async () => {
    const { startNodeBackend, tf } = await import('../src/cli/node/node-tf');
    const linux = existsSync('/proc/self/task');
    const before = linux ? threadTicks() : new Map<string, number>();
    const choice = await startNodeBackend('wasm', { threads: 2 });
    expect(choice).toMatchObject({ backend: 'wasm', threads: 2 });
    const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
    expect(getThreadsCount()).toBe(2);
    if (!linux) return;
    // The threads the backend started: the pthread workers (worker_threads), absent before.
    const started = [...threadTicks().keys()].filter((id) => !before.has(id));
    expect(started.length).toBeGreaterThanOrEqual(1);
    const x = tf.randomNormal([1, 96, 96, 64]) as import('@tensorflow/tfjs').Tensor4D;
    const w = tf.randomNormal([3, 3, 64, 64]) as import('@tensorflow/tfjs').Tensor4D;
    const [xs, ws, y1] = [await x.data(), await w.data(), await tf.conv2d(x, w, 1, 'same').data()];
    const t0 = threadTicks();
    for (let i = 0; i < 16; i++) tf.tidy(() => tf.conv2d(x, w, 1, 'same').sum().dataSync());
    const t1 = threadTicks();
    const busy = started.filter((id) => (t1.get(id) ?? 0) - (t0.get(id) ?? 0) >= 5);
    // A pthread worker used at least 50 ms of CPU on the convolutions: the work was split, not run on one thread.
    expect(busy.length).toBeGreaterThanOrEqual(1);

    // One thread: tfjs's own single-threaded build, and the same numbers.
    const one = await startNodeBackend('wasm', { threads: 1 });
    expect(one).toMatchObject({ backend: 'wasm', threads: 1 });
    const x1 = tf.tensor4d(xs, [1, 96, 96, 64]);
    const w1 = tf.tensor4d(ws, [3, 3, 64, 64]);
    const y2 = await tf.conv2d(x1, w1, 1, 'same').data();
    let worst = 0;
    for (let i = 0; i < y1.length; i++) worst = Math.max(worst, Math.abs(y1[i]! - y2[i]!) / (1 + Math.abs(y2[i]!)));
    expect(worst).toBeLessThan(1e-5);
  });

  it("gives up on a threaded start that hangs (a timeout, not a hang) and puts tfjs's own wasm back", async () => {
    const { startNodeBackend, tf } = await import('../src/cli/node/node-tf');
    const { registerThreadedWasm } = await import('../src/runtime/wasm-threads');
    await startNodeBackend('wasm', { threads: 1 });
    await tf.setBackend('cpu');
    // A factory that never resolves, as tfjs's own threaded start did in a minified bundle.
    const hang = registerThreadedWasm(
      tf,
      {
        factory: () => new Promise(() => {}),
        mainScript: '',
        workerScript: '',
        instantiate: () => new Promise(() => {}),
      },
      2,
      300,
    );
    const started = Date.now();
    expect(await tf.setBackend('wasm')).toBe(false);
    expect(Date.now() - started).toBeLessThan(20_000);
    hang.restore();
    expect(await tf.setBackend('wasm')).toBe(true);
    expect((await tf.add(tf.scalar(1), tf.scalar(2)).data())[0]).toBe(3);
  });

  it('stylegraph run --threads 2 gives the same losses as --threads 1 and the report records the count', async () => {
    const runs = await Promise.all(
      [1, 2].map(async (n) => {
        const report = join(tmp, `r${n}.json`);
        const r = await cli(
          'run',
          'presets/gatys.json',
          '--size',
          '32',
          '--steps',
          '3',
          '--backend',
          'wasm',
          '--threads',
          String(n),
          '--out',
          join(tmp, `o${n}.png`),
          '--report',
          report,
        );
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain(`backend wasm, ${n} thread${n === 1 ? '' : 's'}, 32 px`);
        return JSON.parse(readFileSync(report, 'utf8')) as { threads: number; steps: { loss: number }[] };
      }),
    );
    expect(runs.map((r) => r.threads)).toEqual([1, 2]);
    const [a, b] = runs.map((r) => r.steps.map((s) => s.loss));
    expect(a!.length).toBe(4);
    for (let i = 0; i < a!.length; i++) expect(Math.abs(a![i]! - b![i]!) / a![i]!).toBeLessThan(1e-4);
  });

  it('rejects a thread count out of range', async () => {
    const r = await cli('plan', 'presets/gatys.json', '--size', '16', '--threads', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--threads/);
    const ok = await cli('plan', 'presets/gatys.json', '--size', '16', '--threads', '2');
    expect(ok.stdout).toMatch(/wasm threads: +2/);
  });
});
