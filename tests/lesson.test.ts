import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { lessonOf } from '../src/editor/lesson';
import { loadPreset, registry } from './helpers';

describe('lessons', () => {
  it('reads a written lesson: steps with their node titles, exposed parameters with labels', () => {
    const m = loadPreset('lesson-alpha-beta.json');
    const l = lessonOf(m, registry, null);
    expect(l.problem).toBeUndefined();
    expect(l.steps.map((s) => s.node)).toEqual(['content_loss', 'style_total', 'x', 'output']);
    expect(l.steps[0]!.title).toBe(m.nodes.find((n) => n.id === 'content_loss')!.title);
    expect(l.expose).toEqual([
      { node: 'content_loss', param: 'weight', label: 'alpha: content weight', min: 0.01, max: 100 },
      { node: 'style_total', param: 'weight', label: 'beta: style weight', min: 10, max: 1e6 },
    ]);
  });

  it("walks the plan in execution order with each type's description when no steps are written", () => {
    const m = loadPreset('adain.json');
    const plan = compile(m, registry, { size: 32 }).plan!;
    const l = lessonOf(m, registry, plan);
    const order = [...new Set(plan.steps.flatMap((s) => s.nodes))];
    expect(l.steps.map((s) => s.node)).toEqual(order);
    for (const s of l.steps)
      expect(s.text).toBe(registry.get(m.nodes.find((n) => n.id === s.node)!.type)!.description ?? '');
    expect(l.steps.filter((s) => s.text).length).toBeGreaterThan(2);
  });

  it('drops steps and sliders that name missing nodes or parameters, and says when the lesson is malformed', () => {
    const m = loadPreset('gatys.json');
    m.metadata.lesson = {
      steps: [
        { node: 'gone', text: 'x' },
        { node: 'tv', text: 'smoothness' },
      ],
      expose: [{ node: 'tv', param: 'nope' }],
    };
    const l = lessonOf(m, registry, null);
    expect(l.steps).toEqual([{ node: 'tv', title: expect.any(String), text: 'smoothness' }]);
    expect(l.expose).toEqual([]);
    m.metadata.lesson = { steps: 'all of them' };
    expect(lessonOf(m, registry, null).problem).toMatch(/could not be read/);
  });
});
