import { beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { parseDocument } from '../src/graph/document';
import type { GraphModel } from '../src/graph/model';
import { PauseGate, runSession, type RunRequest, type SessionEvent } from '../src/runtime/session';
import type { DecodedImage } from '../src/runtime/sources';
import type { FromWorker } from '../src/web/protocol';
import { PauseGates, runInWorker } from '../src/web/runner';
import { nodeWorkerDeps, pixelTvDocument } from './small-run';

/**
 * Issue 26, pause in the run queue: a run paused between its steps keeps its state (the image, Adam's moments,
 * L-BFGS's history) and goes on from the same step, giving the losses an uninterrupted run gives; Stop while paused
 * stops; a run without steps is not held.
 */
const registry = builtinRegistry();
beforeAll(async () => {
  await startNodeBackend('wasm');
});

/** A 16 x 16 picture with some structure, so the losses change from step to step. */
const picture: DecodedImage = (() => {
  const data = new Uint8ClampedArray(16 * 16 * 4);
  for (let i = 0; i < 16 * 16; i++) {
    const [x, y] = [i % 16, Math.floor(i / 16)];
    data.set([(x * 16) % 256, (y * 13 + 40) % 256, ((x + y) * 7) % 256, 255], i * 4);
  }
  return { width: 16, height: 16, data };
})();

/** The small optimisation graph's document (pixel loss to the picture, total variation) run with `method`. */
const documentOf = (method: 'adam' | 'lbfgs') => pixelTvDocument('pause', { method, steps: 8 });

function graph(method: 'adam' | 'lbfgs'): GraphModel {
  const parsed = parseDocument(JSON.stringify(documentOf(method)));
  if (!parsed.model) throw new Error(JSON.stringify(parsed.diagnostics));
  return parsed.model;
}

const request: RunRequest = { size: 16, seed: 5, steps: 8 };
const readImage = async () => picture;
/** The step events' numbers, losses and terms (their times differ from run to run). */
const losses = (events: readonly SessionEvent[]) =>
  events.flatMap((e) => (e.type === 'step' ? [{ step: e.step, loss: e.loss, terms: e.terms }] : []));
/** Long enough for many steps of this graph (each yields to the event loop): a run not held would go on meanwhile. */
const settle = () => new Promise((r) => setTimeout(r, 300));

async function uninterrupted(method: 'adam' | 'lbfgs') {
  const events: SessionEvent[] = [];
  const r = await runSession(graph(method), registry, request, { tf, readImage, onEvent: (e) => events.push(e) });
  expect(r.status, r.error).toBe('done');
  return losses(events);
}

/** Runs with a gate held once step `k` is reported; resolves `held` with the step the run says it waits at. */
function pausedAt(method: 'adam' | 'lbfgs', k: number, signal?: AbortSignal) {
  const gate = new PauseGate();
  const events: SessionEvent[] = [];
  let heldAt: (step: number) => void = () => {};
  const held = new Promise<number>((r) => (heldAt = r));
  const result = runSession(graph(method), registry, request, {
    tf,
    readImage,
    pause: gate,
    ...(signal ? { signal } : {}),
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'step' && e.step === k) gate.pause();
      if (e.type === 'paused') heldAt(e.step);
    },
  });
  return { gate, events, held, result };
}

describe('PauseGate', () => {
  it('lets a waiter through while open, holds it while paused until resume, and lets it go when the signal aborts', async () => {
    const gate = new PauseGate();
    await gate.wait();
    let passed = 0;
    gate.pause();
    gate.pause();
    expect(gate.paused).toBe(true);
    const first = gate.wait().then(() => passed++);
    await settle();
    expect(passed).toBe(0);
    gate.resume();
    await first;
    expect(passed).toBe(1);
    expect(gate.paused).toBe(false);
    // Paused again and never resumed: Stop (the signal) lets the waiter go.
    gate.pause();
    const stop = new AbortController();
    const second = gate.wait(stop.signal).then(() => passed++);
    await settle();
    expect(passed).toBe(1);
    stop.abort();
    await second;
    expect(passed).toBe(2);
    expect(gate.paused).toBe(true);
  });
});

