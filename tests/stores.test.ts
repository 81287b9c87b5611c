// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { serialiseDocument } from '../src/graph/document';
import { AUTOSAVE_KEY, recoverAutosave, useGraphStore } from '../src/editor/stores/graph';
import { keepHistory, STOP_GRACE_MS, useRunStore } from '../src/editor/stores/run';
import { useSettingsStore } from '../src/editor/stores/settings';
import { loadPreset } from './helpers';

beforeEach(() => {
  localStorage.clear();
  setActivePinia(createPinia());
});

const withGatys = () => {
  const g = useGraphStore();
  g.load(loadPreset('gatys.json'), 'gatys.json');
  return g;
};

describe('graph store', () => {
  it('undoes and redoes edits, one step each, and a new edit clears the redo list', () => {
    const g = withGatys();
    const start = g.model;
    g.remove(['tv']);
    g.setParam('content_loss', 'weight', 2);
    expect(g.model.nodes.some((n) => n.id === 'tv')).toBe(false);
    g.undo();
    expect(g.model.nodes.find((n) => n.id === 'content_loss')!.params.weight).not.toBe(2);
    g.undo();
    expect(g.model).toBe(start);
    expect(g.canUndo).toBe(false);
    g.redo();
    expect(g.model.nodes.some((n) => n.id === 'tv')).toBe(false);
    g.add('scalar', { x: 0, y: 0 });
    expect(g.canRedo).toBe(false);
  });

  it('merges quick edits of one parameter (a slider drag) into one undo step, but not edits of different ones', () => {
    const g = withGatys();
    const start = g.model;
    for (const v of [0.1, 0.2, 0.3]) g.setParam('tv', 'weight', v);
    g.setParam('content_loss', 'weight', 3);
    expect(g.past).toHaveLength(2);
    g.undo();
    g.undo();
    expect(g.model).toBe(start);
  });

  it('refuses a wrong connection with a notice and leaves the graph as it was', () => {
    const g = withGatys();
    const before = g.model;
    const why = g.connect({ node: 'content', socket: 'image' }, { node: 'content_loss', socket: 'input' });
    expect(why).toMatch(/Image output cannot feed a Features input/);
    expect(g.notice).toMatchObject({ error: true });
    expect(g.model).toBe(before);
  });

  it('leaves the open graph untouched when a bad document is opened, and makes a good one undoable', () => {
    const g = withGatys();
    const before = g.model;
    expect(g.open('{"format": "stylegraph", "version": 1, "nodes": ', 'broken.json')).toBe(false);
    expect(g.model).toBe(before);
    expect(g.notice!.text).toMatch(/broken.json was not opened: not valid JSON/);
    expect(g.open(serialiseDocument(loadPreset('adain.json')), 'adain.json')).toBe(true);
    expect(g.fileName).toBe('adain.json');
    g.undo();
    expect(g.model).toBe(before);
  });

  it('copies a selection and pastes it with fresh ids, selecting the copies', () => {
    const g = withGatys();
    g.selection = ['style', 'enc_style'];
    expect(g.copy()).toBe(2);
    g.paste();
    expect(g.selection).toEqual(['style_2', 'enc_style_2']);
    g.paste();
    expect(g.selection).toEqual(['style_3', 'enc_style_3']);
  });

  it('groups the selection, acts on a group box as on its members, and ungroups', () => {
    const g = withGatys();
    g.selection = ['style', 'enc_style'];
    g.group();
    expect(g.selection).toEqual(['group:group']);
    expect(g.view.nodes.some((n) => n.id === 'style')).toBe(false);
    g.bypass(['group:group']);
    expect(g.model.nodes.filter((n) => n.bypass).map((n) => n.id)).toEqual(['style', 'enc_style']);
    g.ungroup('group');
    expect(g.selection).toEqual(['style', 'enc_style']);
    expect(g.model.groups).toBeUndefined();
  });

  it('autosaves the graph and recovers it', async () => {
    vi.useFakeTimers();
    try {
      const g = withGatys();
      g.setParam('tv', 'weight', 0.25);
      await Promise.resolve();
      vi.advanceTimersByTime(400);
      expect(JSON.parse(localStorage.getItem(AUTOSAVE_KEY)!).document).toContain('"weight": 0.25');
      const back = recoverAutosave()!;
      expect(back.name).toBe('gatys.json');
      expect(back.model.nodes.find((n) => n.id === 'tv')!.params.weight).toBe(0.25);
    } finally {
      vi.useRealTimers();
    }
  });

  it('puts diagnostics on the node they concern, and shapes on the values', () => {
    const g = withGatys();
    g.setParam('content_loss', 'weight', -1);
    expect(g.diagnosticsByNode.get('content_loss')?.[0]?.message).toMatch(/content_loss.weight/);
    g.undo();
    useSettingsStore().size = 64;
    expect(g.shapes.get('enc_content.conv4_2')).toEqual([1, 8, 8, 512]);
  });
});

