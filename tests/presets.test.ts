import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { validateGraph } from '../src/graph/validate';
import { builtinRegistry } from '../nodes';
import { importPack } from '../src/cli/security/plugins';
import { PackHost } from '../src/plugin/packs';
import { loadPreset, run, useWasm, withParams } from './helpers';
import { cameraNodes } from '../nodes/camera-input';
import { withInput } from '../src/graph/edit';

// The presets as the CLI sees them from the repository (package.json's "stylegraph" config loads the example pack).
const registry = builtinRegistry();
beforeAll(async () => {
  await useWasm();
  const { module, origin } = await importPack('examples/pack-wct', new URL('..', import.meta.url).pathname);
  const r = new PackHost(registry).install(module, origin);
  if (!r.ok) throw new Error(r.error);
});

const presets = readdirSync(new URL('../presets', import.meta.url)).filter((f) => f.endsWith('.json'));

describe.each(presets)('preset %s', (name) => {
  it('validates without diagnostics', () => {
    expect(validateGraph(loadPreset(name), registry)).toEqual([]);
  });

  it('compiles with nothing dropped', () => {
    const { plan } = compile(loadPreset(name), registry, { size: 32 });
    expect(plan?.dropped).toEqual([]);
  });

  it('runs 2 steps at 32 px (an image optimisation lowers its loss)', async () => {
    let model = loadPreset(name);
    // A camera graph runs on a photo here, as `--content` runs it from the command line.
    if (cameraNodes(model).length) model = withInput(model, registry, 'content', 'images/astronaut.jpg');
    const opt = model.nodes.find((n) => registry.get(n.type)?.role === 'optimiser');
    if (opt)
      model = withParams(model, {
        [`${opt.id}.steps`]: 2,
        ...(opt.type === 'optimiser' ? { [`${opt.id}.previewEvery`]: 0 } : {}),
      });
    const r = await run(model, 32, {}, registry);
    expect(r.status).toBe('done');
    expect(Object.keys(r.outputs).length + Object.keys(r.checkpoints).length).toBeGreaterThan(0);
    // Training on random weights and random batches is too noisy to promise a fall in two steps (see training.test.ts).
    if (opt?.type === 'optimiser') expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss);
  });
});
