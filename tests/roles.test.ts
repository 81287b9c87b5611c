import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import optimiser from '../nodes/optimiser';
import { createRegistry } from '../src/plugin/registry';
import { PackHost } from '../src/plugin/packs';
import { styleGram, styleLoss, tiledStyleLoss } from '../src/ops/losses';
import {
  defineNodeType,
  defineParams,
  isTensor,
  type NodeTypeDef,
  type ParamDefs,
  type ParamsOf,
  type Tensor,
  type ValueInfo,
} from '../src/plugin/types';
import { chooseTiling, tiledLoop } from '../src/runtime/tiling';
import { graph, planOf, run, useWasm } from './helpers';

beforeAll(useWasm);

const info = (inputs: Record<string, ValueInfo | ValueInfo[]>, name: string): ValueInfo => {
  const v = inputs[name];
  if (!v || Array.isArray(v)) throw new Error(`input "${name}" is not connected`);
  return v;
};
const tensor = (inputs: Record<string, unknown>, name: string): Tensor => {
  const v = inputs[name];
  if (!isTensor(v)) throw new Error(`input "${name}" has no tensor`);
  return v;
};

/** A pack's optimiser whose loss input, result, steps and settings have names of its own. */
const descent = defineNodeType({
  type: 'test/descent',
  title: 'Descent',
  category: 'Test',
  role: 'optimiser',
  inputs: { picture: { type: 'Image' }, objective: { type: 'Scalar' } },
  outputs: { final: { type: 'Image' } },
  params: {
    algorithm: { kind: 'enum', default: 'Adam', options: ['Adam', 'Plain'] },
    iterations: { kind: 'integer', default: 2, min: 0 },
    rate: { kind: 'number', default: 0.05, min: 0 },
    every: { kind: 'integer', default: 0, min: 0 },
  },
  roles: {
    optimiser: {
      loss: 'objective',
      result: 'final',
      steps: 'iterations',
      previewEvery: 'every',
      settings: (p) => ({ method: p.algorithm === 'Adam' ? 'adam' : 'sgd', learningRate: p.rate, clamp: true }),
    },
  },
  infer: (ctx) => ({ final: { shape: [...info(ctx.inputs, 'picture').shape] } }),
});

/** A pack's Gram loss whose features, target, weight input and weight parameter have names of their own. */
const gramDistance = defineNodeType({
  type: 'test/gram-distance',
  title: 'Gram distance',
  category: 'Test',
  role: 'loss',
  inputs: { mine: { type: 'Features' }, theirs: { type: 'Features' }, scale: { type: 'Scalar', optional: true } },
  outputs: { term: { type: 'Scalar' } },
  params: { strength: { kind: 'number', default: 1, min: 0 } },
  roles: {
    loss: { output: 'term', features: 'mine', target: 'theirs', weight: { input: 'scale', param: 'strength' } },
  },
  prepare: {
    theirs: {
      socket: 'Gram',
      info: (f) => ({ shape: [f.shape.at(-1)!, f.shape.at(-1)!], ...(f.layer ? { layer: f.layer } : {}) }),
      run: (features, _params, t) => styleGram(t, features, 'gatys'),
    },
  },
  infer: (ctx) => {
    info(ctx.inputs, 'mine');
    return { term: { shape: [] } };
  },
  tiled: () => tiledStyleLoss('gatys'),
  compute: ({ tf: t, inputs, params }) => {
    const w = inputs.scale;
    return {
      term: t.tidy(() =>
        t.mul(
          styleLoss(t, tensor(inputs, 'mine'), tensor(inputs, 'theirs'), 'gatys'),
          isTensor(w) ? w : params.strength,
        ),
      ),
    };
  },
});

/** A pack's weighted sum: terms and weight under names of its own. */
const total = defineNodeType({
  type: 'test/total',
  title: 'Total',
  category: 'Test',
  inputs: { parts: { type: 'Scalar', multiple: true } },
  outputs: { sum: { type: 'Scalar' } },
  params: { gain: { kind: 'number', default: 1 } },
  roles: { sum: { terms: 'parts', weight: 'gain' } },
  infer: () => ({ sum: { shape: [] } }),
  compute: ({ tf: t, inputs, params }) => {
    const parts = (inputs.parts ?? []) as Tensor[];
    return { sum: t.tidy(() => t.mul(parts.length ? t.addN(parts) : t.scalar(0), params.gain)) };
  },
});

