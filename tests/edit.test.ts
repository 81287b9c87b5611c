import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { parseDocument, serialiseDocument } from '../src/graph/document';
import {
  addNode,
  arrange,
  canConnect,
  connect,
  copyFragment,
  disconnect,
  groupNodes,
  pasteFragment,
  removeNodes,
  toggleBypass,
  ungroup,
} from '../src/graph/edit';
import { modelEndpoint, viewGraph } from '../src/editor/view';
import { graph, loadPreset, registry } from './helpers';

const gatys = () => loadPreset('gatys.json');

describe('editing a model', () => {
  it('refuses a connection of the wrong socket type, and says why', () => {
    const m = gatys();
    const check = canConnect(
      m,
      registry,
      { node: 'content', socket: 'image' },
      { node: 'content_loss', socket: 'input' },
    );
    expect(check).toEqual({ ok: false, reason: 'a Image output cannot feed a Features input' });
    const r = connect(m, registry, { node: 'content', socket: 'image' }, { node: 'content_loss', socket: 'input' });
    expect(r).toEqual({ error: 'a Image output cannot feed a Features input' });
  });

  it('refuses a connection that would close a cycle', () => {
    const m = graph(
      [
        ['a', 'image'],
        ['b', 'preserve-colour'],
        ['c', 'preserve-colour'],
      ],
      [
        ['a.image', 'b.image'],
        ['b.image', 'c.image'],
      ],
    );
    const check = canConnect(m, registry, { node: 'c', socket: 'image' }, { node: 'b', socket: 'reference' });
    expect(check.ok).toBe(false);
    expect(check.ok || check.reason).toMatch(/cycle: b already feeds c/);
    expect(canConnect(m, registry, { node: 'a', socket: 'image' }, { node: 'c', socket: 'reference' })).toEqual({
      ok: true,
    });
  });

  it('replaces the edge of a single input, keeps both on a multiple one, and leaves the old model alone', () => {
    const m = graph(
      [
        ['a', 'image'],
        ['b', 'image'],
        ['p', 'preserve-colour'],
        ['s', 'sum'],
      ],
      [['a.image', 'p.image']],
    );
    const r = connect(m, registry, { node: 'b', socket: 'image' }, { node: 'p', socket: 'image' });
    if ('error' in r) throw new Error(r.error);
    expect(r.model.edges.map((e) => e.from.node)).toEqual(['b']);
    expect(m.edges.map((e) => e.from.node)).toEqual(['a']);
    const back = disconnect(r.model, r.model.edges[0]!);
    expect(back.edges).toEqual([]);
  });

  it('removes nodes with their edges and group membership', () => {
    let m = gatys();
    m = groupNodes(m, ['content', 'style'], 'Inputs').model;
    const r = removeNodes(m, ['content']);
    expect(r.nodes.some((n) => n.id === 'content')).toBe(false);
    expect(r.edges.some((e) => e.from.node === 'content' || e.to.node === 'content')).toBe(false);
    expect(r.groups![0]!.nodes).toEqual(['style']);
    expect(removeNodes(r, ['style']).groups).toEqual([]);
  });

  it('pastes a copied selection with fresh ids and only its inner edges', () => {
    const m = gatys();
    const frag = copyFragment(m, ['style', 'enc_style']);
    const inner = m.edges.filter((e) => e.from.node === 'style' && e.to.node === 'enc_style').length;
    expect(frag.edges).toHaveLength(inner);
    const r = pasteFragment(m, frag, { x: 10, y: 20 });
    expect(r.ids).toEqual(['style_2', 'enc_style_2']);
    expect(r.model.nodes).toHaveLength(m.nodes.length + 2);
    expect(r.model.edges.filter((e) => e.to.node === 'enc_style_2').map((e) => e.from.node)).toEqual(
      Array(inner).fill('style_2'),
    );
    const src = m.nodes.find((n) => n.id === 'style')!.position;
    expect(r.model.nodes.find((n) => n.id === 'style_2')!.position).toEqual({ x: src.x + 10, y: src.y + 20 });
  });

  it('adds nodes with unique ids and arranges them in columns by depth', () => {
    let m = graph(
      [
        ['a', 'image'],
        ['p', 'preserve-colour'],
        ['o', 'output'],
      ],
      [
        ['a.image', 'p.image'],
        ['p.image', 'o.image'],
      ],
    );
    const r = addNode(m, 'image', { x: 5, y: 5 });
    expect(r.id).toBe('image');
    expect(addNode(r.model, 'image', { x: 0, y: 0 }).id).toBe('image_2');
    m = arrange(m, { x: 100, y: 50 });
    expect(m.nodes.map((n) => n.position.x)).toEqual([0, 100, 200]);
    // Nodes in one column stack by their heights.
    const two = arrange(
      graph(
        [
          ['a', 'image'],
          ['b', 'image'],
        ],
        [],
      ),
      { x: 100, y: 10 },
      (id) => (id === 'a' ? 300 : 50),
    );
    expect(two.nodes.map((n) => n.position)).toEqual([
      { x: 0, y: 0 },
      { x: 0, y: 310 },
    ]);
  });

  it('toggles bypass on a selection as one switch', () => {
    const m = toggleBypass(gatys(), ['style_relu1_1', 'style_relu2_1']);
    expect(m.nodes.filter((n) => n.bypass).map((n) => n.id)).toEqual(['style_relu1_1', 'style_relu2_1']);
    expect(toggleBypass(m, ['style_relu1_1', 'style_relu2_1']).nodes.some((n) => n.bypass)).toBe(false);
  });
});

