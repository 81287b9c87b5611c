import { describe, expect, it } from 'vitest';
import { validateGraph } from '../src/graph/validate';
import { graph, registry } from './helpers';

const codes = (m: ReturnType<typeof graph>) => validateGraph(m, registry).map((d) => d.code);

describe('validateGraph', () => {
  it('accepts a well-formed graph', () => {
    const m = graph(
      [
        ['img', 'image'],
        ['enc', 'vgg19', { taps: ['relu1_1'] }],
        ['g', 'gram'],
        ['out', 'output'],
      ],
      [
        ['img.image', 'enc.image'],
        ['enc.relu1_1', 'g.features'],
        ['img.image', 'out.image'],
      ],
    );
    expect(validateGraph(m, registry)).toEqual([]);
  });

  it('names every node on a cycle', () => {
    const m = graph(
      [
        ['a', 'sum'],
        ['b', 'sum'],
        ['c', 'sum'],
      ],
      [
        ['a.total', 'b.terms'],
        ['b.total', 'c.terms'],
        ['c.total', 'a.terms'],
      ],
    );
    const d = validateGraph(m, registry).find((x) => x.code === 'cycle')!;
    expect(d.message).toMatch(/a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c/);
  });

  it('refuses a Features output into an Image input and says why', () => {
    const m = graph(
      [
        ['img', 'image'],
        ['enc', 'vgg19', { taps: ['relu1_1'] }],
        ['out', 'output'],
      ],
      [
        ['img.image', 'enc.image'],
        ['enc.relu1_1', 'out.image'],
      ],
    );
    const d = validateGraph(m, registry).find((x) => x.code === 'wrong-socket')!;
    expect(d.path).toBe('$.edges[1]');
    expect(d.message).toMatch(/Features output cannot feed a Image input/);
  });

  it('reports an unknown node type on the node and keeps it', () => {
    const m = graph(
      [
        ['p', 'posterise'],
        ['out', 'output'],
      ],
      [['p.image', 'out.image']],
    );
    const d = validateGraph(m, registry);
    expect(d.find((x) => x.code === 'unknown-type')).toMatchObject({ nodeId: 'p', path: '$.nodes[0].type' });
    expect(m.nodes).toHaveLength(2);
  });

  it('reports a missing required input', () => {
    expect(codes(graph([['out', 'output']], []))).toEqual(['missing-input']);
  });

  it('reports duplicate ids and edges to nodes that do not exist', () => {
    const m = graph(
      [
        ['a', 'scalar'],
        ['a', 'scalar'],
        ['s', 'sum'],
      ],
      [
        ['a.value', 's.terms'],
        ['ghost.value', 's.terms'],
      ],
    );
    const d = validateGraph(m, registry);
    expect(d.find((x) => x.code === 'duplicate-id')?.path).toBe('$.nodes[1].id');
    expect(d.find((x) => x.code === 'dangling-edge')?.message).toMatch(/"ghost"/);
  });

  it('reports an output the node does not have, listing those it has', () => {
    const m = graph(
      [
        ['img', 'image'],
        ['enc', 'vgg19', { taps: ['relu1_1'] }],
        ['g', 'gram'],
      ],
      [
        ['img.image', 'enc.image'],
        ['enc.relu2_1', 'g.features'],
      ],
    );
    const d = validateGraph(m, registry).find((x) => x.code === 'dangling-edge')!;
    expect(d.message).toMatch(/no output "relu2_1" \(outputs: relu1_1\)/);
  });

  it('reports parameters out of range and of the wrong kind, and warns on unknown ones', () => {
    const m = graph([['o', 'optimiser', { steps: -1, method: 'newton', colour: 'red' }]], []);
    const d = validateGraph(m, registry).filter((x) => x.code === 'param');
    expect(d.map((x) => [x.severity, x.path])).toEqual([
      ['error', '$.nodes[0].params.steps'],
      ['error', '$.nodes[0].params.method'],
      ['warning', '$.nodes[0].params.colour'],
    ]);
    expect(d[0]!.message).toMatch(/below the minimum 0/);
  });

  it('refuses a second edge into a single input', () => {
    const m = graph(
      [
        ['a', 'image'],
        ['b', 'image'],
        ['out', 'output'],
      ],
      [
        ['a.image', 'out.image'],
        ['b.image', 'out.image'],
      ],
    );
    expect(codes(m)).toContain('too-many-edges');
  });
});
