import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { inputNodes, nodeSource, sourceNodes, withInput, withSource } from '../src/graph/edit';
import type { GraphModel } from '../src/graph/model';
import { createRegistry } from '../src/plugin/registry';
import { defineNodeType, type NodeTypeDef } from '../src/plugin/types';

/** A pack's picture node whose parameters have names of their own. */
const still = defineNodeType({
  type: 'test/still',
  title: 'Still',
  category: 'Test',
  role: 'source',
  inputs: {},
  outputs: { image: { type: 'Image' } },
  params: {
    picture: { kind: 'image', default: 'a.png' },
    replacedBy: { kind: 'enum', default: 'style', options: ['content', 'style', 'none'] },
  },
  roles: { source: { kind: 'image', param: 'picture', slot: 'replacedBy' } },
  infer: () => ({ image: { shape: [1, 8, 8, 3] } }),
  compute: (ctx) => ({ image: ctx.tf.zeros([1, 8, 8, 3]) }),
});

const node = (id: string, type: string, params: Record<string, unknown> = {}) => ({
  id,
  type,
  position: { x: 0, y: 0 },
  params,
});
const graphOf = (nodes: GraphModel['nodes']): GraphModel =>
  ({ version: 1, metadata: {}, nodes, edges: [] }) as unknown as GraphModel;

describe('the declared source role of nodes that take pictures', () => {
  it('is declared by the built-in image, camera and folder nodes', () => {
    const registry = builtinRegistry();
    const m = graphOf([
      node('photo', 'image', { slot: 'content' }),
      node('painting', 'image', { slot: 'style' }),
      node('other', 'image'),
      node('cam', 'camera'),
      node('set', 'image-folder'),
      node('out', 'output'),
    ]);
    expect(m.nodes.map((n) => nodeSource(registry, n)?.kind ?? null)).toEqual([
      'image',
      'image',
      'image',
      'camera',
      'folder',
      null,
    ]);
    // An image's slot comes from its parameter (default 'other': no input replaces it); a camera is always the content.
    expect(inputNodes(m, registry, 'content').map((n) => n.id)).toEqual(['photo', 'cam']);
    expect(inputNodes(m, registry, 'style').map((n) => n.id)).toEqual(['painting']);
    expect(sourceNodes(m, registry, 'camera').map((n) => n.id)).toEqual(['cam']);
    expect(sourceNodes(m, registry).map((n) => n.id)).toEqual(['photo', 'painting', 'other', 'cam', 'set']);
    const filled = withInput(m, registry, 'content', 'x.png');
    expect(filled.nodes.map((n) => n.params.source ?? null)).toEqual(['x.png', null, null, 'x.png', null, null]);
    expect(m.nodes[0]!.params.source).toBeUndefined(); // the argument is left alone
    const folder = withSource(m, registry, (s) => s.kind === 'folder', 'train');
    expect(folder.nodes.find((n) => n.id === 'set')!.params).toEqual({ folder: 'train' });
  });

  it('fills a pack node through the parameters its role names, its slot read from its own enum', () => {
    const registry = createRegistry();
    expect(registry.register(still as NodeTypeDef)).toBeNull();
    const m = graphOf([
      node('a', 'test/still'),
      node('b', 'test/still', { replacedBy: 'content' }),
      node('c', 'test/still', { replacedBy: 'none' }),
    ]);
    expect(inputNodes(m, registry, 'style').map((n) => n.id)).toEqual(['a']);
    expect(withInput(m, registry, 'content', 'p.jpg').nodes.map((n) => n.params.picture ?? null)).toEqual([
      null,
      'p.jpg',
      null,
    ]);
  });

  it('is checked when a node type registers', () => {
    const bad = (source: unknown, role: NodeTypeDef['role'] = 'source') =>
      createRegistry().register({ ...(still as NodeTypeDef), role, roles: { source } } as NodeTypeDef);
    expect(bad({ kind: 'image', param: 'replacedBy' })).toMatch(
      /roles.source.param names the parameter "replacedBy", a enum parameter; it must be image/,
    );
    expect(bad({ kind: 'folder', param: 'picture' })).toMatch(/it must be string/);
    expect(bad({ kind: 'image', param: 'nope' })).toMatch(/does not declare \(parameters: picture, replacedBy\)/);
    expect(bad({ kind: 'image', param: 'picture', slot: 'picture' })).toMatch(/roles.source.slot .* it must be enum/);
    expect(bad({ kind: 'image', param: 'picture', slot: 'replacedBy', fills: 'content' })).toMatch(
      /either slot .* or fills/,
    );
    expect(bad({ kind: 'image', param: 'picture', fills: 'other' })).toMatch(
      /roles.source.fills must be one of content, style/,
    );
    expect(bad({ kind: 'video', param: 'picture' })).toMatch(/roles.source.kind must be one of image, camera, folder/);
    expect(bad({ kind: 'image', param: 'picture' }, 'output')).toMatch(
      /only for node types with role 'source' or 'stream'/,
    );
  });
});