describe('run store', () => {
  it('says why Run is disabled', () => {
    const g = withGatys();
    const run = useRunStore();
    expect(run.blocked).toBe('TensorFlow.js is starting');
    g.remove(['output']);
    // Something the person must fix is said while TensorFlow.js still starts.
    expect(run.blocked).toMatch(/no output node/);
    g.undo();
    run.phase = 'ready';
    expect(run.blocked).toBeNull();
    g.remove(['output']);
    expect(run.blocked).toMatch(/no output node/);
    g.load({ nodes: [], edges: [], metadata: {}, extra: {} });
    expect(run.blocked).toBe('the graph is empty');
  });

  it('runs past a node fresh from the palette, and says why when it cannot run instead of saying ready', async () => {
    const g = withGatys();
    const run = useRunStore();
    run.phase = 'ready';
    run.message = 'ready';
    g.add('style-loss', { x: 0, y: 0 });
    expect(run.blocked).toBeNull();
    expect(g.diagnostics.some((d) => d.severity === 'warning' && /left out/.test(d.message))).toBe(true);
    g.remove(['output']);
    await Promise.resolve();
    expect(run.message).toMatch(/^cannot run: error: /);
    await run.run(); // Ctrl+Enter
    expect(run.message).toMatch(/^cannot run: error: /);
    g.undo();
    await Promise.resolve();
    expect(run.message).toBe('ready');
  });
});

