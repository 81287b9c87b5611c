import {
  INPUT_SLOTS,
  OPTIMISER_METHODS,
  SOURCE_KINDS,
  type InputSlot,
  type SourceKind,
  type EncoderRole,
  type LossRole,
  type NodeRoles,
  type NodeTypeDef,
  type OptimiserMethod,
  type LbfgsPlacement,
  type OptimiserRole,
  type ParamDef,
  type ParamValues,
  type SumRole,
} from './types';
import { defaultOf } from './params';

/**
 * The roles (types.ts, NodeRoles) are how the compiler, the runtime, tiling, the command line and the editor find
 * an optimiser's settings, a loss's inputs and weight, a sum's terms and an encoder's image and taps. This file
 * checks them when a node type is registered, fills them in for node types written for plugin API 1.1 (which
 * had no roles), and reads them for the layers that use them.
 */

/** An optimiser's loop, every setting filled in. */
export interface OptimiserLoop {
  method: OptimiserMethod;
  steps: number;
  learningRate: number;
  decay: number;
  clamp: boolean;
  history: number;
  lbfgsStep: number;
  lineSearch: 'strong-wolfe' | 'none';
  iterationsPerStep: number;
  lbfgsOn: LbfgsPlacement;
  /** Steps between preview images; 0: none. */
  previewEvery: number;
}

/** A parameter's value as a number; the registry checked that the role names a number parameter. */
export function numberParam(params: ParamValues, name: string): number {
  const v = params[name];
  if (typeof v !== 'number') throw new Error(`parameter "${name}" is ${JSON.stringify(v)}, not a number`);
  return v;
}

/** The loop an optimiser node's parameters describe. */
export function optimiserLoop(role: OptimiserRole, params: ParamValues): OptimiserLoop {
  const s = role.settings(params);
  return {
    method: s.method,
    steps: numberParam(params, role.steps),
    learningRate: s.learningRate,
    decay: s.decay ?? 0,
    clamp: s.clamp ?? false,
    history: s.history ?? 20,
    lbfgsStep: s.lbfgsStep ?? 1,
    lineSearch: s.lineSearch ?? 'strong-wolfe',
    iterationsPerStep: s.iterationsPerStep ?? 1,
    lbfgsOn: s.lbfgsOn ?? 'auto',
    previewEvery: role.previewEvery ? numberParam(params, role.previewEvery) : 0,
  };
}

const missing = (def: NodeTypeDef, role: string) =>
  new Error(`${def.type} declares no roles.${role} (a registry bug: registration requires it)`);

/** The optimiser role of a registered node type with role 'optimiser'. */
export function optimiserRole(def: NodeTypeDef): OptimiserRole {
  const r = def.roles?.optimiser;
  if (!r) throw missing(def, 'optimiser');
  return r;
}

/** The loss role of a registered node type with role 'loss'. */
export function lossRole(def: NodeTypeDef): LossRole {
  const r = def.roles?.loss;
  if (!r) throw missing(def, 'loss');
  return r;
}

/** The encoder role of a registered node type with a shared pass. */
export function encoderRole(def: NodeTypeDef): EncoderRole {
  const r = def.roles?.encoder;
  if (!r) throw missing(def, 'encoder');
  return r;
}

/** The parameter values of a node type's defaults (what `settings` is checked with). */
const defaultParams = (def: NodeTypeDef): ParamValues =>
  Object.fromEntries(Object.entries(def.params ?? {}).map(([k, p]) => [k, defaultOf(p)]));

/** The sum role, for node types that are weighted sums of terms. */
export const sumRole = (def: NodeTypeDef): SumRole | undefined => def.roles?.sum;

/**
 * Roles a node type written for plugin API 1.1 meant by its names: a loss's Scalar output `loss`, its inputs
 * `input` (the image's features), `target` and `weight`, and its `weight` parameter; an encoder's one Image input.
 * A node type that declares roles gets none of these.
 */
export function withLegacyRoles(def: NodeTypeDef): NodeTypeDef {
  if (def.roles) return def;
  const roles: NodeRoles = {};
  const inputs = def.inputs ?? {};
  if (def.role === 'loss') {
    const weight = {
      ...(inputs.weight?.type === 'Scalar' ? { input: 'weight' } : {}),
      ...(def.params?.weight?.kind === 'number' ? { param: 'weight' } : {}),
    };
    roles.loss = {
      output: 'loss',
      ...(inputs.input ? { features: 'input' } : {}),
      ...(inputs.target ? { target: 'target' } : {}),
      ...(Object.keys(weight).length ? { weight } : {}),
    };
  }
  const images = Object.entries(inputs).filter(([, i]) => i.type === 'Image');
  if (def.shared && images.length === 1) roles.encoder = { image: images[0]![0] };
  return Object.keys(roles).length ? { ...def, roles } : def;
}

