// @vitest-environment happy-dom
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { useGraphStore } from '../src/editor/stores/graph';
import { nodeBoxes, overlaps } from '../src/editor/placement';
import { loadPreset } from './helpers';

beforeEach(() => {
  localStorage.clear();
  setActivePinia(createPinia());
});

/** Ids of nodes whose drawn boxes overlap another node's. */
function overlapping(g: ReturnType<typeof useGraphStore>, ids: readonly string[]) {
  const boxes = nodeBoxes(g.view);
  return ids.filter((id) => [...boxes].some(([other, b]) => other !== id && overlaps(boxes.get(id)!, b)));
}

describe('placing new nodes (graph store)', () => {
  it('adds a node on top of another one into the nearest free space instead', () => {
    const g = useGraphStore();
    g.load(loadPreset('gatys.json'), 'gatys.json');
    const at = g.model.nodes.find((n) => n.id === 'style_relu2_1')!.position;
    const id = g.add('gram', { ...at });
    expect(overlapping(g, [id])).toEqual([]);
    const placed = g.model.nodes.find((n) => n.id === id)!.position;
    expect(Math.hypot(placed.x - at.x, placed.y - at.y)).toBeLessThan(600);
  });

  it('pastes a copied block where the pointer is, moved off the nodes there, with no copy overlapping anything', () => {
    const g = useGraphStore();
    g.load(loadPreset('gatys.json'), 'gatys.json');
    g.selection = ['style_relu1_1', 'style_relu2_1'];
    g.copy();
    g.paste();
    expect(overlapping(g, g.selection)).toEqual([]);
    const first = [...g.selection];
    g.paste({ x: 0, y: 0 });
    expect(g.selection).not.toEqual(first);
    expect(overlapping(g, g.selection)).toEqual([]);
  });

  it('opens every preset with no node box overlapping another', () => {
    const names = readdirSync(join(dirname(fileURLToPath(import.meta.url)), '../presets')).filter((f) =>
      f.endsWith('.json'),
    );
    expect(names.length).toBeGreaterThan(20);
    const found: string[] = [];
    for (const name of names) {
      const g = useGraphStore();
      g.load(loadPreset(name), name);
      const ids = g.view.nodes.map((v) => v.id);
      for (const id of overlapping(g, ids)) found.push(`${name}: ${id}`);
    }
    expect(found).toEqual([]);
  });
});
