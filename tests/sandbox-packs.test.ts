import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { checkGraph } from '../src/compiler/check';
import { parseDocument } from '../src/graph/document';
import type { PackQuery } from '../src/web/protocol';
import { PENDING, SandboxPacks, proxyType, type Ask } from '../src/web/sandbox-packs';

/**
 * Packs across the sandbox wall (issue 16): the page's registry holds proxies built from the data the sandboxed
 * worker sends, and their shapes come from the worker's answers. Checked here: the page's plan of the example pack's
 * preset, through proxies, equals the plan with the pack's real node types; until an answer arrives the node says
 * its shapes are being checked; and only plain data crosses.
 */
const wctSource = readFileSync(new URL('../examples/pack-wct/index.js', import.meta.url), 'utf8');
const importText = (source: string) =>
  import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
const preset = () => parseDocument(readFileSync(new URL('../presets/wct-pack.json', import.meta.url), 'utf8')).model!;

async function sandboxWithWct() {
  const sandbox = new SandboxPacks(builtinRegistry());
  const loaded = await sandbox.replace([{ origin: 'https://packs.example/wct.js', source: wctSource }], importText);
  return { sandbox, loaded };
}

/** A page registry with proxies; `answer` decides whether the sandbox has answered a question yet. */
function pageRegistry(types: Parameters<typeof proxyType>[0][], ask: Ask) {
  const registry = builtinRegistry();
  for (const t of types) expect(registry.register(proxyType(t, ask))).toBeNull();
  return registry;
}

describe('node packs through the sandbox', () => {
  it('describes the pack as plain data and the proxies give the page the same plan as the real node types', async () => {
    const { sandbox, loaded } = await sandboxWithWct();
    expect(loaded.errors).toEqual([]);
    expect(loaded.packs[0]!.record).toMatchObject({
      name: 'wct',
      version: '1.0.0',
      types: ['wct/whiten-colour', 'wct/histogram-loss'],
    });
    const [wct, hist] = loaded.packs[0]!.types;
    // Plain data only: a structured clone keeps it whole (a function would throw).
    expect(structuredClone(loaded)).toEqual(loaded);
    expect(wct).toMatchObject({
      type: 'wct/whiten-colour',
      category: 'Style statistics',
      outputs: { features: { type: 'Features' } },
      hasFlops: true,
    });
    expect(hist).toMatchObject({
      type: 'wct/histogram-loss',
      role: 'loss',
      prepare: { target: 'Stats' },
      hasFlops: false,
    });

    const asked: PackQuery[] = [];
    const ask: Ask = (q) => {
      asked.push(q);
      // The question crosses as a message: through a structured clone, as postMessage sends it.
      try {
        return { result: structuredClone(sandbox.answer(structuredClone(q))) };
      } catch (e) {
        return { error: (e as Error).message };
      }
    };
    const page = pageRegistry(loaded.packs[0]!.types, ask);
    const viaProxies = checkGraph(preset(), page, { size: 64 });
    const real = checkGraph(preset(), sandbox.registry, { size: 64 });
    expect(viaProxies.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(viaProxies.plan).not.toBeNull();
    const shapes = (p: typeof real.plan) =>
      p!.steps.flatMap((s) => s.outputs.map((o) => [o.key, o.info.shape, o.socket]));
    expect(shapes(viaProxies.plan)).toEqual(shapes(real.plan));
    expect(viaProxies.plan!.estimate.flopsOnce).toBe(real.plan!.estimate.flopsOnce);
    expect(viaProxies.plan!.estimate.flopsPerIteration).toBe(real.plan!.estimate.flopsPerIteration);
    expect(asked.map((q) => q.kind)).toContain('prepare');
    // The proxies never compute on the page.
    expect(() => page.get('wct/whiten-colour')!.compute!({} as never)).toThrow(/sandboxed worker/);
  });

  it("until the sandbox answers, a pack node says its shapes are being checked; an answer with an error is the node's error", async () => {
    const { loaded } = await sandboxWithWct();
    const pending = checkGraph(
      preset(),
      pageRegistry(loaded.packs[0]!.types, () => undefined),
      { size: 64 },
    );
    expect(pending.plan).toBeNull();
    expect(pending.diagnostics.find((d) => d.severity === 'error')?.message).toContain(PENDING);
    const failing = checkGraph(
      preset(),
      pageRegistry(loaded.packs[0]!.types, () => ({ error: 'channels differ' })),
      { size: 64 },
    );
    expect(failing.diagnostics.find((d) => d.severity === 'error')?.message).toMatch(/channels differ/);
    // An answer that is not shapes (the sandbox's code is not trusted) is refused, not used.
    const junk = checkGraph(
      preset(),
      pageRegistry(loaded.packs[0]!.types, () => ({ result: { outputs: { features: { shape: 'x' } } } })),
      { size: 64 },
    );
    expect(junk.diagnostics.find((d) => d.severity === 'error')?.message).toMatch(/answered no shapes/);
  });

  it('a pack that is not one, or throws while registering, is reported and the others still load', async () => {
    const sandbox = new SandboxPacks(builtinRegistry());
    const loaded = await sandbox.replace(
      [
        { origin: 'https://a.example/x.js', source: 'export default { name: "x" };' },
        { origin: 'https://b.example/y.js', source: 'throw new Error("boom");' },
        { origin: 'https://packs.example/wct.js', source: wctSource },
      ],
      importText,
    );
    expect(loaded.packs.map((p) => p.record.name)).toEqual(['wct']);
    expect(loaded.failed.map((f) => f.origin)).toEqual(['https://a.example/x.js', 'https://b.example/y.js']);
    expect(loaded.failed[1]!.error).toMatch(/boom/);
    expect(() => sandbox.answer({ kind: 'outputs', nodeType: 'image', params: {} })).toThrow(
      /not an installed pack's node type/,
    );
  });
});
