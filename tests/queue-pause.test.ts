// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { useGraphStore } from '../src/editor/stores/graph';
import { useQueueStore, type QueuedRun } from '../src/editor/stores/queue';
import { useRunStore } from '../src/editor/stores/run';
import { useSettingsStore } from '../src/editor/stores/settings';
import { loadPreset } from './helpers';

/**
 * Issue 26: Pause holds the run queue (waiting runs start only on Resume) and pauses the run going on between its
 * steps (a 'pause' to the worker; Resume sends 'resume').
 */
beforeEach(() => {
  localStorage.clear();
  setActivePinia(createPinia());
});

const withGatys = () => {
  const g = useGraphStore();
  g.load(loadPreset('gatys.json'), 'gatys.json');
  return g;
};

describe('queue store: pause and resume', () => {
  const queued = (seed: number): QueuedRun => {
    const q = useQueueStore();
    return {
      key: q.nextKey(),
      label: `seed ${seed}`,
      model: useGraphStore().model,
      size: 32,
      seed,
      sweep: false,
      probe: [],
    };
  };

  it('takes nothing while paused, keeps what is added meanwhile in order, and tells its listeners once on resume', () => {
    withGatys();
    const q = useQueueStore();
    const resumed = vi.fn();
    q.onResume(resumed);
    q.add(queued(1));
    q.pause();
    expect(q.paused).toBe(true);
    q.add(queued(2));
    expect(q.take()).toBeNull();
    expect(q.items.map((r) => r.seed)).toEqual([1, 2]);
    // Resuming a queue that is not paused tells nobody.
    q.resume();
    expect(resumed).toHaveBeenCalledTimes(1);
    q.resume();
    expect(resumed).toHaveBeenCalledTimes(1);
    expect(q.paused).toBe(false);
    expect(q.take()?.seed).toBe(1);
    expect(q.take()?.seed).toBe(2);
    expect(q.take()).toBeNull();
  });
});

describe('run store with a paused queue', () => {
  const receive = (m: unknown) =>
    (globalThis as unknown as { __lastWorker: { onmessage(e: { data: unknown }): void } }).__lastWorker.onmessage({
      data: m,
    });
  const ready = () =>
    receive({ type: 'ready', choice: { backend: 'wasm', skipped: [] }, weights: [], shapes: {}, errors: [] });
  const done = (id: number) => ({
    type: 'done' as const,
    id,
    status: 'done' as const,
    diagnostics: [],
    outputs: {},
    weights: [],
    reused: { hits: 0, misses: 0 },
    ms: 10,
  });
  const sentSeeds = () =>
    (
      globalThis as unknown as { __lastWorker: { sent: { type: string; id: number; request: { seed: number } }[] } }
    ).__lastWorker.sent
      .filter((m) => m.type === 'run')
      .map((m) => ({ id: m.id, seed: m.request.seed }));

  beforeEach(() => {
    // A stand-in for the run worker: it records what it is sent.
    class FakeWorker {
      sent: unknown[] = [];
      onmessage: ((e: { data: unknown }) => void) | null = null;
      onerror: unknown = null;
      constructor() {
        (globalThis as unknown as { __lastWorker: FakeWorker }).__lastWorker = this;
      }
      postMessage(m: unknown) {
        this.sent.push(structuredClone(m));
      }
      terminate() {}
    }
    vi.stubGlobal('Worker', FakeWorker);
    vi.stubGlobal('fetch', async () => new Response(new Uint8Array(0)));
  });

  const sent = () =>
    (globalThis as unknown as { __lastWorker: { sent: { type: string; id: number }[] } }).__lastWorker.sent.filter(
      (m) => m.type === 'pause' || m.type === 'resume' || m.type === 'stop',
    );
  const step = (id: number, n: number) => ({
    type: 'event' as const,
    id,
    event: { type: 'step' as const, total: 50, step: n, loss: 10 - n, terms: {}, ms: 5, evaluations: 1 },
  });

  it('pauses the run going on between steps: the run bar says where, Resume goes on from there, Stop while paused stops', async () => {
    withGatys();
    const run = useRunStore();
    const queue = useQueueStore();
    run.init();
    ready();
    await run.run();
    await vi.waitFor(() => expect(sentSeeds()).toHaveLength(1));
    const id = sentSeeds()[0]!.id;
    receive(step(id, 0));
    receive(step(id, 1));
    queue.pause();
    expect(sent()).toEqual([{ type: 'pause', id }]);
    expect(run.message).toBe('pausing after this step');
    receive(step(id, 2));
    receive({ type: 'event', id, event: { type: 'paused', step: 2, total: 50 } });
    expect(run.paused).toEqual({ step: 2, total: 50 });
    expect(run.message).toMatch(/^paused at step 2 of 50/);
    expect(run.phase).toBe('running');
    queue.resume();
    expect(sent()).toEqual([
      { type: 'pause', id },
      { type: 'resume', id },
    ]);
    receive({ type: 'event', id, event: { type: 'resumed', step: 2, total: 50 } });
    expect(run.paused).toBeNull();
    receive(step(id, 3));
    expect(run.lastStep).toBe(3);
    // Paused again, then stopped: the stop goes to the worker, which ends the run.
    queue.pause();
    receive({ type: 'event', id, event: { type: 'paused', step: 3, total: 50 } });
    run.stop();
    expect(sent().map((m) => m.type)).toEqual(['pause', 'resume', 'pause', 'stop']);
    receive({ ...done(id), status: 'cancelled' });
    expect(run.paused).toBeNull();
    expect(run.message).toMatch(/^stopped after 3 steps/);
    // No run goes on: Resume has none to resume, and sends nothing.
    queue.resume();
    expect(sent().map((m) => m.type)).toEqual(['pause', 'resume', 'pause', 'stop']);
  });

  it('starts none of the runs queued while paused when the run going on ends, and starts the next on Resume', async () => {
    withGatys();
    const settings = useSettingsStore();
    const run = useRunStore();
    const queue = useQueueStore();
    run.init();
    ready();
    await run.run();
    await vi.waitFor(() => expect(sentSeeds()).toHaveLength(1));
    queue.pause();
    for (const seed of [1, 2]) {
      settings.seed = seed;
      await run.run();
    }
    receive(done(sentSeeds()[0]!.id));
    expect(run.phase).toBe('ready');
    expect(run.message).toMatch(/queue paused, 2 waiting/);
    // A Run asked for while none goes on waits too, and says why.
    settings.seed = 3;
    await run.run();
    expect(run.message).toMatch(/the queue is paused \(3 waiting/);
    await new Promise((r) => setTimeout(r, 50));
    expect(sentSeeds().map((m) => m.seed)).toEqual([0]);
    expect(run.queue.map((q) => q.seed)).toEqual([1, 2, 3]);
    expect(run.phase).toBe('ready');

    queue.resume();
    expect(run.phase).toBe('running');
    await vi.waitFor(() => expect(sentSeeds().map((m) => m.seed)).toEqual([0, 1]));
    receive(done(sentSeeds()[1]!.id));
    await vi.waitFor(() => expect(sentSeeds().map((m) => m.seed)).toEqual([0, 1, 2]));
    expect(run.queue.map((q) => q.seed)).toEqual([3]);
  });
});