const packGraph = () =>
  graph(
    [
      ['content', 'image', { source: 'images/astronaut.jpg', slot: 'content' }],
      ['style', 'image', { source: 'images/swirls.jpg', slot: 'style' }],
      ['x', 'variable', { init: 'content' }],
      ['enc_s', 'vgg19', { pooling: 'max', taps: ['relu1_1', 'relu2_1'] }],
      ['enc_x', 'vgg19', { pooling: 'max', taps: ['relu1_1', 'relu2_1'] }],
      ['g1', 'test/gram-distance', { strength: 2 }],
      ['g2', 'test/gram-distance', {}],
      ['w2', 'scalar', { value: 3 }],
      ['all', 'test/total', { gain: 10 }],
      ['opt', 'test/descent', { algorithm: 'Adam', iterations: 2, rate: 0.05 }],
      ['out', 'output', {}],
    ],
    [
      ['style.image', 'enc_s.image'],
      ['content.image', 'x.content'],
      ['x.image', 'enc_x.image'],
      ['enc_x.relu1_1', 'g1.mine'],
      ['enc_s.relu1_1', 'g1.theirs'],
      ['enc_x.relu2_1', 'g2.mine'],
      ['enc_s.relu2_1', 'g2.theirs'],
      ['w2.value', 'g2.scale'],
      ['g1.term', 'all.parts'],
      ['g2.term', 'all.parts'],
      ['x.image', 'opt.picture'],
      ['all.sum', 'opt.objective'],
      ['opt.final', 'out.image'],
    ],
  );

describe('node types with roles of their own names', () => {
  const reg = builtinRegistry([descent, gramDistance, total]);

  it('registers them', () => {
    expect(reg.problems).toEqual([]);
  });

  it('compiles through the roles: the loss input, the result, the loop, the terms and the sum weight', async () => {
    const { plan } = await planOf(packGraph(), 32, reg);
    expect(plan.optimiser).toMatchObject({
      lossKey: 'all.sum',
      resultKey: 'opt.final',
      variables: [{ node: 'x', key: 'x.image', socket: 'Image' }],
    });
    expect(plan.optimiser!.loop).toEqual({
      method: 'adam',
      steps: 2,
      learningRate: 0.05,
      decay: 0,
      clamp: true,
      history: 20,
      lbfgsStep: 1,
      lineSearch: 'strong-wolfe',
      iterationsPerStep: 1,
      lbfgsOn: 'auto',
      previewEvery: 0,
    });
    expect(plan.terms).toEqual([
      { nodeId: 'g1', key: 'g1.term', multiplier: 10 },
      { nodeId: 'g2', key: 'g2.term', multiplier: 10 },
    ]);
    expect(plan.outputs).toEqual([{ nodeId: 'out', key: 'opt.final' }]);
  });

  it('tiles through the roles: features, target, the weight input and the weight parameter', async () => {
    const { plan } = await planOf(packGraph(), 32, reg);
    const loop = tiledLoop(plan, reg);
    if ('reason' in loop) throw new Error(loop.reason);
    expect(loop.terms.map((t) => [t.step.id, t.input, t.target, t.weight, t.multiplier, t.output])).toEqual([
      ['g1', 'enc_x.relu1_1', 'g1.theirs:prepared', 2, 10, 'g1.term'],
      ['g2', 'enc_x.relu2_1', 'g2.theirs:prepared', 'w2.value', 10, 'g2.term'],
    ]);
    expect(loop.rest.map((s) => s.id)).toEqual(['all']);
    expect(chooseTiling(plan, reg, 'wasm', { extent: 24 })).toMatchObject({
      message: 'tiling 32x32 into 9 tiles of 12 px (+6 px halo)',
    });
  });

  it('runs the steps the roles name, whole and on tiles, with the same losses', async () => {
    const whole = await run(packGraph(), 32, { tiling: false }, reg);
    expect(whole.status, whole.error).toBe('done');
    expect(whole.steps.map((s) => s.step)).toEqual([0, 1, 2]);
    expect(whole.outputs.out).toBeDefined();
    const s0 = whole.steps[0]!;
    expect(s0.terms.g1! + s0.terms.g2!).toBeCloseTo(s0.loss, 3);
    expect(whole.steps.at(-1)!.loss).toBeLessThan(s0.loss);
    const events: string[] = [];
    const tiled = await run(
      packGraph(),
      32,
      { tiling: { extent: 24 }, onEvent: (e) => e.type === 'status' && events.push(e.message) },
      reg,
    );
    expect(tiled.status, tiled.error).toBe('done');
    expect(events).toContain('tiling 32x32 into 9 tiles of 12 px (+6 px halo)');
    whole.steps.forEach((s, i) => expect(Math.abs(tiled.steps[i]!.loss - s.loss) / s.loss).toBeLessThan(1e-4));
  });

  it('sets the step count through roles.optimiser.steps', async () => {
    const { applyOverrides } = await import('../src/cli/run/overrides');
    const { model, errors } = applyOverrides(packGraph(), reg, { steps: 7 }, '/');
    expect(errors).toEqual([]);
    expect(model.nodes.find((n) => n.id === 'opt')!.params).toMatchObject({ iterations: 7 });
    expect(model.nodes.find((n) => n.id === 'opt')!.params.steps).toBeUndefined();
  });
});

