import { describe, expect, it } from 'vitest';
import {
  autoPlan,
  backendLabel,
  calibrateThreads,
  calibrationKey,
  chooseAuto,
  judgeAdapter,
  pickFastest,
  pickThreads,
  softwareText,
  threadCandidates,
  type AdapterFacts,
  type BackendChoice,
  type BackendName,
  type CalibrationCache,
} from '../src/runtime/backend';

/** What this machine's headless Chromium reports (read from it with --enable-unsafe-webgpu): SwiftShader twice. */
const HEADLESS: AdapterFacts = {
  webgl: {
    renderer: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
    vendor: 'Google Inc. (Google)',
  },
  webgpu: { fallback: false, vendor: 'google', architecture: 'swiftshader', device: '', description: '' },
};
const NVIDIA_GL = {
  renderer: 'ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002503) Direct3D11 vs_5_0 ps_5_0, D3D11)',
  vendor: 'Google Inc. (NVIDIA)',
};
const NVIDIA_GPU = { fallback: false, vendor: 'nvidia', architecture: 'ampere', device: '', description: '' };
const UNKNOWN_GPU = { fallback: false, vendor: '', architecture: '', device: '', description: '' };

describe('judging adapters', () => {
  it('names software rasterisers from WebGL renderers and WebGPU adapter info', () => {
    expect(judgeAdapter('webgl', HEADLESS)).toEqual({ kind: 'software', name: 'SwiftShader' });
    expect(judgeAdapter('webgpu', HEADLESS)).toEqual({ kind: 'software', name: 'SwiftShader' });
    const gl = (renderer: string) => judgeAdapter('webgl', { webgl: { renderer, vendor: '' } });
    expect(gl('ANGLE (Mesa, llvmpipe (LLVM 15.0.7, 256 bits), OpenGL 4.5)')).toEqual({
      kind: 'software',
      name: 'llvmpipe',
    });
    expect(gl('Gallium 0.4 on softpipe')?.kind).toBe('software');
    expect(gl('ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0, D3D11)')).toEqual({
      kind: 'software',
      name: 'Microsoft Basic Render Driver',
    });
    // WebGPU's fallback flag alone is enough, whatever the info says.
    expect(judgeAdapter('webgpu', { webgpu: { ...NVIDIA_GPU, fallback: true } })?.kind).toBe('software');
  });

  it('keeps hardware apart from what it cannot judge and from what is absent', () => {
    expect(judgeAdapter('webgl', { webgl: NVIDIA_GL })?.kind).toBe('hardware');
    expect(
      judgeAdapter('webgl', {
        webgl: { renderer: 'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)', vendor: '' },
      })?.kind,
    ).toBe('hardware');
    expect(judgeAdapter('webgl', { webgl: { renderer: 'Apple M2', vendor: 'Apple Inc.' } })?.kind).toBe('hardware');
    expect(judgeAdapter('webgpu', { webgpu: NVIDIA_GPU })?.kind).toBe('hardware');
    // A masked renderer (no WEBGL_debug_renderer_info) and empty adapter info say nothing either way.
    expect(judgeAdapter('webgl', { webgl: { renderer: 'WebKit WebGL', vendor: 'WebKit' } })?.kind).toBe('unknown');
    expect(judgeAdapter('webgpu', { webgpu: UNKNOWN_GPU })?.kind).toBe('unknown');
    expect(judgeAdapter('webgpu', { webgpu: null })?.kind).toBe('absent');
    expect(judgeAdapter('webgl', {})).toBeUndefined();
  });
});

