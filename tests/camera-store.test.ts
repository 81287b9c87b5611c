// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { useCameraStore } from '../src/editor/stores/camera';
import { useGraphStore } from '../src/editor/stores/graph';
import { useRunStore } from '../src/editor/stores/run';
import { useSettingsStore } from '../src/editor/stores/settings';
import { loadPreset } from './helpers';

/**
 * The camera store wired to the real run store, with stand-ins for what happy-dom lacks: the run worker (records
 * what it is sent), the camera (getUserMedia), the video's size and createImageBitmap. Frames are offered by the
 * store's own clock (happy-dom has no requestVideoFrameCallback).
 */
interface Sent {
  type: string;
  id: number;
  live?: boolean;
  request?: { size: number };
  frame?: { width: number; height: number };
  document?: string;
}
let worker: { sent: Sent[]; onmessage: ((e: { data: unknown }) => void) | null };
const receive = (m: unknown) => worker.onmessage!({ data: m });
const liveRuns = () => worker.sent.filter((m) => m.type === 'run' && m.live);
const image = (v: number) => ({ width: 2, height: 1, data: new Uint8ClampedArray([v, v, v, 255, v, v, v, 255]) });
const answer = (id: number, v: number, status = 'done', error?: string) =>
  receive({
    type: 'live-done',
    id,
    status,
    ...(error ? { error } : {}),
    outputs: status === 'done' ? { out: image(v) } : {},
    ms: 40,
    reused: { hits: 2, misses: 3 },
    weights: [],
  });

beforeEach(() => {
  localStorage.clear();
  setActivePinia(createPinia());
  class FakeWorker {
    sent: Sent[] = [];
    onmessage: ((e: { data: unknown }) => void) | null = null;
    onerror: unknown = null;
    constructor() {
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the test keeps the one worker the store made, to talk to it
      worker = this;
    }
    postMessage(m: Sent & { frame?: unknown }) {
      // A frame is transferred; the rest must clone.
      const { frame, ...rest } = m;
      this.sent.push({
        ...structuredClone(rest),
        ...(frame ? { frame: frame as { width: number; height: number } } : {}),
      });
    }
  }
  vi.stubGlobal('Worker', FakeWorker);
  vi.stubGlobal('fetch', async () => new Response(new Uint8Array(0)));
  vi.stubGlobal('createImageBitmap', async (_v: unknown, o: { resizeWidth: number; resizeHeight: number }) => ({
    width: o.resizeWidth,
    height: o.resizeHeight,
    close: () => {},
  }));
  const stream = { getTracks: () => [{ stop: () => {} }] };
  Object.defineProperty(navigator, 'mediaDevices', {
    configurable: true,
    value: { getUserMedia: vi.fn(async () => stream) },
  });
});

async function live(preset = 'adain-camera.json') {
  const g = useGraphStore();
  g.load(loadPreset(preset), preset);
  useSettingsStore().size = 64;
  const run = useRunStore();
  run.init();
  receive({ type: 'ready', choice: { backend: 'wasm', skipped: [] }, weights: [], shapes: {}, errors: [] });
  const camera = useCameraStore();
  // A 640x480 camera; happy-dom's video has no pictures of its own.
  Object.defineProperty(camera.video, 'videoWidth', { configurable: true, value: 640 });
  Object.defineProperty(camera.video, 'videoHeight', { configurable: true, value: 480 });
  Object.defineProperty(camera.video, 'srcObject', { configurable: true, writable: true, value: null });
  camera.video.play = async () => {};
  camera.video.pause = () => {};
  await camera.start();
  return { g, run, camera };
}

const settle = (ms = 120) => new Promise((r) => setTimeout(r, ms));