describe('run store: the queue and the history', () => {
  const doneMessage = (
    id: number,
    image: { width: number; height: number; data: Uint8ClampedArray<ArrayBuffer> } | null,
  ) => ({
    type: 'done' as const,
    id,
    status: 'done' as const,
    diagnostics: [],
    outputs: image ? { out: image } : {},
    weights: [],
    reused: { hits: 0, misses: 0 },
    ms: 1200,
  });
  const receive = (m: unknown) =>
    (globalThis as unknown as { __lastWorker: { onmessage(e: { data: unknown }): void } }).__lastWorker.onmessage({
      data: m,
    });

  beforeEach(() => {
    // A stand-in for the run worker: it records what it is sent.
    class FakeWorker {
      sent: { type: string; id?: number; seed?: number; document?: string }[] = [];
      onmessage: ((e: { data: unknown }) => void) | null = null;
      onerror: unknown = null;
      constructor() {
        (globalThis as unknown as { __lastWorker: FakeWorker }).__lastWorker = this;
      }
      postMessage(m: { type: string }) {
        // As a real worker does: what cannot be cloned (a reactive proxy) throws.
        this.sent.push(structuredClone(m));
      }
      terminate() {}
    }
    vi.stubGlobal('Worker', FakeWorker);
    // The page fetches what the worker cannot (wasm files, a run's images): here every file is empty.
    vi.stubGlobal('fetch', async () => new Response(new Uint8Array(0)));
  });
  const sentRuns = () =>
    (
      globalThis as unknown as {
        __lastWorker: { sent: { type: string; id: number; request: { seed: number }; document: string }[] };
      }
    ).__lastWorker.sent.filter((m) => m.type === 'run');

  it('queues the graph as it was when asked while a run goes on, runs the queue in order (reordered, one cancelled), and keeps a history', async () => {
    const g = withGatys();
    const settings = useSettingsStore();
    const run = useRunStore();
    run.init();
    receive({ type: 'ready', choice: { backend: 'wasm', skipped: [] }, weights: [], shapes: {}, errors: [] });
    await run.run();
    expect(run.phase).toBe('running');
    // The run is sent once the page has the images it reads.
    await vi.waitFor(() => expect(sentRuns()).toHaveLength(1));
    // While it runs: three variants, each with its own settings at the time.
    for (const seed of [1, 2, 3]) {
      settings.seed = seed;
      g.setParam('content_loss', 'weight', seed * 10);
      await run.run();
    }
    expect(run.queue.map((q) => q.seed)).toEqual([1, 2, 3]);
    run.moveQueued(run.queue[2]!.key, -1); // 1, 3, 2
    run.cancelQueued(run.queue[0]!.key); // 3, 2
    expect(run.queue.map((q) => q.seed)).toEqual([3, 2]);

    const image = { width: 1, height: 1, data: new Uint8ClampedArray([1, 2, 3, 255]) };
    receive(doneMessage(sentRuns()[0]!.id, image));
    await vi.waitFor(() => expect(sentRuns().map((m) => m.request.seed)).toEqual([0, 3]));
    const doc = JSON.parse(sentRuns()[1]!.document);
    expect(doc.nodes.find((n: { id: string }) => n.id === 'content_loss').params.weight).toBe(30);
    receive(doneMessage(sentRuns()[1]!.id, null));
    await vi.waitFor(() => expect(sentRuns().map((m) => m.request.seed)).toEqual([0, 3, 2]));
    receive(doneMessage(sentRuns()[2]!.id, null));
    expect(run.phase).toBe('ready');
    expect(run.queue).toEqual([]);
    expect(run.history.map((h) => h.label.split(' ')[0])).toEqual(['#3', '#4', '#1']);
    run.pinHistory(run.history[2]!.key);
    expect(run.pinned?.image).toBe(run.history[2]!.image);
    expect(run.history[2]!.pinned).toBe(true);
  });

  it('a Stop the worker does not answer within STOP_GRACE_MS ends it, and the runs queued after it start in the new worker', async () => {
    withGatys();
    const settings = useSettingsStore();
    const run = useRunStore();
    run.init();
    receive({ type: 'ready', choice: { backend: 'wasm', skipped: [] }, weights: [], shapes: {}, errors: [] });
    await run.run();
    await vi.waitFor(() => expect(sentRuns()).toHaveLength(1));
    const first = (globalThis as unknown as { __lastWorker: object }).__lastWorker;
    for (const seed of [5, 6]) {
      settings.seed = seed;
      await run.run();
    }
    expect(run.queue.map((q) => q.seed)).toEqual([5, 6]);
    run.stop();
    // The worker never answers (a step that never yields): after the grace a new worker starts; the queue is kept.
    await vi.waitFor(() => expect((globalThis as unknown as { __lastWorker: object }).__lastWorker).not.toBe(first), {
      timeout: STOP_GRACE_MS + 2000,
    });
    expect(run.queue.map((q) => q.seed)).toEqual([5, 6]);
    expect(run.history.map((h) => h.status)).toEqual(['cancelled']);
    receive({ type: 'ready', choice: { backend: 'wasm', skipped: [] }, weights: [], shapes: {}, errors: [] });
    await vi.waitFor(() => expect(sentRuns().map((m) => m.request.seed)).toEqual([5]));
    expect(run.queue.map((q) => q.seed)).toEqual([6]);
  });

  it('a Stop the worker answers does not end it, however long its step takes', async () => {
    withGatys();
    const run = useRunStore();
    run.init();
    receive({ type: 'ready', choice: { backend: 'wasm', skipped: [] }, weights: [], shapes: {}, errors: [] });
    await run.run();
    await vi.waitFor(() => expect(sentRuns()).toHaveLength(1));
    const first = (globalThis as unknown as { __lastWorker: object }).__lastWorker;
    run.stop();
    receive({ type: 'stopping', id: sentRuns()[0]!.id });
    await new Promise((r) => setTimeout(r, STOP_GRACE_MS + 300));
    expect((globalThis as unknown as { __lastWorker: object }).__lastWorker).toBe(first);
    expect(run.phase).toBe('stopping');
  });

  it('keeps pinned runs when the history is full, dropping the oldest others', () => {
    const item = (key: number, pinned = false) => ({
      key,
      label: `#${key}`,
      image: null,
      status: 'done',
      seconds: 1,
      steps: 1,
      pinned,
    });
    const kept = keepHistory([item(30), ...Array.from({ length: 19 }, (_, i) => item(29 - i)), item(1, true)]);
    expect(kept).toHaveLength(20);
    expect(kept.at(-1)!.key).toBe(1);
    expect(kept.some((h) => h.key === 11)).toBe(false);
  });
});

describe('settings store', () => {
  it('keeps the run size across sessions', async () => {
    useSettingsStore().size = 192;
    await Promise.resolve();
    setActivePinia(createPinia());
    expect(useSettingsStore().size).toBe(192);
  });
});
