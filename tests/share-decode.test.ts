import { describe, expect, it } from 'vitest';
import { encodeLink } from '../src/codecs/link';
import { decodeShared, MAX_SHOWN_NODES } from '../src/web/share-decode';

/** What the share worker (src/web/share-worker.ts) answers for a link: the decoding itself, without a worker. */
const link = (nodes: unknown[], edges: unknown[] = []) =>
  encodeLink(JSON.stringify({ format: 'stylegraph', version: 1, nodes, edges })).fragment;
const sum = (id: string, x = 0, y = 0) => ({ id, type: 'sum', position: { x, y }, params: { weight: 1 } });
const wire = (a: string, b: string) => ({ from: { node: a, output: 'total' }, to: { node: b, input: 'terms' } });

describe('decoding a shared link off the page', () => {
  it('lays out a graph that came without positions: columns by depth (280 px), rows by the given heights plus 30 px', () => {
    const r = decodeShared(
      link([sum('a'), sum('b'), sum('c'), sum('d')], [wire('a', 'b'), wire('a', 'c'), wire('b', 'd')]),
      { sum: 100 },
    );
    if (!r.ok) throw new Error(r.message);
    expect(r.laidOut).toBe(true);
    expect(Object.fromEntries(r.model.nodes.map((n) => [n.id, n.position]))).toEqual({
      a: { x: 0, y: 0 },
      b: { x: 280, y: 0 },
      c: { x: 280, y: 130 },
      d: { x: 560, y: 0 },
    });
  });

  it('keeps a layout the document has', () => {
    const r = decodeShared(link([sum('a', 10, 20), sum('b', 400, 20)], [wire('a', 'b')]));
    if (!r.ok) throw new Error(r.message);
    expect(r.laidOut).toBe(false);
    expect(r.model.nodes.map((n) => n.position)).toEqual([
      { x: 10, y: 20 },
      { x: 400, y: 20 },
    ]);
  });

  it('refuses more nodes than the editor shows, naming both numbers', () => {
    const nodes = Array.from({ length: MAX_SHOWN_NODES + 1 }, (_, i) => sum(`n${i}`));
    const r = decodeShared(link(nodes));
    expect(r).toEqual({
      ok: false,
      message: expect.stringContaining(`has ${MAX_SHOWN_NODES + 1} nodes; the editor shows at most ${MAX_SHOWN_NODES}`),
    });
    expect(decodeShared(link(nodes.slice(1))).ok).toBe(true);
  });

  it('says what is wrong with a link that is no graph, past the document cap, or cut short', () => {
    expect(decodeShared('#nothing')).toEqual({
      ok: false,
      message: expect.stringMatching(/does not carry a StyleGraph graph/),
    });
    expect(decodeShared(link(Array.from({ length: 5000 }, (_, i) => sum(`n${i}`))))).toEqual({
      ok: false,
      message: expect.stringMatching(/2000/),
    });
    expect(decodeShared(link([sum('a')]).slice(0, 20))).toMatchObject({ ok: false });
  });
});