/** Checkers of the names a node type's roles give: each says what is wrong, or null. */
function roleNameChecks(def: NodeTypeDef) {
  const inputs = def.inputs ?? {};
  const params = def.params ?? {};
  const staticOutputs = typeof def.outputs === 'function' ? null : (def.outputs ?? {});
  const list = (names: string[]) => (names.length ? names.join(', ') : 'none');
  const problem = (where: string, msg: string) => `${def.type}: roles.${where} ${msg}`;

  const input = (
    where: string,
    name: unknown,
    types: readonly string[],
    how?: 'multiple' | 'optional',
  ): string | null => {
    if (typeof name !== 'string' || !name) return problem(where, 'must name an input');
    const i = inputs[name];
    if (!i)
      return problem(
        where,
        `names the input "${name}", which the node type does not declare (inputs: ${list(Object.keys(inputs))})`,
      );
    if (!types.includes(i.type))
      return problem(where, `names the input "${name}", a ${i.type} input; it must be ${types.join(' or ')}`);
    if (how === 'multiple' && !i.multiple)
      return problem(where, `names the input "${name}", which must be \`multiple\``);
    if (how === 'optional' && !i.optional)
      return problem(
        where,
        `names the input "${name}", which must be \`optional\` (the parameter is used when it is not connected)`,
      );
    return null;
  };
  const param = (where: string, name: unknown, kinds: readonly ParamDef['kind'][]): string | null => {
    if (typeof name !== 'string' || !name) return problem(where, 'must name a parameter');
    const p = params[name];
    if (!p)
      return problem(
        where,
        `names the parameter "${name}", which the node type does not declare (parameters: ${list(Object.keys(params))})`,
      );
    if (!kinds.includes(p.kind))
      return problem(where, `names the parameter "${name}", a ${p.kind} parameter; it must be ${kinds.join(' or ')}`);
    return null;
  };
  const output = (where: string, name: unknown): string | null => {
    if (typeof name !== 'string' || !name) return problem(where, 'must name an output');
    if (staticOutputs && !staticOutputs[name])
      return problem(
        where,
        `names the output "${name}", which the node type does not declare (outputs: ${list(Object.keys(staticOutputs))})`,
      );
    return null;
  };
  return { problem, input, param, output };
}

