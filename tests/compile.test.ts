import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { formatPlan } from '../src/compiler/format';
import { forwardFlops } from '../src/models/vgg19';
import { graph, loadPreset, registry } from './helpers';

const gatys = () => compile(loadPreset('gatys.json'), registry, { size: 64 }).plan!;

describe('compile: the Gatys preset', () => {
  it('runs exactly one encoder pass per distinct image', () => {
    const passes = gatys().steps.filter((s) => s.kind === 'pass');
    expect(passes.map((s) => s.inputs.image).sort()).toEqual(['content.image', 'style.image', 'x.image']);
  });

  it('stops each pass at its deepest tap', () => {
    const passes = gatys().steps.filter((s) => s.kind === 'pass');
    const content = passes.find((s) => s.inputs.image === 'content.image')!;
    expect(content.taps).toEqual(['conv4_2']);
    expect(content.flops).toBe(forwardFlops('conv4_2', [1, 64, 64, 3], 'torchvision'));
    expect(content.flops).toBeLessThan(passes.find((s) => s.inputs.image === 'style.image')!.flops);
  });

  it('computes style Grams and content targets once, before the loop', () => {
    const plan = gatys();
    const phase = (id: string) => plan.steps.find((s) => s.id === id)!.phase;
    expect(phase('style_relu3_1.target:prepare')).toBe('once');
    expect(phase('pass:enc_style')).toBe('once');
    expect(phase('pass:enc_content')).toBe('once');
    expect(phase('pass:enc_x')).toBe('loop');
    expect(phase('output')).toBe('after');
    expect(plan.retained).toEqual(expect.arrayContaining(['enc_content.conv4_2', 'style_relu5_1.target:prepared']));
    // The style features themselves are freed once their Grams exist.
    expect(plan.retained).not.toContain('enc_style.relu1_1');
    const freed = plan.steps.flatMap((s) => s.release);
    expect(freed).toContain('enc_style.relu1_1');
  });

  it('orders every step after the steps it reads', () => {
    const plan = gatys();
    const producedAt = new Map(plan.steps.flatMap((s) => s.outputs.map((o) => [o.key, s.index] as const)));
    for (const s of plan.steps)
      for (const v of Object.values(s.inputs))
        for (const key of [v].flat()) {
          if (key === plan.optimiser!.variables[0]!.key || key === plan.optimiser!.resultKey) continue; // bound by the executor
          expect(producedAt.get(key), `${s.id} reads ${key}`).toBeLessThan(s.index);
        }
  });

  it('weights each style term by the sums above it', () => {
    const terms = gatys().terms;
    // The style sum's weight (beta) times the total's (1): the preset's own numbers.
    const beta = loadPreset('gatys.json').nodes.find((n) => n.id === 'style_total')!.params.weight as number;
    expect(beta).toBe(1000);
    expect(terms.find((t) => t.nodeId === 'style_relu1_1')!.multiplier).toBe(beta);
    expect(terms.find((t) => t.nodeId === 'content_loss')!.multiplier).toBe(1);
  });

  it('prints steps, shapes, FLOPs and peak memory', () => {
    const text = formatPlan(gatys());
    expect(text).toMatch(/vgg19 pass for enc_style \(to relu5_1\)/);
    expect(text).toMatch(/relu1_1 1x64x64x64/);
    expect(text).toMatch(/per iteration: +[\d.]+ GFLOP/);
    expect(text).toMatch(/peak memory: +about [\d.]+ MiB/);
  });
});