describe("auto's plan", () => {
  const ORDER: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

  it('leaves software adapters out and says why', () => {
    const plan = autoPlan(ORDER, HEADLESS);
    expect(plan.order).toEqual(['wasm', 'cpu']);
    expect(plan.doubt).toEqual([]);
    expect(plan.skipped).toEqual([]);
    expect(plan.software).toEqual([
      { backend: 'webgpu', name: 'SwiftShader' },
      { backend: 'webgl', name: 'SwiftShader' },
    ]);
    expect(softwareText(plan.software)).toBe('WebGPU and WebGL are SwiftShader (software)');
    expect(
      softwareText([
        { backend: 'webgpu', name: 'a fallback adapter' },
        { backend: 'webgl', name: 'llvmpipe' },
      ]),
    ).toBe('WebGPU is a fallback adapter (software); WebGL is llvmpipe (software)');
  });

  it('keeps a hardware adapter in its place, and times nothing when one is present', () => {
    expect(autoPlan(ORDER, { webgpu: NVIDIA_GPU, webgl: NVIDIA_GL })).toMatchObject({
      order: ORDER,
      doubt: [],
    });
    expect(autoPlan(ORDER, { webgpu: null, webgl: NVIDIA_GL })).toMatchObject({
      order: ['webgl', 'wasm', 'cpu'],
      skipped: [{ backend: 'webgpu', reason: 'no WebGPU adapter' }],
    });
    // An unjudged WebGPU beside a hardware WebGL: the hardware is there, no timing.
    expect(autoPlan(ORDER, { webgpu: UNKNOWN_GPU, webgl: NVIDIA_GL }).doubt).toEqual([]);
    // A software WebGPU in front of a hardware WebGL: WebGL.
    expect(autoPlan(ORDER, { webgpu: HEADLESS.webgpu!, webgl: NVIDIA_GL }).order).toEqual(['webgl', 'wasm', 'cpu']);
  });

  it('puts adapters it cannot judge in doubt when no hardware one is present', () => {
    const plan = autoPlan(ORDER, { webgpu: UNKNOWN_GPU, webgl: HEADLESS.webgl! });
    expect(plan.order).toEqual(['webgpu', 'wasm', 'cpu']);
    expect(plan.doubt).toEqual(['webgpu']);
    // Nothing looked at (a host that does not gather facts): tried in order as before.
    expect(autoPlan(ORDER, {})).toEqual({ order: ORDER, software: [], skipped: [], doubt: [] });
  });

  it('picks the fastest timing, the earlier on a tie', () => {
    expect(
      pickFastest([
        { backend: 'webgpu', ms: 40 },
        { backend: 'wasm', ms: 12 },
      ]),
    ).toBe('wasm');
    expect(
      pickFastest([
        { backend: 'webgl', ms: 9 },
        { backend: 'wasm', ms: 9 },
      ]),
    ).toBe('webgl');
    expect(pickFastest([{ backend: 'webgpu', ms: NaN }])).toBeUndefined();
  });
});

/** A host whose backends start when listed in `works`, and whose timing is `ms[backend]` for the running one. */
function stubHost(facts: AdapterFacts, ms: Partial<Record<BackendName, number>>, cache?: CalibrationCache) {
  const calls = { starts: [] as BackendName[][], timed: [] as BackendName[] };
  let running: BackendName | null = null;
  return {
    calls,
    host: {
      facts,
      ...(cache ? { cache } : {}),
      start: async (candidates: readonly BackendName[]): Promise<BackendChoice> => {
        calls.starts.push([...candidates]);
        const skipped: BackendChoice['skipped'] = [];
        for (const b of candidates) {
          if (ms[b] !== undefined) {
            running = b;
            return { backend: b, skipped };
          }
          skipped.push({ backend: b, reason: 'failed to initialise' });
        }
        throw new Error('none started');
      },
      time: async () => {
        calls.timed.push(running!);
        return ms[running!]!;
      },
    },
  };
}

function memoryCache(): CalibrationCache & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, get: async (k) => map.get(k) ?? null, set: async (k, v) => void map.set(k, v) };
}