describe('roles checked at registration', () => {
  const base = { title: 'T', category: 'Test', outputs: {}, infer: () => ({}) };
  const optimiserDef = (roles: unknown): NodeTypeDef =>
    ({
      ...base,
      type: 'test/opt',
      role: 'optimiser',
      inputs: { x: { type: 'Image' }, objective: { type: 'Scalar' } },
      params: { count: { kind: 'integer', default: 1 }, rate: { kind: 'number', default: 0.1 } },
      roles,
    }) as NodeTypeDef; // a pack written in JavaScript: nothing checked its roles' names before the registry
  const settings = (p: Record<string, unknown>) => ({ method: 'adam' as const, learningRate: Number(p.rate) });
  const register = (def: NodeTypeDef) => createRegistry().register(def);

  it('accepts roles that name declared parameters and inputs', () => {
    expect(register(optimiserDef({ optimiser: { loss: 'objective', steps: 'count', settings } }))).toBeNull();
  });

  it('rejects a role naming a parameter the node type does not declare', () => {
    expect(register(optimiserDef({ optimiser: { loss: 'objective', steps: 'iterations', settings } }))).toBe(
      'test/opt: roles.optimiser.steps names the parameter "iterations", which the node type does not declare (parameters: count, rate)',
    );
  });

  it('rejects a role naming an input the node type does not declare', () => {
    expect(register(optimiserDef({ optimiser: { loss: 'loss', steps: 'count', settings } }))).toBe(
      'test/opt: roles.optimiser.loss names the input "loss", which the node type does not declare (inputs: x, objective)',
    );
  });

  it('rejects a role naming a declaration of the wrong kind', () => {
    expect(register(optimiserDef({ optimiser: { loss: 'x', steps: 'count', settings } }))).toBe(
      'test/opt: roles.optimiser.loss names the input "x", a Image input; it must be Scalar',
    );
    expect(register(optimiserDef({ optimiser: { loss: 'objective', steps: 'rate', settings } }))).toBe(
      'test/opt: roles.optimiser.steps names the parameter "rate", a number parameter; it must be integer',
    );
  });

  it('rejects an optimiser without roles, and settings that name no method the runtime has', () => {
    expect(register(optimiserDef(undefined))).toMatch(/^test\/opt: an optimiser declares roles\.optimiser/);
    expect(
      register(
        optimiserDef({
          optimiser: { loss: 'objective', steps: 'count', settings: () => ({ method: 'rmsprop', learningRate: 1 }) },
        }),
      ),
    ).toBe('test/opt: roles.optimiser.settings gave the method "rmsprop" for the defaults; methods: lbfgs, adam, sgd');
  });

  it('rejects loss, sum and encoder roles that name undeclared sockets or parameters', () => {
    const loss = { ...gramDistance, type: 'test/loss' };
    expect(
      register({
        ...loss,
        roles: { loss: { output: 'term', features: 'mine', target: 'theirs', weight: { param: 'weight' } } },
      }),
    ).toBe(
      'test/loss: roles.loss.weight.param names the parameter "weight", which the node type does not declare (parameters: strength)',
    );
    expect(register({ ...loss, roles: { loss: { output: 'loss' } } })).toBe(
      'test/loss: roles.loss.output names the output "loss", which the node type does not declare (outputs: term)',
    );
    expect(register({ ...loss, roles: { loss: { output: 'term' } } })).toMatch(
      /^test\/loss: a loss with a tiled form declares roles\.loss\.features and roles\.loss\.target/,
    );
    expect(register({ ...total, type: 'test/sum', roles: { sum: { terms: 'terms' } } })).toBe(
      'test/sum: roles.sum.terms names the input "terms", which the node type does not declare (inputs: parts)',
    );
    const vgg = builtinRegistry().get('vgg19')!;
    expect(register({ ...vgg, type: 'test/enc', roles: { encoder: { image: 'picture', taps: 'taps' } } })).toBe(
      'test/enc: roles.encoder.image names the input "picture", which the node type does not declare (inputs: image)',
    );
  });

  it('refuses a pack whose node type names an undeclared parameter in its roles, naming the pack', () => {
    const host = new PackHost(builtinRegistry());
    const r = host.install(
      {
        default: {
          name: 'bad',
          version: '1.0.0',
          api: '^1.2.0',
          description: 'x',
          nodes: [optimiserDef({ optimiser: { loss: 'objective', steps: 'n', settings } })],
        },
      },
      'test',
    );
    expect(r).toMatchObject({ ok: false });
    expect(!r.ok && r.error).toBe(
      'pack "bad" was not installed: bad/test/opt: roles.optimiser.steps names the parameter "n", which the node type does not declare (parameters: count, rate)',
    );
  });

  it('gives a 1.1 loss (no roles) the roles its names meant', () => {
    const reg = createRegistry();
    const legacy = {
      ...gramDistance,
      type: 'test/legacy',
      inputs: { input: { type: 'Features' }, target: { type: 'Features' }, weight: { type: 'Scalar', optional: true } },
      outputs: { loss: { type: 'Scalar' } },
      params: { weight: { kind: 'number', default: 1 } },
      roles: undefined,
      prepare: undefined,
    } as NodeTypeDef;
    expect(reg.register(legacy)).toBeNull();
    expect(reg.get('test/legacy')!.roles).toEqual({
      loss: { output: 'loss', features: 'input', target: 'target', weight: { input: 'weight', param: 'weight' } },
    });
  });
});

