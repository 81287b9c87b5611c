import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { nodeSource, sourceNodes } from '../src/graph/edit';
import type { GraphModel } from '../src/graph/model';
import { validateGraph } from '../src/graph/validate';
import { checkRoles } from '../src/plugin/roles';
import { defineNodeType, type NodeTypeDef } from '../src/plugin/types';
import { prepareRun } from '../src/runtime/request';

/** RunRequest.inputs.masks and the `mask` source role (issue 26; the CLI's --mask is tests/cli-mask.test.ts). */
const registry = builtinRegistry();
const node = (id: string, type: string, params: Record<string, unknown> = {}) => ({
  id,
  type,
  position: { x: 0, y: 0 },
  params,
});
const graphOf = (nodes: GraphModel['nodes']): GraphModel =>
  ({ version: 1, metadata: {}, nodes, edges: [], extra: {} }) as unknown as GraphModel;
const regions = () =>
  graphOf([
    node('photo', 'image', { slot: 'content' }),
    node('a', 'mask', { name: 'sky', source: 'data:image/png;base64,AAAA' }),
    node('b', 'mask', { name: 'ground' }),
  ]);

describe('painted regions in a run request', () => {
  it('are found through their declared source role, named by its parameter', () => {
    const found = sourceNodes(regions(), registry, 'mask');
    expect(found.map((n) => n.id)).toEqual(['a', 'b']);
    expect(nodeSource(registry, found[1]!)).toEqual({ kind: 'mask', param: 'source', name: 'ground' });
    // A region is no still picture: --content and --style never fill it.
    expect(sourceNodes(regions(), registry, 'image').map((n) => n.id)).toEqual(['photo']);
  });

  it('give each named region its picture, leaving the others as they are', () => {
    const r = prepareRun(regions(), registry, { size: 32, seed: 0, inputs: { masks: { ground: '/tmp/g.png' } } });
    expect(r.problems).toBeUndefined();
    const params = (id: string) => r.run!.model.nodes.find((n) => n.id === id)!.params;
    expect(params('b').source).toBe('/tmp/g.png');
    expect(params('a').source).toBe('data:image/png;base64,AAAA');
    expect(params('photo').source).toBeUndefined();
  });

  it('say which regions there are when a name is unknown', () => {
    const r = prepareRun(regions(), registry, { size: 32, seed: 0, inputs: { masks: { sea: '/tmp/s.png' } } });
    expect(r.problems?.map((p) => p.message)).toEqual(['no painted region named sea (regions: sky, ground)']);
    expect(r.problems?.[0]?.path).toBe('$.inputs.masks.sea');
  });

  it('are refused at validation when two share a name', () => {
    const m = regions();
    m.nodes.push(node('c', 'mask', { name: 'sky' }));
    const ds = validateGraph(m, registry).filter((d) => d.code === 'duplicate-region');
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ severity: 'error', nodeId: 'c' });
    expect(ds[0]!.message).toMatch(/painted regions "a", "c" are all named "sky"/);
    expect(validateGraph(regions(), registry).filter((d) => d.code === 'duplicate-region')).toEqual([]);
  });
});

describe('the mask source role', () => {
  const region = (roles: unknown): NodeTypeDef =>
    defineNodeType({
      type: 'test/region',
      title: 'Region',
      category: 'Test',
      role: 'source',
      inputs: {},
      outputs: { mask: { type: 'Image' } },
      params: { painting: { kind: 'image', default: '' }, label: { kind: 'string', default: 'r' } },
      roles: roles as never,
      infer: () => ({ mask: { shape: [1, 8, 8, 1] } }),
    });

  it('needs the string parameter naming the region, and only kind mask has one', () => {
    expect(checkRoles(region({ source: { kind: 'mask', param: 'painting', name: 'label' } }))).toBeNull();
    expect(checkRoles(region({ source: { kind: 'mask', param: 'painting' } }))).toMatch(/source\.name.*is needed/);
    expect(checkRoles(region({ source: { kind: 'image', param: 'painting', name: 'label' } }))).toMatch(
      /only for kind 'mask'/,
    );
    expect(checkRoles(region({ source: { kind: 'mask', param: 'painting', name: 'painting' } }))).toMatch(
      /source\.name/,
    );
  });
});