describe('chooseAuto', () => {
  const ORDER: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

  it('in headless Chromium takes wasm without timing anything, and says why in the label', async () => {
    const { host, calls } = stubHost(HEADLESS, { webgpu: 1, webgl: 1, wasm: 50, cpu: 500 });
    const choice = await chooseAuto(ORDER, host);
    expect(choice.backend).toBe('wasm');
    expect(calls.timed).toEqual([]);
    expect(calls.starts).toEqual([['wasm', 'cpu']]);
    expect(choice.why).toBe('WebGPU and WebGL are SwiftShader (software)');
    expect(choice.skipped).toEqual([]);
    expect(backendLabel({ ...choice, threads: 2 })).toBe(
      'wasm, 2 threads — WebGPU and WebGL are SwiftShader (software)',
    );
  });

  it('keeps a hardware GPU even where wasm would time faster (nothing is timed)', async () => {
    const { host, calls } = stubHost({ webgpu: NVIDIA_GPU, webgl: NVIDIA_GL }, { webgpu: 30, webgl: 30, wasm: 10 });
    const choice = await chooseAuto(ORDER, host);
    expect(choice.backend).toBe('webgpu');
    expect(choice.why).toBeUndefined();
    expect(calls.timed).toEqual([]);
  });

  it('times an adapter in doubt against wasm, takes the faster, and keeps the result per device', async () => {
    const cache = memoryCache();
    const facts = { webgpu: UNKNOWN_GPU, webgl: HEADLESS.webgl! };
    const slow = stubHost(facts, { webgpu: 40, wasm: 12 }, cache);
    const a = await chooseAuto(ORDER, slow.host);
    expect(a.backend).toBe('wasm');
    expect(slow.calls.timed).toEqual(['webgpu', 'wasm']);
    expect(a.why).toContain('WebGL is SwiftShader (software)');
    expect(a.why).toContain('measured fastest on this device: webgpu 40.0 ms, wasm 12.0 ms');
    expect(cache.map.size).toBe(1);

    // The same device again: the kept result, no timing (even if the stub would now time otherwise).
    const again = stubHost(facts, { webgpu: 1, wasm: 12 }, cache);
    expect((await chooseAuto(ORDER, again.host)).backend).toBe('wasm');
    expect(again.calls.timed).toEqual([]);

    // Another adapter is another key: timed, and here the GPU is faster.
    const fast = stubHost({ ...facts, webgpu: { ...UNKNOWN_GPU, device: '0x1234' } }, { webgpu: 5, wasm: 12 }, cache);
    expect(calibrationKey(fast.host.facts)).not.toBe(calibrationKey(facts));
    const b = await chooseAuto(ORDER, fast.host);
    expect(b.backend).toBe('webgpu');
    expect(fast.calls.timed).toEqual(['webgpu', 'wasm']);
    expect(cache.map.size).toBe(2);
  });

  it('times what starts when a candidate in doubt fails to start, and copes with a cache that fails', async () => {
    const broken: CalibrationCache = {
      get: () => Promise.reject(new Error('no IndexedDB')),
      set: () => Promise.reject(new Error('no IndexedDB')),
    };
    const { host, calls } = stubHost({ webgpu: UNKNOWN_GPU, webgl: null }, { wasm: 12 }, broken);
    const choice = await chooseAuto(ORDER, host);
    expect(choice.backend).toBe('wasm');
    expect(calls.timed).toEqual(['wasm']);
  });
});