/** roles.optimiser: its loss input, steps and preview parameters, result output and settings for the defaults. */
function checkOptimiserRole(def: NodeTypeDef, c: ReturnType<typeof roleNameChecks>): string | null {
  const { problem, input, param, output } = c;
  const o = def.roles?.optimiser;
  if (def.role === 'optimiser' && !o)
    return `${def.type}: an optimiser declares roles.optimiser: its loss input, its steps parameter and settings(params) (see docs/plugin-api.md)`;
  if (o) {
    if (def.role !== 'optimiser') return problem('optimiser', `is only for node types with role 'optimiser'`);
    const e =
      input('optimiser.loss', o.loss, ['Scalar']) ??
      param('optimiser.steps', o.steps, ['integer']) ??
      (o.previewEvery !== undefined ? param('optimiser.previewEvery', o.previewEvery, ['integer']) : null) ??
      (o.result !== undefined ? output('optimiser.result', o.result) : null);
    if (e) return e;
    if (typeof o.settings !== 'function') return problem('optimiser.settings', 'must be a function of the parameters');
    try {
      const s = o.settings(defaultParams(def));
      if (!OPTIMISER_METHODS.includes(s?.method))
        return problem(
          'optimiser.settings',
          `gave the method ${JSON.stringify(s?.method)} for the defaults; methods: ${OPTIMISER_METHODS.join(', ')}`,
        );
      if (typeof s.learningRate !== 'number' || !Number.isFinite(s.learningRate))
        return problem(
          'optimiser.settings',
          `gave the learning rate ${JSON.stringify(s.learningRate)} for the defaults`,
        );
    } catch (err) {
      return problem(
        'optimiser.settings',
        `failed for the defaults: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  return null;
}

/**
 * Checks a node type's roles against its declarations: every name a role gives is an input or parameter of
 * the right kind, the roles its `role`, `shared` and `tiled` need are there, and an optimiser's settings read.
 * Returns a message naming the node type and the role, or null.
 */
export function checkRoles(def: NodeTypeDef): string | null {
  const roles = def.roles ?? {};
  const c = roleNameChecks(def);
  const { problem, input, param, output } = c;
  const optimiser = checkOptimiserRole(def, c);
  if (optimiser) return optimiser;

  const l = roles.loss;
  if (def.role === 'loss' && !l)
    return `${def.type}: a loss declares roles.loss: at least the output that carries the term (see docs/plugin-api.md)`;
  if (l) {
    if (def.role !== 'loss') return problem('loss', `is only for node types with role 'loss'`);
    const e =
      output('loss.output', l.output) ??
      (l.features !== undefined ? input('loss.features', l.features, ['Features', 'Image']) : null) ??
      (l.target !== undefined ? input('loss.target', l.target, ['Features', 'Image', 'Gram', 'Stats']) : null) ??
      (l.weight?.input !== undefined ? input('loss.weight.input', l.weight.input, ['Scalar'], 'optional') : null) ??
      (l.weight?.param !== undefined ? param('loss.weight.param', l.weight.param, ['number', 'integer']) : null) ??
      (l.mask !== undefined ? input('loss.mask', l.mask, ['Image'], 'optional') : null);
    if (e) return e;
  }
  for (const [k, p] of Object.entries(def.prepare ?? {}))
    for (const w of p.with ?? [])
      if (!(w in def.inputs) || w === k)
        return `${def.type}: prepare.${k}.with names "${w}", which is not another input (inputs: ${Object.keys(def.inputs).join(', ')})`;
  if (def.tiled && (!l?.features || !l.target))
    return `${def.type}: a loss with a tiled form declares roles.loss.features and roles.loss.target (the inputs a tiled run cuts and compares)`;

  const s = roles.sum;
  if (s) {
    const e =
      input('sum.terms', s.terms, ['Scalar'], 'multiple') ??
      (s.weight !== undefined ? param('sum.weight', s.weight, ['number', 'integer']) : null);
    if (e) return e;
  }

  const enc = roles.encoder;
  if (def.shared && !enc)
    return `${def.type}: an encoder with a shared pass declares roles.encoder: the Image input it reads (see docs/plugin-api.md)`;
  if (enc) {
    const e =
      input('encoder.image', enc.image, ['Image']) ??
      (enc.taps !== undefined ? param('encoder.taps', enc.taps, ['layers', 'string']) : null) ??
      (enc.model !== undefined ? param('encoder.model', enc.model, ['model']) : null);
    if (e) return e;
  }

  const src = roles.source;
  if (src) {
    if (def.role !== 'source' && def.role !== 'stream')
      return problem('source', `is only for node types with role 'source' or 'stream'`);
    if (!SOURCE_KINDS.includes(src.kind))
      return problem('source.kind', `must be one of ${SOURCE_KINDS.join(', ')} (got ${JSON.stringify(src.kind)})`);
    const e =
      param('source.param', src.param, src.kind === 'folder' ? ['string'] : ['image']) ??
      (src.slot !== undefined ? param('source.slot', src.slot, ['enum']) : null);
    if (e) return e;
    if (src.slot !== undefined && src.fills !== undefined)
      return problem('source', 'gives either slot (a parameter) or fills (an input), not both');
    if (src.fills !== undefined && !INPUT_SLOTS.includes(src.fills))
      return problem('source.fills', `must be one of ${INPUT_SLOTS.join(', ')} (got ${JSON.stringify(src.fills)})`);
    if (src.kind === 'mask' && src.name === undefined)
      return problem('source.name', "is needed for kind 'mask': the string parameter naming the region");
    if (src.name !== undefined) {
      if (src.kind !== 'mask') return problem('source.name', "is only for kind 'mask'");
      const n = param('source.name', src.name, ['string']);
      if (n) return n;
    }
  }
  return null;
}

/** A picture node's source: what it reads, the parameter naming it, and the run input (slot) that replaces it, if any. */
export interface NodeSource {
  kind: SourceKind;
  param: string;
  slot?: InputSlot;
  /** A painted region's name (kind `mask`), read from the parameter its role names. */
  name?: string;
}

/** The source role of a node type, its slot read from the node's parameters; undefined for nodes that take no pictures. */
export function sourceOf(def: NodeTypeDef | undefined, params: Record<string, unknown>): NodeSource | undefined {
  const r = def?.roles?.source;
  if (!def || !r) return undefined;
  const value = r.fills ?? (r.slot !== undefined ? (params[r.slot] ?? def.params[r.slot]?.default) : undefined);
  const slot = INPUT_SLOTS.find((s) => s === value);
  const name = r.name !== undefined ? String(params[r.name] ?? def.params[r.name]?.default ?? '') : undefined;
  return { kind: r.kind, param: r.param, ...(slot ? { slot } : {}), ...(name !== undefined ? { name } : {}) };
}
