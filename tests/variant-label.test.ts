import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { parseDocument } from '../src/graph/document';
import type { GraphModel } from '../src/graph/model';
import { shortValue, variantDifference } from '../src/editor/variant-label';

const registry = builtinRegistry();
const gatys = (): GraphModel =>
  parseDocument(readFileSync(new URL('../presets/gatys.json', import.meta.url), 'utf8')).model!;
const at = (model: GraphModel, settings = { size: 64, seed: 0 }) => ({ model, ...settings });
const setParam = (m: GraphModel, id: string, name: string, v: unknown) => {
  m.nodes.find((n) => n.id === id)!.params[name] = v;
  return m;
};

describe('queued variants are labelled by what differs from the graph now (issue 28 item 7)', () => {
  it('two runs of one graph that differ in steps and in a weight read apart', () => {
    const now = gatys();
    const steps = variantDifference(at(setParam(gatys(), 'optim', 'steps', 40)), at(now), registry);
    const weight = variantDifference(at(setParam(gatys(), 'style_total', 'weight', 1e4)), at(now), registry);
    expect(steps).toBe('steps 40');
    expect(weight).toMatch(/weight 1e4$/);
    expect(weight).toMatch(/^Style/);
    expect(steps).not.toBe(weight);
  });

  it('says nothing when nothing differs, ignores the preview interval the queue sets, and names size, seed and nodes', () => {
    const now = gatys();
    expect(variantDifference(at(gatys()), at(now), registry)).toBeNull();
    expect(variantDifference(at(setParam(gatys(), 'optim', 'previewEvery', 3)), at(now), registry)).toBeNull();
    expect(variantDifference(at(gatys(), { size: 128, seed: 2 }), at(now), registry)).toBe('128 px · seed 2');
    const without = gatys();
    without.nodes = without.nodes.filter((n) => n.id !== 'tv');
    without.edges = without.edges.filter((e) => e.from.node !== 'tv' && e.to.node !== 'tv');
    expect(variantDifference(at(without), at(now), registry)).toMatch(/^without /);
    const rewired = gatys();
    rewired.edges = rewired.edges.slice(1);
    expect(variantDifference(at(rewired), at(now), registry)).toBe('wired differently');
  });

  it('keeps a label short: at most three changes, then how many more', () => {
    const m = gatys();
    for (const [id, v] of [
      ['style_relu1_1', 1],
      ['style_relu2_1', 2],
      ['style_relu3_1', 3],
      ['style_relu4_1', 4],
    ] as const)
      setParam(m, id, 'weight', v);
    const label = variantDifference(at(m), at(gatys()), registry)!;
    expect(label.split(' · ')).toHaveLength(4);
    expect(label).toMatch(/· 1 more change$/);
  });

  it('writes values short', () => {
    expect(shortValue(10000)).toBe('1e4');
    expect(shortValue(0.0001)).toBe('1e-4');
    expect(shortValue(0.25)).toBe('0.25');
    expect(shortValue(1 / 3)).toBe('0.3333');
    expect(shortValue('upload:abc123/my photo.jpg')).toBe('my photo.jpg');
    expect(shortValue('images/astronaut.jpg')).toBe('astronaut.jpg');
    expect(shortValue(['relu1_1', 'relu2_1'])).toBe('relu1_1, relu2_1');
    expect(shortValue(true)).toBe('on');
  });
});