describe('parameters typed from their declarations', () => {
  it('types params in a node type by kind: numbers, enum options, layer lists, text', () => {
    const params = defineParams({
      n: { kind: 'integer', default: 1 },
      mode: { kind: 'enum', default: 'a', options: ['a', 'b'] },
      taps: { kind: 'layers', default: ['x'], layers: ['x', 'y'] },
      on: { kind: 'boolean', default: true },
      name: { kind: 'string', default: '' },
    });
    expectTypeOf(params).toBeObject();
    expectTypeOf<ParamsOf<typeof params>>().toEqualTypeOf<{
      n: number;
      mode: 'a' | 'b';
      taps: string[];
      on: boolean;
      name: string;
    }>();
    // Unknown declarations type as ParamValues.
    expectTypeOf<ParamsOf<ParamDefs>[string]>().toEqualTypeOf<number | boolean | string | string[]>();
    // The built-in optimiser's settings read its method as the runtime's methods: no cast.
    expectTypeOf(optimiser.roles!.optimiser!.settings)
      .returns.toHaveProperty('method')
      .toEqualTypeOf<'lbfgs' | 'adam' | 'sgd'>();
  });

  it('checks role names against the declarations when a node type is defined', () => {
    const def = {
      type: 't',
      title: 't',
      category: 'c',
      role: 'optimiser',
      inputs: { objective: { type: 'Scalar' } },
      outputs: {},
      params: { n: { kind: 'integer', default: 1 }, r: { kind: 'number', default: 1 } },
      infer: () => ({}),
    } as const;
    const settings = (p: { r: number }) => ({ method: 'adam' as const, learningRate: p.r });
    defineNodeType({ ...def, roles: { optimiser: { loss: 'objective', steps: 'n', settings } } });
    // @ts-expect-error: no input "loss"
    defineNodeType({ ...def, roles: { optimiser: { loss: 'loss', steps: 'n', settings } } });
    // @ts-expect-error: "r" is a number parameter, steps must be an integer one
    defineNodeType({ ...def, roles: { optimiser: { loss: 'objective', steps: 'r', settings } } });
    // @ts-expect-error: no parameter "steps"
    defineNodeType({ ...def, roles: { optimiser: { loss: 'objective', steps: 'steps', settings } } });
    const typed: NodeTypeDef = descent; // a typed node type is a NodeTypeDef
    expect(typed.type).toBe('test/descent');
  });
});
