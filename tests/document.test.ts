import { describe, expect, it } from 'vitest';
import { migrate, parseDocument, serialiseDocument } from '../src/graph/document';
import { mulberry32 } from '../src/models/random';

const minimal = {
  format: 'stylegraph',
  version: 1,
  nodes: [{ id: 'a', type: 'scalar', position: { x: 1, y: 2 }, params: { value: 3 } }],
  edges: [],
};

describe('parseDocument', () => {
  it('reads a minimal document into a model', () => {
    const { model, diagnostics } = parseDocument(JSON.stringify(minimal));
    expect(diagnostics).toEqual([]);
    expect(model?.nodes[0]).toMatchObject({ id: 'a', type: 'scalar', params: { value: 3 } });
  });

  it('reports invalid JSON without throwing', () => {
    const r = parseDocument('{ "format": ');
    expect(r.model).toBeNull();
    expect(r.diagnostics[0]).toMatchObject({ severity: 'error', path: '$' });
    expect(r.diagnostics[0]!.message).toMatch(/not valid JSON/);
  });

  it('names the field when the format is wrong', () => {
    const r = parseDocument({ ...minimal, format: 'comfy' });
    expect(r.model).toBeNull();
    expect(r.diagnostics[0]!.path).toBe('$.format');
  });

  it('reports a malformed node with its path and keeps the others', () => {
    const r = parseDocument({ ...minimal, nodes: [...minimal.nodes, { id: 'b', position: { x: 'left' } }] });
    expect(r.model?.nodes.map((n) => n.id)).toEqual(['a']);
    const paths = r.diagnostics.map((d) => d.path);
    expect(paths).toContain('$.nodes[1].type');
    expect(paths).toContain('$.nodes[1].position.x');
  });

  it('says when a document is from a newer version', () => {
    const r = parseDocument({ ...minimal, version: 99 });
    expect(r.diagnostics.some((d) => d.path === '$.version' && /newer/.test(d.message))).toBe(true);
  });

  it('keeps unknown fields at every level through a round trip', () => {
    const doc = {
      ...minimal,
      future: { x: 1 },
      nodes: [{ ...minimal.nodes[0], colour: 'red' }],
      edges: [{ from: { node: 'a', output: 'value' }, to: { node: 'a', input: 'x' }, label: 'kept' }],
    };
    const again = JSON.parse(serialiseDocument(parseDocument(doc).model!));
    expect(again.future).toEqual({ x: 1 });
    expect(again.nodes[0].colour).toBe('red');
    expect(again.edges[0].label).toBe('kept');
  });

  it('never throws on random input', () => {
    const rand = mulberry32(42);
    const pieces = [
      '{',
      '}',
      '[',
      ']',
      '"format"',
      ':',
      '"stylegraph"',
      ',',
      '"nodes"',
      '"id"',
      '1',
      'null',
      '"version"',
      '"edges"',
    ];
    for (let i = 0; i < 2000; i++) {
      const text = Array.from(
        { length: 1 + Math.floor(rand() * 20) },
        () => pieces[Math.floor(rand() * pieces.length)],
      ).join('');
      expect(() => parseDocument(text)).not.toThrow();
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        continue;
      }
      expect(() => parseDocument(value)).not.toThrow();
    }
  });
});

describe('the migration chain', () => {
  it('upgrades an old document one version at a time, in order, and leaves current ones alone', () => {
    const seen: number[] = [];
    const steps = {
      1: (d: Record<string, unknown>) => (
        seen.push(1),
        { ...d, nodes: (d.nodes as { kind: string }[]).map(({ kind, ...n }) => ({ ...n, type: kind })) }
      ),
      2: (d: Record<string, unknown>) => (
        seen.push(2),
        { ...d, metadata: { ...(d.metadata as object), upgraded: true } }
      ),
    };
    const old = { format: 'stylegraph', version: 1, metadata: {}, nodes: [{ id: 'a', kind: 'image' }], edges: [] };
    const r = migrate(old, 3, steps);
    expect(seen).toEqual([1, 2]);
    expect(r).toEqual({
      from: 1,
      doc: {
        format: 'stylegraph',
        version: 3,
        metadata: { upgraded: true },
        nodes: [{ id: 'a', type: 'image' }],
        edges: [],
      },
    });
    expect(old.nodes[0]).toEqual({ id: 'a', kind: 'image' });
    expect(migrate({ version: 3 }, 3, steps)).toEqual({ doc: { version: 3 } });
  });

  it('refuses a version it has no upgrade for, with the reason', () => {
    expect(migrate({ version: 0 }, 2, { 1: (d) => d })).toEqual({
      error: 'format version 0 cannot be read: no upgrade from version 0 to 1',
    });
    expect(parseDocument({ format: 'stylegraph', version: 0, nodes: [] }).diagnostics[0]!.message).toMatch(
      /version must be|cannot be read/,
    );
  });
});