describe('camera store', () => {
  it('sends one frame at a time, scaled to the run size, and shows each answer as the output', async () => {
    const { run, camera } = await live();
    expect(camera.status).toBe('live');
    await vi.waitFor(() => expect(liveRuns()).toHaveLength(1));
    // Many camera frames go by while the worker is busy: still one in flight.
    await settle(200);
    expect(liveRuns()).toHaveLength(1);
    const first = liveRuns()[0]!;
    expect(first.frame).toMatchObject({ width: 64, height: 48 });
    expect(first.request?.size).toBe(64);
    expect(first.id).toBeLessThan(0); // live ids never collide with the queue's runs
    expect(JSON.parse(first.document!).nodes.find((n: { id: string }) => n.id === 'camera').type).toBe('camera');
    answer(first.id, 10);
    expect(run.output?.data[0]).toBe(10);
    expect(camera.stats).toMatchObject({ frames: 1, reused: 2 });
    // The answer lets the next (newest) frame go.
    await vi.waitFor(() => expect(liveRuns()).toHaveLength(2));
    answer(liveRuns()[1]!.id, 20);
    expect(run.output?.data[0]).toBe(20);
    expect(run.message).toMatch(/^live camera/);
    expect(run.history).toHaveLength(0); // live frames stay out of the history
  });

  it('a slider moved while live reaches the next frame (the document is read at send time)', async () => {
    const { g } = await live();
    await vi.waitFor(() => expect(liveRuns()).toHaveLength(1));
    g.setParam('adain', 'alpha', 0.25);
    answer(liveRuns()[0]!.id, 1);
    await vi.waitFor(() => expect(liveRuns()).toHaveLength(2));
    const alpha = (doc: string) => JSON.parse(doc).nodes.find((n: { id: string }) => n.id === 'adain').params.alpha;
    expect(alpha(liveRuns()[0]!.document!)).toBe(1);
    expect(alpha(liveRuns()[1]!.document!)).toBe(0.25);
  });

  it('Pause runs the frozen picture once more and keeps it; Pin puts it in the history, pinned', async () => {
    const { run, camera } = await live();
    await vi.waitFor(() => expect(liveRuns()).toHaveLength(1));
    const pausing = camera.pause();
    expect(camera.status).toBe('pausing');
    answer(liveRuns()[0]!.id, 5); // the frame in flight still shows
    await vi.waitFor(() => expect(liveRuns()).toHaveLength(2));
    answer(liveRuns()[1]!.id, 7); // the frozen picture's answer
    await pausing;
    expect(camera.status).toBe('paused');
    expect(camera.frozen?.data[0]).toBe(7);
    expect(run.output?.data[0]).toBe(7);
    await settle(150);
    expect(liveRuns()).toHaveLength(2); // nothing more is sent while paused
    camera.pinFrame();
    expect(run.history[0]).toMatchObject({ pinned: true });
    expect(run.history[0]!.label).toMatch(/camera frame/);
    expect(run.pinned?.image.data[0]).toBe(7);
  });

  it('a failed frame stops the loop and says why', async () => {
    const { camera } = await live();
    await vi.waitFor(() => expect(liveRuns()).toHaveLength(1));
    answer(liveRuns()[0]!.id, 0, 'failed', 'out of memory');
    expect(camera.error).toBe('out of memory');
    expect(camera.status).toBe('paused');
    await settle(150);
    expect(liveRuns()).toHaveLength(1);
  });

  it('refuses live mode for an optimisation graph, and a Run of it carries the camera picture once', async () => {
    const { g, run, camera } = await (async () => {
      const ctx = await live('gatys.json');
      // Gatys with its photo replaced by the camera.
      const next = structuredClone(ctx.g.model);
      const n = next.nodes.find((x) => x.id === 'content')!;
      n.type = 'camera';
      n.params = { source: 'camera:' };
      ctx.g.commit(next);
      return ctx;
    })();
    expect(camera.liveBlocked).toMatch(/live mode needs a feed-forward graph.*"optim"/);
    await settle(150);
    expect(liveRuns()).toHaveLength(0);
    expect(g.model.nodes.some((n) => n.type === 'camera')).toBe(true);
    await run.run();
    await vi.waitFor(() => expect(worker.sent.filter((m) => m.type === 'run')).toHaveLength(1));
    const sent = worker.sent.find((m) => m.type === 'run')!;
    expect(sent.live).toBeUndefined();
    expect(sent.frame).toMatchObject({ width: 64, height: 48 });
  });

  it('turns the camera off when the graph loses its camera node', async () => {
    const { g, camera } = await live();
    g.remove(['camera']);
    await settle(0);
    expect(camera.status).toBe('off');
  });
});
