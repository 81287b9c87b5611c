// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { PackLoad } from '../src/editor/stores/run';

/**
 * Issue 29: the editor decides about packs from its own records. The sandboxed worker runs pack code, so what it
 * answers about packs is the pack's to say; here a fake worker answers as a hostile pack would (leaves the pack out,
 * names it differently on each load, claims another pack's node types, never answers), and the page's list, names,
 * node types and Remove follow what the page stored at install, by the source's sha256.
 */
vi.mock('../src/web/pack-store', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/web/pack-store')>();
  const { importByName } = await import('./pack-mock');
  return { ...real, importSource: importByName(/name:([\w-]+)/) };
});

/** How the fake worker answers a load, by the pack's text: honestly, or as a hostile pack makes it. */
const hostile: { answer: (source: string, honest: () => Promise<PackLoad>) => Promise<PackLoad> } = {
  answer: (_, honest) => honest(),
};
/** Workers started so far (each restart is a new one), and the one the last pack was loaded in. */
let workers = 0;
let loadedIn = 0;
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
      workers++;
      run.sandboxed = s;
      sandbox = new SandboxPacks(builtinRegistry());
    },
    loadPack: (p: { origin: string; source: string }) => {
      loadedIn = workers;
      return hostile.answer(p.source, async () => ({
        kind: 'loaded' as const,
        reply: await sandbox.add(p, importSource),
      }));
    },
    onRestart: () => {},
    /** As the page starts: in the sandbox when a pack is enabled. */
    reload: async () => {
      const { storedPacks } = await import('../src/web/pack-store');
      run.restartWorker(storedPacks().some((p) => p.enabled));
      workers = 0;
    },
  };
  return { PACK_LOAD_MS: 15_000, useRunStore: () => run };
});

const { usePluginsStore } = await import('../src/editor/stores/plugins');
const { storedPacks } = await import('../src/web/pack-store');
const { packs, registry, trustedDefault } = await import('../src/editor/registry');
const { useRunStore } = await import('../src/editor/stores/run');
const { useGraphStore } = await import('../src/editor/stores/graph');

const served = new Map<string, string>();
beforeEach(async () => {
  localStorage.clear();
  packs.clear();
  hostile.answer = (_, honest) => honest();
  setActivePinia(createPinia());
  await (useRunStore() as unknown as { reload(): Promise<void> }).reload();
  served.clear();
  vi.stubGlobal(
    'fetch',
    async (url: string) => new Response(served.get(url) ?? '', { headers: { 'content-type': 'text/javascript' } }),
  );
});

/** Installs from `url` (served `text`) with a yes for these bytes. */
async function install(url: string, text: string) {
  served.set(url, text);
  const plugins = usePluginsStore();
  await plugins.request(url);
  await plugins.consent(true, false);
  return plugins;
}
/** A reload: a new page (stores, registry) and a new worker, then the stored packs load. */
async function reload() {
  await (useRunStore() as unknown as { reload(): Promise<void> }).reload();
  packs.clear();
  setActivePinia(createPinia());
  const plugins = usePluginsStore();
  await plugins.restore();
  return plugins;
}
const names = () => usePluginsStore().installed.map((p) => p.name);

