import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { importPack } from '../src/cli/security/plugins';
import { parseDocument, serialiseDocument } from '../src/graph/document';
import { validateGraph } from '../src/graph/validate';
import { missingPacks, recordPacks } from '../src/graph/packs';
import { PLUGIN_API_VERSION, PackHost, type PackManifest } from '../src/plugin/packs';
import { defineNodeType } from '../src/plugin/types';
import { loadPreset, run, useWasm, withParams } from './helpers';

beforeAll(useWasm);

const cwd = new URL('..', import.meta.url).pathname;
const examplePack = () => importPack('examples/pack-wct', cwd);

/** A small valid pack whose one node passes an image through, running `body` first. */
function pack(name: string, over: Partial<PackManifest> = {}, body: () => void = () => {}): PackManifest {
  return {
    name,
    version: '1.2.3',
    api: '^1.0.0',
    description: 'test pack',
    nodes: [
      defineNodeType({
        type: 'pass',
        title: 'Pass',
        category: 'Test',
        inputs: { image: { type: 'Image' } },
        outputs: { image: { type: 'Image' } },
        params: {},
        infer: (ctx) => ({ image: ctx.inputs.image as { shape: number[] } }),
        compute: (ctx) => {
          body();
          return { image: ctx.tf.clone(ctx.inputs.image as never) };
        },
      }),
    ],
    ...over,
  };
}

describe('node packs', () => {
  it('loads the example pack through the public path (a folder with a package.json), namespaced', async () => {
    const host = new PackHost(builtinRegistry());
    const { module, origin } = await examplePack();
    const r = host.install(module, origin);
    expect(r.ok, r.ok ? '' : r.error).toBe(true);
    expect(host.packs[0]).toMatchObject({
      name: 'wct',
      version: '1.0.0',
      origin: 'examples/pack-wct',
      status: 'enabled',
      types: ['wct/whiten-colour', 'wct/histogram-loss'],
    });
    expect(host.registry.get('wct/whiten-colour')!.title).toBe('WCT');
  });

  it('runs the preset that uses the pack, 2 steps at 32 px, with the loss falling', async () => {
    const registry = builtinRegistry();
    const host = new PackHost(registry);
    const { module, origin } = await examplePack();
    host.install(module, origin);
    const r = await run(withParams(loadPreset('wct-pack.json'), { 'optim.steps': 2 }), 32, {}, registry);
    expect(r.status, r.error).toBe('done');
    expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss);
    expect(Object.keys(r.steps[0]!.terms)).toContain('hist_relu1_1');
  });

  it('refuses a pack written for another API version, naming the pack and both versions', () => {
    const host = new PackHost(builtinRegistry());
    const r = host.install({ default: pack('future', { api: '^2.0.0' }) }, 'test:future');
    expect(r).toEqual({
      ok: false,
      error: `pack "future" 1.2.3 needs plugin API ^2.0.0, but this StyleGraph provides ${PLUGIN_API_VERSION}`,
    });
    expect(host.registry.has('future/pass')).toBe(false);
    expect(host.registry.has('vgg19')).toBe(true);
  });

  it('refuses a second pack of the same name and a pack whose node types clash, naming both', () => {
    const host = new PackHost(builtinRegistry());
    expect(host.install(pack('twin'), 'a.js').ok).toBe(true);
    expect(host.install(pack('twin'), 'b.js')).toEqual({
      ok: false,
      error: 'a pack named "twin" is already installed (version 1.2.3, from a.js)',
    });
    const doubled = pack('doubled');
    doubled.nodes.push(doubled.nodes[0]!);
    const r = host.install(doubled, 'c.js');
    expect(r.ok ? '' : r.error).toBe('pack "doubled" was not installed: node type "doubled/pass" is declared twice');
    // A pack may name its types with its own prefix; another pack's prefix is namespaced under its own name.
    const r2 = host.install(pack('other', { nodes: [{ ...pack('x').nodes[0]!, type: 'twin/pass' }] }), 'd.js');
    expect(r2.ok && r2.pack.types).toEqual(['other/twin/pass']);
    expect(host.registry.has('doubled/pass')).toBe(false);
    expect(host.registry.has('twin/pass')).toBe(true);
  });

  it('reports a pack that is not a manifest, or throws while being read, and leaves the registry as it was', () => {
    const host = new PackHost(builtinRegistry());
    const before = host.registry.list().length;
    expect(host.install({ default: { name: 'Bad Name!' } }, 'bad.js')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^bad.js is not a StyleGraph node pack: name:/),
    });
    const throwing = {
      get default(): PackManifest {
        throw new Error('boom while registering');
      },
    };
    expect(() => host.install(throwing, 'throws.js')).not.toThrow();
    expect(host.install(throwing, 'throws.js')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/throws.js.*boom while registering/),
    });
    expect(host.registry.list()).toHaveLength(before);
  });

  it('disables a pack whose node throws while running; the run fails naming it, and other graphs still run', async () => {
    const registry = builtinRegistry();
    const host = new PackHost(registry);
    host.install(
      pack('flaky', {}, () => {
        throw new Error('kaboom');
      }),
      'flaky.js',
    );
    const m = loadPreset('gatys.json');
    m.nodes.push({ id: 'f', type: 'flaky/pass', position: { x: 0, y: 0 }, params: {} });
    for (const e of m.edges)
      if (e.from.node === 'content' && e.to.node === 'enc_content') e.from = { node: 'f', output: 'image' };
    m.edges.push({ from: { node: 'content', output: 'image' }, to: { node: 'f', input: 'image' } });
    const r = await run(withParams(m, { 'optim.steps': 1 }), 32, {}, registry);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/pack "flaky" \(node flaky\/pass\) failed in compute: kaboom/);
    expect(host.packs[0]).toMatchObject({ status: 'disabled', problem: expect.stringMatching(/kaboom/) });
    expect(registry.has('flaky/pass')).toBe(false);
    const ok = await run(withParams(loadPreset('gatys.json'), { 'optim.steps': 1 }), 32, {}, registry);
    expect(ok.status).toBe('done');
  });

  it('keeps the nodes of a missing pack as placeholders, names the pack and where it lives, and saves them back unchanged', () => {
    const text = readFileSync(new URL('../presets/wct-pack.json', import.meta.url), 'utf8');
    const registry = builtinRegistry();
    const { model } = parseDocument(text);
    expect(missingPacks(model!, registry)).toEqual([
      { name: 'wct', version: '^1.0.0', source: 'examples/pack-wct', nodes: ['wct', 'hist_relu1_1'] },
    ]);
    expect(
      validateGraph(model!, registry)
        .filter((d) => d.code === 'unknown-type')
        .map((d) => d.nodeId),
    ).toEqual(['wct', 'hist_relu1_1']);
    expect(JSON.parse(serialiseDocument(model!))).toEqual(JSON.parse(text));
  });

  it('records in the document which installed packs its nodes come from', async () => {
    const host = new PackHost(builtinRegistry());
    host.install(pack('extra'), 'https://example.org/extra.js');
    const m = loadPreset('gatys.json');
    m.nodes.push({ id: 'e', type: 'extra/pass', position: { x: 0, y: 0 }, params: {} });
    expect(recordPacks(m, host).extra.packs).toEqual([
      { name: 'extra', version: '^1.2.3', source: 'https://example.org/extra.js' },
    ]);
    expect(recordPacks(loadPreset('gatys.json'), host).extra.packs).toBeUndefined();
  });
});