describe('compile: merging and dropping', () => {
  it('drops nodes that reach no output', () => {
    const m = graph(
      [
        ['img', 'image'],
        ['e1', 'vgg19', { taps: ['conv1_2'] }],
        ['g1', 'gram'],
        ['out', 'output'],
      ],
      [
        ['img.image', 'e1.image'],
        ['e1.conv1_2', 'g1.features'],
        ['img.image', 'out.image'],
      ],
    );
    const plan = compile(m, registry, { size: 32 }).plan!;
    expect(plan.dropped).toEqual(['e1', 'g1']);
    expect(plan.steps.map((s) => s.id)).toEqual(['img', 'out']);
  });

  it('merges taps of several encoders on one image and stops at the deepest', () => {
    const m = graph(
      [
        ['img', 'image'],
        ['a', 'vgg19', { taps: ['relu1_1'] }],
        ['b', 'vgg19', { taps: ['relu3_1'] }],
        ['out', 'output'],
        ['v', 'variable'],
        ['o', 'optimiser'],
        ['sum', 'sum'],
        ['sa', 'style-loss'],
        ['sb', 'style-loss'],
        ['ev', 'vgg19', { taps: ['relu1_1', 'relu3_1'] }],
      ],
      [
        ['img.image', 'a.image'],
        ['img.image', 'b.image'],
        ['img.image', 'v.content'],
        ['v.image', 'ev.image'],
        ['ev.relu1_1', 'sa.input'],
        ['a.relu1_1', 'sa.target'],
        ['ev.relu3_1', 'sb.input'],
        ['b.relu3_1', 'sb.target'],
        ['sa.loss', 'sum.terms'],
        ['sb.loss', 'sum.terms'],
        ['v.image', 'o.variable'],
        ['sum.total', 'o.loss'],
        ['o.image', 'out.image'],
      ],
    );
    const plan = compile(m, registry, { size: 32 }).plan!;
    const passes = plan.steps.filter((s) => s.kind === 'pass');
    expect(passes).toHaveLength(2);
    expect(passes[0]).toMatchObject({ nodes: ['a', 'b'], taps: ['relu1_1', 'relu3_1'], phase: 'once' });
  });

  it('does not merge encoders whose settings differ', () => {
    const m = graph(
      [
        ['img', 'image'],
        ['a', 'vgg19', { taps: ['relu1_1'], pooling: 'avg' }],
        ['b', 'vgg19', { taps: ['relu1_1'] }],
        ['s', 'style-loss'],
        ['v', 'variable'],
        ['o', 'optimiser'],
        ['out', 'output'],
      ],
      [
        ['img.image', 'a.image'],
        ['img.image', 'b.image'],
        ['img.image', 'v.content'],
        ['a.relu1_1', 's.input'],
        ['b.relu1_1', 's.target'],
        ['v.image', 'o.variable'],
        ['s.loss', 'o.loss'],
        ['o.image', 'out.image'],
      ],
    );
    const plan = compile(m, registry, { size: 32 }).plan!;
    expect(plan.steps.filter((s) => s.kind === 'pass')).toHaveLength(2);
  });

  it('leaves out, with a warning, a node that reaches no output, however unfinished; only what the output needs blocks', () => {
    const m = loadPreset('gatys.json');
    // A style loss fresh from the palette (nothing wired) and one with a weight out of range, wired to nothing downstream.
    const extra = {
      ...m,
      nodes: [
        ...m.nodes,
        { id: 'loose', type: 'style-loss', position: { x: 0, y: 0 }, params: {} },
        { id: 'half', type: 'style-loss', position: { x: 0, y: 0 }, params: { weight: -5 } },
      ],
      edges: [...m.edges, { from: { node: 'enc_x', output: 'relu1_1' }, to: { node: 'half', input: 'input' } }],
    };
    const r = compile(extra, registry, { size: 32 });
    expect(r.plan).not.toBeNull();
    expect(r.plan!.steps.some((s) => s.nodes.includes('loose') || s.nodes.includes('half'))).toBe(false);
    const warned = r.diagnostics.filter(
      (d) => d.severity === 'warning' && /reaches no output, so it is left out/.test(d.message),
    );
    expect(new Set(warned.map((d) => d.nodeId))).toEqual(new Set(['loose', 'half']));
    expect(r.diagnostics.some((d) => d.severity === 'error')).toBe(false);
    // The same loose loss wired into the sum the optimiser needs blocks the run.
    const wired = {
      ...extra,
      edges: [...extra.edges, { from: { node: 'loose', output: 'loss' }, to: { node: 'style_total', input: 'terms' } }],
    };
    const blocked = compile(wired, registry, { size: 32 });
    expect(blocked.plan).toBeNull();
    expect(blocked.diagnostics.find((d) => d.severity === 'error')).toMatchObject({
      code: 'missing-input',
      nodeId: 'loose',
    });
  });

  it('returns diagnostics, not a plan, for an invalid graph', () => {
    const r = compile(graph([['out', 'output']], []), registry, { size: 32 });
    expect(r.plan).toBeNull();
    expect(r.diagnostics[0]!.code).toBe('missing-input');
  });

  it('says when a graph has no output', () => {
    const r = compile(graph([['s', 'scalar']], []), registry, { size: 32 });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['no-output']);
  });

  it('reports a shape mismatch on the node concerned', () => {
    const m = graph(
      [
        ['img', 'image'],
        ['e', 'vgg19', { taps: ['relu1_1', 'relu2_1'] }],
        ['c', 'content-loss'],
        ['v', 'variable'],
        ['o', 'optimiser'],
        ['out', 'output'],
      ],
      [
        ['img.image', 'e.image'],
        ['img.image', 'v.content'],
        ['e.relu1_1', 'c.input'],
        ['e.relu2_1', 'c.target'],
        ['v.image', 'o.variable'],
        ['c.loss', 'o.loss'],
        ['o.image', 'out.image'],
      ],
    );
    const r = compile(m, registry, { size: 32 });
    expect(r.diagnostics.at(-1)).toMatchObject({ nodeId: 'c' });
    expect(r.diagnostics.at(-1)!.message).toMatch(/1x32x32x64 \(relu1_1\) but target is 1x16x16x128 \(relu2_1\)/);
  });

  it('drops a bypassed loss term from the objective', () => {
    const m = loadPreset('gatys.json');
    m.nodes.find((n) => n.id === 'style_relu5_1')!.bypass = true;
    const plan = compile(m, registry, { size: 64 }).plan!;
    expect(plan.terms.map((t) => t.nodeId)).not.toContain('style_relu5_1');
    expect(plan.dropped).toContain('style_relu5_1');
  });
});