describe('the page decides about packs from its own records', () => {
  it("a pack that leaves itself out of the worker's answer after a reload is still listed, and Remove takes it out with a new worker", async () => {
    await install('https://a.example/hider.js', '// name:hider');
    await install('https://a.example/demo.js', '// name:demo');
    expect(names()).toEqual(['hider', 'demo']);
    hostile.answer = async (source, honest) => {
      const r = await honest();
      return source.includes('hider') && r.kind === 'loaded' ? { kind: 'loaded', reply: {} } : r;
    };
    const plugins = await reload();
    expect(names()).toEqual(['hider', 'demo']);
    const hider = plugins.installed.find((p) => p.name === 'hider')!;
    expect(hider).toMatchObject({ enabled: true, state: 'failed', problem: expect.stringMatching(/did not load/) });
    expect(plugins.installed.find((p) => p.name === 'demo')).toMatchObject({ state: 'loaded' });
    expect(registry.has('demo/pass')).toBe(true);
    const before = workers;
    await plugins.remove(hider.key);
    expect(storedPacks().map((p) => p.name)).toEqual(['demo']);
    // Its code may have changed the worker for good: a new one loads the packs that are left.
    expect(workers).toBe(before + 1);
    expect(loadedIn).toBe(workers);
    expect(useRunStore().sandboxed).toBe(true);
    expect(names()).toEqual(['demo']);
    expect(usePluginsStore().installed[0]!.state).toBe('loaded');
  });

  it('a pack that names itself differently on each load keeps the name it was installed with, gets no other node types, and Remove removes it', async () => {
    await install('https://a.example/shifty.js', '// name:shifty-one');
    expect(storedPacks()[0]).toMatchObject({ name: 'shifty-one', types: ['shifty-one/pass'] });
    let n = 0;
    hostile.answer = async (source) => {
      const { SandboxPacks } = await import('../src/web/sandbox-packs');
      const { builtinRegistry } = await import('../nodes');
      const { importSource } = await import('../src/web/pack-store');
      // The name it gives now: the worker namespaces its node types by it.
      return {
        kind: 'loaded',
        reply: await new SandboxPacks(builtinRegistry()).add(
          { origin: 'x', source: source.replace('one', `other${++n}`) },
          importSource,
        ),
      };
    };
    const plugins = await reload();
    expect(names()).toEqual(['shifty-one']);
    expect(plugins.installed[0]!.problem).toMatch(/named itself "shifty-other1" this time, not "shifty-one"/);
    expect(registry.has('shifty-other1/pass')).toBe(false);
    await plugins.remove(plugins.installed[0]!.key);
    expect(storedPacks()).toEqual([]);
    await reload();
    expect(names()).toEqual([]);
  });

  it("an answer claiming another pack's node types registers none of them, and the other pack keeps its own", async () => {
    await install('https://a.example/demo.js', '// name:demo');
    await install('https://a.example/thief.js', '// name:thief');
    hostile.answer = async (source, honest) => {
      const r = await honest();
      if (!source.includes('thief') || r.kind !== 'loaded' || !r.reply.pack) return r;
      // It describes its node type as demo's (and one of the built-ins').
      const types = [
        { ...r.reply.pack.types[0]!, type: 'demo/pass' },
        { ...r.reply.pack.types[0]!, type: 'image' },
      ];
      return { kind: 'loaded', reply: { pack: { record: { ...r.reply.pack.record, name: 'demo' }, types } } };
    };
    // thief loads after demo (install order).
    const plugins = await reload();
    expect(names()).toEqual(['demo', 'thief']);
    expect(plugins.installed[1]!.problem).toMatch(/left out[\s\S]*demo\/pass/);
    expect(registry.get('demo/pass')!.title).toBe('Pass');
    expect(packs.packs.find((p) => p.name === 'demo')!.types).toEqual(['demo/pass']);
    expect(packs.packs.find((p) => p.name === 'thief')!.types).toEqual([]);
  });

  it('a pack that never finishes loading is left out for the session in a new worker; the others load and it stays installed', async () => {
    await install('https://a.example/spin.js', '// name:spin');
    await install('https://a.example/demo.js', '// name:demo');
    hostile.answer = async (source, honest) => (source.includes('spin') ? { kind: 'timeout' } : honest());
    const plugins = await reload();
    expect(plugins.installed.find((p) => p.name === 'spin')).toMatchObject({
      enabled: true,
      state: 'failed',
      problem: expect.stringMatching(/did not finish loading within 15 s/),
    });
    expect(plugins.installed.find((p) => p.name === 'demo')!.state).toBe('loaded');
    expect(workers).toBe(1);
    expect(storedPacks().map((p) => [p.name, p.enabled])).toEqual([
      ['spin', true],
      ['demo', true],
    ]);
    expect(useGraphStore().notice?.text).toMatch(/spin: did not finish loading/);
  });

  it('installing a pack that the worker does not describe (or that hangs) stores nothing and ends the worker it ran in', async () => {
    hostile.answer = async () => ({ kind: 'loaded', reply: {} });
    await install('https://a.example/ghost.js', '// name:ghost');
    expect(storedPacks()).toEqual([]);
    expect(useGraphStore().notice?.text).toMatch(/could not be installed: the worker described no pack/);
    expect(workers).toBeGreaterThan(loadedIn);
    hostile.answer = async () => ({ kind: 'timeout' });
    await install('https://a.example/spin.js', '// name:spin');
    expect(storedPacks()).toEqual([]);
    expect(useGraphStore().notice?.text).toMatch(/did not finish loading within 15 s/);
    expect(workers).toBeGreaterThan(loadedIn);
  });

  it('with packs off (?nopacks, or the start-up offer) nothing loads and every pack is listed with Remove', async () => {
    await install('https://a.example/demo.js', '// name:demo');
    (useRunStore() as unknown as { packsOff: boolean }).packsOff = true;
    try {
      const plugins = await reload();
      expect(plugins.installed).toMatchObject([
        { name: 'demo', state: 'off', problem: expect.stringMatching(/packs off/) },
      ]);
      expect(registry.has('demo/pass')).toBe(false);
      await plugins.remove(plugins.installed[0]!.key);
      expect(storedPacks()).toEqual([]);
    } finally {
      (useRunStore() as unknown as { packsOff: boolean }).packsOff = false;
    }
  });

  it('the page acts only on defaults of its own node types, never on a default a pack declared', async () => {
    await install('https://a.example/demo.js', '// name:demo');
    expect(trustedDefault('image', 'source')).toBe(registry.get('image')!.params.source!.default);
    expect(typeof trustedDefault('image', 'source')).toBe('string');
    // A pack type's declared default is data from the sandbox: not one the page fetches.
    const proxy = registry.get('demo/pass')!;
    proxy.params.model = { kind: 'model', default: '/' } as never;
    expect(trustedDefault('demo/pass', 'model')).toBeUndefined();
  });
});