describe('bypass in the compiler', () => {
  it('passes a bypassed colour-preservation node its input image', () => {
    const m = loadPreset('adain-preserve-color.json');
    const on = compile(m, registry, { size: 32 }).plan!;
    expect(on.steps.some((s) => s.id === 'colour')).toBe(true);
    m.nodes.find((n) => n.id === 'colour')!.bypass = true;
    const off = compile(m, registry, { size: 32 });
    expect(off.plan, off.diagnostics.map((d) => d.message).join()).not.toBeNull();
    expect(off.plan!.steps.some((s) => s.id === 'colour')).toBe(false);
    expect(off.plan!.dropped).toContain('colour');
    const styleEncoder = off.plan!.steps.find((s) => s.nodes.includes('enc_style'))!;
    expect(styleEncoder.inputs.image).toBe('style.image');
  });
});

describe('groups and the view of a model', () => {
  it('draws a collapsed group as one box whose sockets are the edges crossing its border', () => {
    const m = groupNodes(gatys(), ['style', 'enc_style'], 'Style source').model;
    const v = viewGraph(m, registry);
    expect(v.nodes.some((n) => n.id === 'style' || n.id === 'enc_style')).toBe(false);
    const box = v.nodes.find((n) => n.kind === 'group')!;
    expect(box).toMatchObject({ id: 'group:group', title: 'Style source', members: ['style', 'enc_style'] });
    // Every edge leaving the encoder to the loss terms now leaves the box; none stays inside.
    const leaving = m.edges.filter(
      (e) => ['style', 'enc_style'].includes(e.from.node) && !['style', 'enc_style'].includes(e.to.node),
    );
    expect(v.edges.filter((e) => e.from.node === 'group:group')).toHaveLength(leaving.length);
    expect(v.edges.some((e) => e.from.node === 'group:group' && e.to.node === 'group:group')).toBe(false);
    expect(modelEndpoint('group:group', 'enc_style:relu1_1')).toEqual({ node: 'enc_style', socket: 'relu1_1' });
    const open = viewGraph(ungroup(m, 'group'), registry);
    expect(open.nodes).toHaveLength(m.nodes.length);
  });

  it('saves groups with the graph and reads them back', () => {
    const m = groupNodes(gatys(), ['style', 'enc_style'], 'Style source', [
      { node: 'enc_style', param: 'pooling' },
    ]).model;
    const back = parseDocument(serialiseDocument(m));
    expect(back.diagnostics).toEqual([]);
    expect(back.model!.groups).toEqual(m.groups);
    const bad = parseDocument({ format: 'stylegraph', version: 1, nodes: [], groups: [{ id: 3 }] });
    expect(bad.diagnostics[0]!.path).toBe('$.groups[0].id');
  });

  it('keeps a placeholder for a missing node type with the sockets its edges use', () => {
    const m = graph(
      [
        ['a', 'image'],
        ['w', 'pack/wct'],
        ['o', 'output'],
      ],
      [
        ['a.image', 'w.content'],
        ['w.image', 'o.image'],
      ],
    );
    const v = viewGraph(m, registry);
    const w = v.nodes.find((n) => n.id === 'w')!;
    expect(w.kind).toBe('placeholder');
    expect(w.inputs.map((s) => s.key)).toEqual(['content']);
    expect(w.outputs.map((s) => s.key)).toEqual(['image']);
  });
});
