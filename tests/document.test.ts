import { describe, expect, it } from 'vitest';
import { parseDocument, serialiseDocument } from '../src/graph/document';
import { mulberry32 } from '../src/models/random';

const minimal = { format: 'stylegraph', version: 1, nodes: [{ id: 'a', type: 'scalar', position: { x: 1, y: 2 }, params: { value: 3 } }], edges: [] };

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
      ...minimal, future: { x: 1 },
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
    const pieces = ['{', '}', '[', ']', '"format"', ':', '"stylegraph"', ',', '"nodes"', '"id"', '1', 'null', '"version"', '"edges"'];
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => pieces[Math.floor(rand() * pieces.length)]).join('');
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
