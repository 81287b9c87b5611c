import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { validateGraph } from '../src/graph/validate';
import { loadPreset, registry, run, useWasm, withParams } from './helpers';

beforeAll(useWasm);

const presets = readdirSync(new URL('../presets', import.meta.url)).filter((f) => f.endsWith('.json'));

describe.each(presets)('preset %s', (name) => {
  it('validates without diagnostics', () => {
    expect(validateGraph(loadPreset(name), registry)).toEqual([]);
  });

  it('compiles with nothing dropped', () => {
    const { plan } = compile(loadPreset(name), registry, { size: 32 });
    expect(plan?.dropped).toEqual([]);
  });

  it('runs three steps at 24 px and lowers the loss', async () => {
    let model = loadPreset(name);
    const opt = model.nodes.find((n) => n.type === 'optimiser');
    if (opt) model = withParams(model, { [`${opt.id}.steps`]: 3, [`${opt.id}.previewEvery`]: 0 });
    const r = await run(model, 24);
    expect(r.status).toBe('done');
    expect(Object.keys(r.outputs).length).toBeGreaterThan(0);
    if (opt) expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss);
  });
});