describe('threads from what the machine gives now', () => {
  it('times 1, the cores the load leaves free, and every core', () => {
    expect(threadCandidates(2, 0.1)).toEqual([1, 2]);
    expect(threadCandidates(2, 1.0)).toEqual([1, 2]);
    expect(threadCandidates(8, 3.2)).toEqual([1, 5, 8]);
    expect(threadCandidates(16, 2)).toEqual([1, 8]);
    expect(threadCandidates(1, 0)).toEqual([1]);
    expect(threadCandidates(4)).toEqual([1, 4]);
  });

  it('takes more threads only when they are clearly faster', () => {
    // The numbers: one core busy, 2 threads 918 ms a step, 1 thread 828 ms.
    const busy = pickThreads([
      { threads: 2, ms: 918 },
      { threads: 1, ms: 828 },
    ]);
    expect(busy.threads).toBe(1);
    expect(busy.note).toBe('busy machine: timed 1 thread 828.0 ms, 2 threads 918.0 ms');
    expect(
      pickThreads([
        { threads: 1, ms: 828 },
        { threads: 2, ms: 480 },
      ]),
    ).toEqual({ threads: 2 });
    // 3 % faster is within the margin: one thread.
    expect(
      pickThreads([
        { threads: 1, ms: 828 },
        { threads: 2, ms: 800 },
      ]).threads,
    ).toBe(1);
    // Three counts: 5 threads clearly beat 1, 8 do not clearly beat 5.
    expect(
      pickThreads([
        { threads: 1, ms: 100 },
        { threads: 5, ms: 30 },
        { threads: 8, ms: 29 },
      ]).threads,
    ).toBe(5);
    expect(pickThreads([])).toEqual({ threads: 1 });
  });

  it('leaves wasm running on the count it picked', async () => {
    const run = async (ms: Record<number, number>, fail: number[] = []) => {
      const used: number[] = [];
      let current = 0;
      const r = await calibrateThreads([1, 2], {
        use: async (n) => {
          used.push(n);
          if (fail.includes(n)) throw new Error('did not start within 12 s');
          current = n;
        },
        time: async () => ms[current]!,
      });
      return { ...r, used, current };
    };
    // Quiet: 2 threads win, and were the last started: no third start.
    const quiet = await run({ 1: 16, 2: 9 });
    expect(quiet).toMatchObject({ threads: 2, used: [1, 2], current: 2 });
    expect(quiet.note).toBeUndefined();
    // Busy: 1 thread wins, so it is started again after 2 were timed.
    const busy = await run({ 1: 16, 2: 18 });
    expect(busy).toMatchObject({ threads: 1, used: [1, 2, 1], current: 1 });
    expect(busy.note).toMatch(/^busy machine/);
    // The threaded build fails: 1 thread, and the note says why.
    const failed = await run({ 1: 16, 2: 9 }, [2]);
    expect(failed).toMatchObject({ threads: 1, used: [1, 2, 1], current: 1 });
    expect(failed.note).toBe('threaded wasm failed: 2 threads: did not start within 12 s');
  });

  it('does not judge a pool by its first timing (its threads still starting)', async () => {
    // Measured here: 2 threads timed 110 ms on a fresh pool, then 26; 1 thread 25.
    const times: Record<number, number[]> = { 1: [25, 25], 2: [110, 13] };
    let current = 0;
    const r = await calibrateThreads([1, 2], {
      use: async (n) => {
        current = n;
      },
      time: async () => times[current]!.shift()!,
    });
    expect(r.threads).toBe(2);
    expect(r.timings).toEqual([
      { threads: 1, ms: 25 },
      { threads: 2, ms: 13 },
    ]);
  });
});

describe("Node's WebGPU", () => {
  it('judges its adapter as the page does', async () => {
    const { isSoftware } = await import('../src/cli/node/node-webgpu');
    expect(isSoftware('SwiftShader Device (Subzero)', {})).toBe(true);
    expect(isSoftware('llvmpipe (LLVM 15.0.7, 256 bits)', {})).toBe(true);
    expect(isSoftware('a WebGPU adapter', { info: { isFallbackAdapter: true } })).toBe(true);
    expect(isSoftware('NVIDIA GeForce RTX 3060', { info: { vendor: 'nvidia' } })).toBe(false);
  });
});

describe('Node wasm without --threads', () => {
  it('times the counts at start and leaves wasm running on the one it reports', async () => {
    const { startNodeBackend } = await import('../src/cli/node/node-tf');
    const { availableParallelism } = await import('node:os');
    const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
    const choice = await startNodeBackend('wasm');
    expect(choice.backend).toBe('wasm');
    const most = Math.min(8, availableParallelism());
    expect(choice.threads).toBeGreaterThanOrEqual(1);
    expect(choice.threads).toBeLessThanOrEqual(most);
    // The pool that runs is the one reported (the pick was started again when it was not the last timed).
    expect(getThreadsCount()).toBe(choice.threads);
    // Fewer than every core only with a reason the status line shows (here the machine may well be busy).
    if (choice.threads! < most)
      expect(choice.threadsNote).toMatch(/^(busy machine: timed 1 thread|threaded wasm failed)/);
    else expect(choice.threadsNote).toBeUndefined();
  }, 60_000);

  it('a second start in the process keeps the timed count, and the tensors made before it stay readable', async () => {
    const { startNodeBackend } = await import('../src/cli/node/node-tf');
    const tf = await import('@tensorflow/tfjs');
    const first = await startNodeBackend('wasm');
    const kept = tf.tensor1d([1, 2, 3]);
    const again = await startNodeBackend('wasm');
    expect(again.threads).toBe(first.threads);
    expect(again.threadsNote).toBe(first.threadsNote);
    expect(Array.from(kept.dataSync())).toEqual([1, 2, 3]);
    kept.dispose();
  }, 60_000);
});
