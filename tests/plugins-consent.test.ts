// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';

/** A pack's module: importing its text runs it, which happy-dom cannot; the text names the pack instead. */
vi.mock('../src/web/pack-store', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/web/pack-store')>();
  const { importByName } = await import('./pack-mock');
  return { ...real, importSource: importByName(/name:(\w+)/) };
});

/**
 * The sandboxed worker, as the run store reaches it: the same SandboxPacks the worker uses installs the packs
 * (with the mocked importSource) one at a time and describes their node types; the page's registry gets proxies.
 */
vi.mock('../src/editor/stores/run', async () => {
  const { SandboxPacks } = await import('../src/web/sandbox-packs');
  const { builtinRegistry } = await import('../nodes');
  const { importSource } = await import('../src/web/pack-store');
  let sandbox = new SandboxPacks(builtinRegistry());
  const run = {
    sandboxed: false,
    packsOff: false,
    hasWorker: () => true,
    restartWorker: (s: boolean) => {
      run.sandboxed = s;
      sandbox = new SandboxPacks(builtinRegistry());
    },
    loadPack: async (p: { origin: string; source: string }) => ({
      kind: 'loaded' as const,
      reply: await sandbox.add(p, importSource),
    }),
    onRestart: () => {},
    /** A reload of the page starts a new worker. */
    reload: () => run.restartWorker(false),
  };
  return { PACK_LOAD_MS: 15_000, useRunStore: () => run };
});

const { usePluginsStore } = await import('../src/editor/stores/plugins');
const { originChoices, storedPacks } = await import('../src/web/pack-store');
const { packs } = await import('../src/editor/registry');

let served = '';
beforeEach(() => {
  localStorage.clear();
  packs.clear();
  setActivePinia(createPinia());
  served = '// name:demo v1';
  vi.stubGlobal('fetch', async () => new Response(served, { headers: { 'content-type': 'text/javascript' } }));
});

const url = 'https://packs.example/demo.js';
const reload = async () => {
  const { useRunStore } = await import('../src/editor/stores/run');
  (useRunStore() as unknown as { reload(): void }).reload();
  packs.clear();
  setActivePinia(createPinia());
};

describe('consent to a node pack', () => {
  it('remembers the origin only when asked: a single yes installs these bytes, which load again after a reload', async () => {
    const plugins = usePluginsStore();
    await plugins.request(url);
    expect(plugins.pending).toMatchObject({ where: url, origin: 'https://packs.example' });
    await plugins.consent(true, false);
    const { useGraphStore } = await import('../src/editor/stores/graph');
    expect(
      plugins.installed.map((p) => p.name),
      useGraphStore().notice?.text,
    ).toEqual(['demo']);
    expect(storedPacks()[0]).toMatchObject({ name: 'demo', version: '1.0.0', types: ['demo/pass'], enabled: true });
    expect(originChoices()).toEqual({});
    expect(storedPacks()[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    // A reload: the same bytes come back without a question.
    await reload();
    await usePluginsStore().restore();
    expect(packs.packs.map((p) => p.name)).toEqual(['demo']);
    // Another pack from the same origin is asked about: the origin was not remembered.
    await usePluginsStore().request('https://packs.example/other.js');
    expect(usePluginsStore().pending?.where).toBe('https://packs.example/other.js');
  });

  it('asks again when a pack from an allowed origin changes its bytes, and installs unchanged ones silently', async () => {
    const plugins = usePluginsStore();
    await plugins.request(url);
    await plugins.consent(true, true);
    expect(originChoices()).toEqual({ 'https://packs.example': 'allow' });
    await plugins.request(url);
    expect(plugins.pending).toBeNull();
    served = '// name:demo v2, with other code';
    await plugins.request(url);
    expect(plugins.pending).toMatchObject({ where: url, changed: true });
    const old = storedPacks()[0]!.sha256;
    await plugins.consent(true, false);
    expect(storedPacks()[0]!.sha256).not.toBe(old);
    expect(storedPacks()[0]!.source).toBe(served);
    // A stored pack whose bytes were changed behind the user's back (storage edited) does not load.
    localStorage.setItem('stylegraph.pack-origins', '{}');
    localStorage.setItem(
      'stylegraph.packs',
      JSON.stringify(storedPacks().map((p) => ({ ...p, source: '// name:demo evil' }))),
    );
    await reload();
    await usePluginsStore().restore();
    expect(packs.packs).toEqual([]);
    expect(usePluginsStore().installed[0]).toMatchObject({
      name: 'demo',
      state: 'failed',
      problem: expect.stringMatching(/not the ones you allowed/),
    });
  });
});