describe('a session paused between steps', () => {
  for (const method of ['lbfgs', 'adam'] as const)
    it(`${method}: paused at step 3, held, resumed, gives every step's loss and terms of an uninterrupted run`, async () => {
      const reference = await uninterrupted(method);
      expect(reference.map((s) => s.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      expect(reference.at(-1)!.loss).toBeLessThan(reference[0]!.loss);

      const { gate, events, held, result } = pausedAt(method, 3);
      // A run that ends without pausing fails here at once (-1), not by a timeout.
      expect(await Promise.race([held, result.then(() => -1)])).toBe(3);
      const seen = losses(events).length;
      await settle();
      // Held: no step was taken meanwhile.
      expect(losses(events).length).toBe(seen);
      expect(losses(events).at(-1)!.step).toBe(3);
      gate.resume();
      const r = await result;
      expect(r.status, r.error).toBe('done');
      expect(losses(events)).toEqual(reference);
      const marks = events.filter((e) => e.type === 'paused' || e.type === 'resumed');
      expect(marks).toEqual([
        { type: 'paused', step: 3, total: 8 },
        { type: 'resumed', step: 3, total: 8 },
      ]);
    });

  it('stops while paused: cancelled at the step it paused at', async () => {
    const stop = new AbortController();
    const { events, held, result } = pausedAt('adam', 2, stop.signal);
    expect(await Promise.race([held, result.then(() => -1)])).toBe(2);
    stop.abort();
    const r = await result;
    expect(r.status).toBe('cancelled');
    expect(losses(events).map((s) => s.step)).toEqual([0, 1, 2]);
    expect(events.some((e) => e.type === 'resumed')).toBe(false);
  });

  it('does not hold a run without steps (one pass), even with the gate held from the start', async () => {
    const gate = new PauseGate();
    gate.pause();
    const model = {
      ...graph('adam'),
      nodes: graph('adam').nodes.filter((n) => n.id === 'content' || n.id === 'output'),
      edges: [{ from: { node: 'content', output: 'image' }, to: { node: 'output', input: 'image' } }],
    };
    const events: SessionEvent[] = [];
    const r = await runSession(
      model,
      registry,
      { size: 16, seed: 5 },
      {
        tf,
        readImage,
        pause: gate,
        onEvent: (e) => events.push(e),
      },
    );
    expect(r.status, r.error).toBe('done');
    expect(Object.keys(r.outputs)).toHaveLength(1);
    expect(events.some((e) => e.type === 'paused')).toBe(false);
  });
});

describe("the editor's worker: pause and resume messages", () => {
  it('holds the run at the step the pause came after, says so, and resumes it to the same losses', async () => {
    const reference = await uninterrupted('lbfgs');
    const gates = new PauseGates();
    const posted: FromWorker[] = [];
    let heldAt: (step: number) => void = () => {};
    const held = new Promise<number>((r) => (heldAt = r));
    const stepsPosted = () => posted.filter((m) => m.type === 'event' && m.event.type === 'step').length;
    const running = runInWorker(
      { type: 'run', id: 4, document: JSON.stringify(documentOf('lbfgs')), base: '/', uploads: {}, request },
      nodeWorkerDeps(
        readImage,
        (m) => {
          posted.push(m);
          if (m.type !== 'event') return;
          // The page's Pause, as the worker receives it, after step 5 was reported.
          if (m.event.type === 'step' && m.event.step === 5) expect(gates.receive({ type: 'pause', id: 4 })).toBe(true);
          if (m.event.type === 'paused') heldAt(m.event.step);
        },
        registry,
      ),
      new AbortController().signal,
      gates.of(4),
    );
    // A run that ended without pausing fails here, not by a timeout.
    expect(await Promise.race([held, running.then(() => JSON.stringify(posted.at(-1)))])).toBe(5);
    const seen = stepsPosted();
    await settle();
    expect(stepsPosted()).toBe(seen);
    // A run the worker does not know is left alone.
    expect(gates.receive({ type: 'resume', id: 99 })).toBe(false);
    expect(gates.receive({ type: 'resume', id: 4 })).toBe(true);
    await running;
    gates.end(4);
    const done = posted.find((m) => m.type === 'done');
    expect(done?.type === 'done' && done.status).toBe('done');
    const steps = posted.flatMap((m) =>
      m.type === 'event' && m.event.type === 'step'
        ? [{ step: m.event.step, loss: m.event.loss, terms: m.event.terms }]
        : [],
    );
    expect(steps).toEqual(reference);
    expect(posted.some((m) => m.type === 'event' && m.event.type === 'resumed' && m.event.step === 5)).toBe(true);
  });
});
