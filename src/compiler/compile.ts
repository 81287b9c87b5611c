import type { Diagnostic } from '../graph/diagnostics';
import { hasErrors } from '../graph/diagnostics';
import { edgeKey, topologicalOrder, type GraphEdge, type GraphModel, type GraphNode } from '../graph/model';
import { validateGraph } from '../graph/validate';
import { resolveParams } from '../plugin/params';
import type { NodeRegistry } from '../plugin/registry';
import {
  encoderRole,
  lossRole,
  numberParam,
  optimiserLoop,
  optimiserRole,
  sumRole,
  type OptimiserLoop,
} from '../plugin/roles';
import { outputsOf, type NodeTypeDef, type ParamValues, type ShapeContext, type ValueInfo } from '../plugin/types';
import { estimate } from './estimate';
import { signSteps } from './signature';
import type { LossTerm, Phase, Plan, PlanOptimiser, PlanStep, PlanValue } from './plan';

export interface CompileOptions {
  /** Longest image side in pixels. */
  size: number;
  /** Decoded sizes [height, width] of image sources, where known. */
  imageSize?: (source: string) => [number, number] | undefined;
  /** Layer output shapes of loaded tfjs models. */
  modelLayers?: (source: string, input?: readonly number[]) => Map<string, number[]> | undefined;
  /** Tensor shapes of loaded checkpoints, by name (see ShapeContext.checkpointShapes). */
  checkpointShapes?: (name: string) => ReadonlyMap<string, readonly number[]> | undefined;
}

export interface CompileResult {
  plan: Plan | null;
  diagnostics: Diagnostic[];
}

interface NodeInfo {
  node: GraphNode;
  def: NodeTypeDef;
  params: ParamValues;
  path: string;
}

/** The run sizes (longest image side, px) a graph compiles at: the one place this is decided (a RunRequest checks it too). */
export const MIN_SIZE = 8;
export const MAX_SIZE = 4096;

/** Why a size cannot be run, or null. */
export function sizeProblem(size: number): string | null {
  return Number.isInteger(size) && size >= MIN_SIZE && size <= MAX_SIZE
    ? null
    : `the image size must be a whole number of pixels, at least ${MIN_SIZE} and at most ${MAX_SIZE} (got ${size})`;
}

/** A problem that stops the compile (compile adds the severity and the diagnostics so far). */
type Failure = { failed: Omit<Diagnostic, 'severity'> };
const failed = (d: Omit<Diagnostic, 'severity'>): Failure => ({ failed: d });
const isFailure = (x: unknown): x is Failure => typeof x === 'object' && x !== null && 'failed' in x;
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Validates the model and turns it into an execution plan. Never throws on user input. */
export function compile(model: GraphModel, registry: NodeRegistry, options: CompileOptions): CompileResult {
  const tooSmall = sizeProblem(options.size);
  if (tooSmall) return { plan: null, diagnostics: [{ severity: 'error', path: '$', message: tooSmall }] };
  // Only what an output needs can block a run: a problem on a node that reaches no output (a node just added
  // from the palette, a pasted loss not wired yet) is a warning, and the node is left out.
  const withRole = (role: string) => model.nodes.filter((n) => registry.get(n.type)?.role === role).map((n) => n.id);
  const [outputIds, optimiserIds] = [withRole('output'), withRole('optimiser')];
  const feeding = neededBy(outputIds, optimiserIds, model.edges);
  const diagnostics = validateGraph(model, registry).map((d): Diagnostic =>
    d.severity === 'error' && outputIds.length && d.nodeId && !feeding.has(d.nodeId) && DROPPABLE.has(d.code ?? '')
      ? { ...d, severity: 'warning', message: `${d.message}; "${d.nodeId}" reaches no output, so it is left out` }
      : d,
  );
  if (hasErrors(diagnostics)) return { plan: null, diagnostics };
  const fail = (f: Failure): CompileResult => ({
    plan: null,
    diagnostics: [...diagnostics, { severity: 'error', ...f.failed }],
  });

  const nodes = new Map<string, NodeInfo>();
  model.nodes.forEach((node, i) => {
    const def = registry.get(node.type)!;
    nodes.set(node.id, { node, def, params: resolveParams(def.params, node.params), path: `$.nodes[${i}]` });
  });

  const edges = applyBypass(nodes, model.edges, feeding, diagnostics);
  if (isFailure(edges)) return fail(edges);

  if (!outputIds.length)
    return fail(
      failed({
        code: 'no-output',
        path: '$.nodes',
        message: 'the graph has no output node, so nothing would be computed; add an Output image',
      }),
    );

  // What the outputs need once bypassed terms are dropped.
  const needed = neededBy(outputIds, optimiserIds, edges);
  const order = topologicalOrder(
    model.nodes.map((n) => n.id).filter((id) => needed.has(id)),
    edges.map((e) => ({ from: e.from.node, to: e.to.node })),
  );
  if ('cycle' in order)
    return fail(failed({ code: 'cycle', path: '$.edges', message: `cycle: ${order.cycle.join(' -> ')}` }));

  const phase = new Map<string, Phase>(order.order.map((id) => [id, 'once']));
  const optimiser = planOptimiser(order.order, nodes, edges, phase, diagnostics);
  if (isFailure(optimiser)) return fail(optimiser);

  const shapes = inferShapes(order.order, nodes, edges, options);
  if (isFailure(shapes)) return fail(shapes);
  const { infos, inputKeys } = shapes;
  const value = planValue(shapes);

  const steps = planSteps(order.order, nodes, phase, optimiser, shapes);
  costSteps(steps, nodes, infos, options.size);
  signSteps(
    steps,
    (id) => nodes.get(id)!.params,
    options.size,
    (s) => nodes.get(s.nodes[0]!)!.def,
  );
  const retained = computeLifetimes(steps, optimiser);
  const terms: LossTerm[] = optimiser ? lossTerms(order.order, nodes, phase, edges, optimiser) : [];
  const params = Object.fromEntries([...nodes].map(([id, n]) => [id, n.params]));
  const dropped = model.nodes.map((n) => n.id).filter((id) => !needed.has(id));
  const plan: Plan = {
    size: options.size,
    steps,
    params,
    optimiser,
    terms,
    retained,
    dropped,
    outputs: outputIds.map((id) => ({ nodeId: id, key: Object.values(inputKeys.get(id)!)[0] as string })),
    estimate: { flopsOnce: 0, flopsPerIteration: 0, flopsAfter: 0, weightBytes: 0, peakBytes: 0 },
  };
  if (optimiser)
    optimiser.stateBytes = optimiserStateBytes(
      optimiser,
      optimiser.variables.reduce((a, v) => a + value(v.key).bytes, 0),
    );
  plan.estimate = estimate(plan, (step) => {
    const n = nodes.get(step.nodes[0]!)!;
    return n.def.shared!.cost(step.taps!, infos.get(step.inputs[encoderRole(n.def).image] as string)!.shape, n.params)
      .weightBytes;
  });
  return { plan, diagnostics };
}

/**
 * The edges once bypassed nodes are taken out. A bypassed loss term drops out (edges leaving it are ignored); any
 * other bypassed node passes through the input of the same type as its output (Preserve colour hands on its image
 * untouched). Warns (into `diagnostics`) about a bypassed node that cannot pass anything on.
 */
function applyBypass(
  nodes: Map<string, NodeInfo>,
  modelEdges: GraphEdge[],
  feeding: ReadonlySet<string>,
  diagnostics: Diagnostic[],
): GraphEdge[] | Failure {
  const bypassed = new Set<string>();
  let edges = [...modelEdges];
  for (const n of nodes.values()) {
    if (!n.node.bypass) continue;
    if (n.def.role === 'loss') {
      bypassed.add(n.node.id);
      continue;
    }
    const through = passThrough(n, edges);
    if (through) edges = through;
    else
      diagnostics.push({
        severity: 'warning',
        path: `${n.path}.bypass`,
        nodeId: n.node.id,
        message: `"${n.node.id}" has no connected input of its output's type to pass on, so it still runs`,
      });
  }
  edges = edges.filter((e) => !bypassed.has(e.from.node));
  for (const n of nodes.values())
    if (feeding.has(n.node.id))
      for (const [name, input] of Object.entries(n.def.inputs))
        if (!input.optional && !input.multiple && !edges.some((e) => e.to.node === n.node.id && e.to.input === name))
          return failed({
            code: 'missing-input',
            path: n.path,
            nodeId: n.node.id,
            message: `"${n.node.id}".${name} comes from a bypassed term`,
          });
  return edges;
}

/**
 * The optimiser and its variables, or null when the graph has none. Sets each node's phase (`phase` starts all
 * 'once'): 'loop' for what the loss needs and changes from one iteration to the next, 'after' for what only
 * changes or follows the optimiser. Warns about a variable the loss does not depend on.
 */
function planOptimiser(
  order: readonly string[],
  nodes: Map<string, NodeInfo>,
  edges: GraphEdge[],
  phase: Map<string, Phase>,
  diagnostics: Diagnostic[],
): PlanOptimiser | null | Failure {
  const optimisers = order.filter((id) => nodes.get(id)!.def.role === 'optimiser');
  if (optimisers.length > 1)
    return failed({
      code: 'optimiser',
      path: '$.nodes',
      nodeId: optimisers[1],
      message: `one optimiser per graph for now; found ${optimisers.join(', ')}`,
    });
  if (!optimisers.length) return null;
  const optId = optimisers[0]!;
  const opt = nodes.get(optId)!;
  const problem = (message: string): Failure => failed({ code: 'optimiser', path: opt.path, nodeId: optId, message });
  const role = optimiserRole(opt.def);
  const lossEdge = edges.find((e) => e.to.node === optId && e.to.input === role.loss);
  if (!lossEdge) return problem(`the optimiser "${optId}" has no loss connected`);
  const variables: PlanOptimiser['variables'] = [];
  for (const e of edges.filter((e) => e.to.node === optId && e.to.input !== role.loss)) {
    const v = nodes.get(e.from.node)!;
    if (v.def.role !== 'variable')
      return problem(
        `what the optimiser "${optId}" updates must come from an Image variable or a model node, not "${v.node.id}" (${v.def.title})`,
      );
    variables.push({
      node: v.node.id,
      key: edgeKey(e.from.node, e.from.output),
      socket: opt.def.inputs[e.to.input]!.type as 'Image' | 'Model',
    });
  }
  if (!variables.length) return problem(`the optimiser "${optId}" has nothing to update`);
  const result = role.result !== undefined && role.result in outputsOf(opt.def, opt.params) ? role.result : null;
  let loop: OptimiserLoop;
  try {
    loop = optimiserLoop(role, opt.params);
  } catch (e) {
    return problem(`the optimiser "${optId}": ${errorText(e)}`);
  }
  const optimiser: PlanOptimiser = {
    nodeId: optId,
    variables,
    lossKey: edgeKey(lossEdge.from.node, lossEdge.from.output),
    resultKey: result === null ? null : edgeKey(optId, result),
    loop,
    stateBytes: 0,
  };
  const forLoss = reachBackward([lossEdge.from.node], edges);
  // What changes from one iteration to the next: everything downstream of a variable or a stream.
  const changing = new Set<string>();
  for (const v of variables) for (const id of reachForward(v.node, edges, optId)) changing.add(id);
  for (const id of order)
    if (nodes.get(id)!.def.role === 'stream') {
      changing.add(id);
      for (const d of reachForward(id, edges, optId)) changing.add(d);
    }
  const afterOpt = reachForward(optId, edges);
  const isVariable = new Set(variables.map((v) => v.node));
  for (const id of order) {
    if (isVariable.has(id) || id === optId) continue;
    if (changing.has(id) && forLoss.has(id)) phase.set(id, 'loop');
    else if (changing.has(id) || afterOpt.has(id)) phase.set(id, 'after');
  }
  for (const v of variables)
    if (!forLoss.has(v.node))
      diagnostics.push({
        severity: 'warning',
        path: opt.path,
        nodeId: optId,
        message: `the loss does not depend on "${v.node}", so the optimiser cannot change it`,
      });
  return optimiser;
}

/** What shape inference leaves: each value's info and socket type, and each node's input keys. */
interface Shapes {
  infos: Map<string, ValueInfo>;
  sockets: Map<string, PlanValue['socket']>;
  inputKeys: Map<string, Record<string, string | string[]>>;
}

/** Infers every output's shape in topological order. */
function inferShapes(
  order: readonly string[],
  nodes: Map<string, NodeInfo>,
  edges: GraphEdge[],
  options: CompileOptions,
): Shapes | Failure {
  const infos = new Map<string, ValueInfo>();
  const sockets = new Map<string, PlanValue['socket']>();
  const inputKeys = new Map<string, Record<string, string | string[]>>();
  for (const id of order) {
    const n = nodes.get(id)!;
    const keys: Record<string, string | string[]> = {};
    const ctxInputs: ShapeContext['inputs'] = {};
    for (const [name, input] of Object.entries(n.def.inputs)) {
      const into = edges
        .filter((e) => e.to.node === id && e.to.input === name)
        .map((e) => edgeKey(e.from.node, e.from.output));
      if (input.multiple) {
        keys[name] = into;
        ctxInputs[name] = into.map((k) => infos.get(k)!);
      } else if (into[0]) {
        keys[name] = into[0];
        ctxInputs[name] = infos.get(into[0])!;
      }
    }
    inputKeys.set(id, keys);
    let out: Record<string, ValueInfo>;
    try {
      out = n.def.infer({
        params: n.params,
        inputs: ctxInputs,
        size: options.size,
        imageSize: options.imageSize,
        modelLayers: options.modelLayers,
        checkpointShapes: options.checkpointShapes,
      });
    } catch (e) {
      return failed({ code: 'param', path: n.path, nodeId: id, message: `${id} (${n.def.title}): ${errorText(e)}` });
    }
    for (const [name, def] of Object.entries(outputsOf(n.def, n.params))) {
      const info = out[name];
      if (!info)
        return failed({
          path: n.path,
          nodeId: id,
          message: `${id}: the node type "${n.def.type}" did not infer output "${name}" (a plugin bug)`,
        });
      infos.set(edgeKey(id, name), info);
      sockets.set(edgeKey(id, name), def.type);
    }
  }
  return { infos, sockets, inputKeys };
}

const planValue =
  ({ infos, sockets }: Shapes) =>
  (key: string): PlanValue => {
    const info = infos.get(key)!;
    return { key, socket: sockets.get(key)!, info, bytes: 4 * info.shape.reduce((a, b) => a * b, 1) };
  };

/**
 * The plan's steps: a stable partition by phase keeps the topological order within each phase. Nodes sharing one
 * encoder pass (same phase, key and image) become one 'pass' step; a node's prepared inputs become 'prepare' steps
 * (in `shapes`, the prepared values are added and the node's input keys point at them).
 */
function planSteps(
  order: readonly string[],
  nodes: Map<string, NodeInfo>,
  phase: Map<string, Phase>,
  optimiser: PlanOptimiser | null,
  shapes: Shapes,
): PlanStep[] {
  const { infos, sockets, inputKeys } = shapes;
  const value = planValue(shapes);
  const steps: PlanStep[] = [];
  const passes = new Map<string, PlanStep>();
  for (const ph of ['once', 'loop', 'after'] as const) {
    for (const id of order) {
      if (phase.get(id) !== ph || id === optimiser?.nodeId) continue;
      const n = nodes.get(id)!;
      const keys = inputKeys.get(id)!;
      if (n.def.shared) {
        sharedPassStep(steps, passes, n, ph, keys, value);
        continue;
      }
      for (const [name, prepare] of Object.entries(n.def.prepare ?? {})) {
        const src = keys[name];
        if (typeof src !== 'string') continue;
        const prepared = `${id}.${name}:prepared`;
        // The other inputs it reads (a style mask) are consumed by the preparation, not the node's compute.
        const others = (prepare.with ?? []).flatMap((o): [string, string][] => {
          const k = keys[o];
          delete keys[o];
          return typeof k === 'string' ? [[o, k]] : [];
        });
        const once = [src, ...others.map(([, k]) => k)].every((k) => (phase.get(k.split('.')[0]!) ?? ph) === 'once');
        const info = prepare.info(infos.get(src)!, n.params);
        infos.set(prepared, info);
        sockets.set(prepared, prepare.socket);
        newStep(steps, {
          id: `${id}.${name}:prepare`,
          kind: 'prepare',
          nodes: [id],
          type: n.def.type,
          phase: once ? 'once' : ph,
          inputs: { [name]: src, ...Object.fromEntries(others) },
          outputs: [value(prepared)],
        });
        keys[name] = prepared;
      }
      const outs = Object.keys(outputsOf(n.def, n.params)).map((o) => value(edgeKey(id, o)));
      newStep(steps, { id, kind: 'node', nodes: [id], type: n.def.type, phase: ph, inputs: keys, outputs: outs });
    }
  }
  // Prepare steps of `once` inputs were appended in the loop phase's turn: move them before the loop.
  steps.sort((a, b) => phaseRank(a.phase) - phaseRank(b.phase) || a.index - b.index);
  steps.forEach((s, i) => (s.index = i));
  return steps;
}

/** Adds a shared encoder node to the pass of its group, or starts that pass. */
function sharedPassStep(
  steps: PlanStep[],
  passes: Map<string, PlanStep>,
  n: NodeInfo,
  ph: Phase,
  keys: Record<string, string | string[]>,
  value: (key: string) => PlanValue,
): void {
  const id = n.node.id;
  const shared = n.def.shared!;
  const image = keys[encoderRole(n.def).image] as string;
  const group = `${ph}|${shared.key(n.params)}@${image}`;
  const taps = shared.taps(n.params);
  const outs = taps.map((t) => value(edgeKey(id, t)));
  const existing = passes.get(group);
  if (existing) {
    existing.nodes.push(id);
    existing.id = `pass:${existing.nodes.join('+')}`;
    for (const t of taps) if (!existing.taps!.includes(t)) existing.taps!.push(t);
    existing.outputs.push(...outs);
    return;
  }
  const step = newStep(steps, {
    id: `pass:${id}`,
    kind: 'pass',
    nodes: [id],
    type: n.def.type,
    phase: ph,
    inputs: { [encoderRole(n.def).image]: image },
    outputs: outs,
    taps: [...taps],
  });
  passes.set(group, step);
}

/** Each step's flops and transient bytes. */
function costSteps(steps: PlanStep[], nodes: Map<string, NodeInfo>, infos: Map<string, ValueInfo>, size: number) {
  for (const s of steps) {
    const n = nodes.get(s.nodes[0]!)!;
    const inputs = inputsForCost(s, infos);
    if (s.kind === 'pass') {
      const c = n.def.shared!.cost(s.taps!, infos.get(s.inputs[encoderRole(n.def).image] as string)!.shape, n.params);
      s.flops = c.flops;
      if (c.winogradFlops) s.winogradFlops = c.winogradFlops;
      s.transientBytes = c.activationBytes;
    } else if (s.kind === 'node' && n.def.flops) {
      s.flops = n.def.flops(
        { params: n.params, inputs, size },
        Object.fromEntries(s.outputs.map((o) => [o.key.slice(s.id.length + 1), o.info])),
      );
    }
  }
}

function newStep(steps: PlanStep[], s: Omit<PlanStep, 'index' | 'flops' | 'transientBytes' | 'release'>): PlanStep {
  const step: PlanStep = { ...s, index: steps.length, flops: 0, transientBytes: 0, release: [] };
  steps.push(step);
  return step;
}

const phaseRank = (p: Phase): number => (p === 'once' ? 0 : p === 'loop' ? 1 : 2);

function inputsForCost(s: PlanStep, infos: Map<string, ValueInfo>): ShapeContext['inputs'] {
  return Object.fromEntries(
    Object.entries(s.inputs).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => infos.get(x)!) : infos.get(v)!]),
  );
}

/** Fills each step's `release` list; returns the `once` values the loop reads (they live to the end). */
function computeLifetimes(steps: PlanStep[], optimiser: PlanOptimiser | null): string[] {
  const lastUse = new Map<string, number>();
  const producedIn = new Map<string, PlanStep>();
  const usedInLoop = new Set<string>();
  for (const s of steps) {
    for (const o of s.outputs) producedIn.set(o.key, s);
    for (const v of Object.values(s.inputs))
      for (const key of Array.isArray(v) ? v : [v]) {
        lastUse.set(key, s.index);
        if (s.phase === 'loop') usedInLoop.add(key);
      }
  }
  const retained: string[] = [];
  for (const [key, producer] of producedIn) {
    if (optimiser?.variables.some((v) => v.key === key)) continue; // the executor owns the variables
    if (producer.phase === 'once' && usedInLoop.has(key)) {
      retained.push(key);
      continue;
    }
    if (producer.phase === 'loop') continue; // freed by the step's own scope each iteration
    steps[lastUse.get(key) ?? producer.index]!.release.push(key);
  }
  return retained;
}

function optimiserStateBytes(opt: PlanOptimiser, variableBytes: number): number {
  switch (opt.loop.method) {
    case 'adam':
      return 2 * variableBytes;
    case 'lbfgs': // history pairs plus direction, gradient and line-search points, as float64 in JS
      return (2 * opt.loop.history + 6) * variableBytes * 2;
    default:
      return variableBytes;
  }
}

/** Loss-role nodes feeding the optimiser, with the weights of the sums between them and the total. */
function lossTerms(
  order: string[],
  nodes: Map<string, NodeInfo>,
  phase: Map<string, Phase>,
  edges: GraphEdge[],
  opt: PlanOptimiser,
): LossTerm[] {
  const lossNode = opt.lossKey.split('.')[0]!;
  const multiplier = new Map<string, number | null>([[lossNode, 1]]);
  for (const id of [...order].reverse()) {
    if (id === lossNode || phase.get(id) !== 'loop') continue;
    let total: number | null = 0;
    let feeds = false;
    for (const e of edges.filter((e) => e.from.node === id)) {
      const m = multiplier.get(e.to.node);
      if (m === undefined) continue;
      feeds = true;
      const to = nodes.get(e.to.node)!;
      const sum = sumRole(to.def);
      const weight = sum?.weight === undefined ? 1 : numberParam(to.params, sum.weight);
      total = m === null || total === null || sum?.terms !== e.to.input ? null : total + m * weight;
    }
    if (feeds) multiplier.set(id, total);
  }
  return order
    .filter((id) => nodes.get(id)!.def.role === 'loss' && multiplier.has(id))
    .map((id) => ({
      nodeId: id,
      key: edgeKey(id, lossRole(nodes.get(id)!.def).output),
      multiplier: multiplier.get(id)!,
    }));
}

/** Problems of a single node that do not matter when the node reaches no output. */
const DROPPABLE = new Set(['missing-input', 'param', 'wrong-socket', 'too-many-edges']);

/**
 * Nodes the outputs need: upstream of an output, and, for an optimiser whose result is needed (it updates what an
 * output shows or saves, a trained model that is saved), upstream of the optimiser too.
 */
function neededBy(outputs: string[], optimisers: string[], edges: GraphEdge[]): Set<string> {
  const needed = reachBackward(outputs, edges);
  for (const id of optimisers)
    if (!needed.has(id) && edges.some((e) => e.to.node === id && needed.has(e.from.node)))
      for (const n of reachBackward([id], edges)) needed.add(n);
  return needed;
}

function reachBackward(starts: string[], edges: GraphEdge[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...starts];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const e of edges) if (e.to.node === id) stack.push(e.from.node);
  }
  return seen;
}

/** Nodes downstream of `start` (excluded), not walking past `stop`. */
function reachForward(start: string, edges: GraphEdge[], stop?: string): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length) {
    const id = stack.pop()!;
    for (const e of edges)
      if (e.from.node === id && !seen.has(e.to.node) && e.to.node !== stop) {
        seen.add(e.to.node);
        stack.push(e.to.node);
      }
  }
  return seen;
}

/** Edges with a bypassed node's outputs fed from its first connected input of the same type; null when none has one. */
function passThrough(n: NodeInfo, edges: GraphEdge[]): GraphEdge[] | null {
  const outs = outputsOf(n.def, n.params);
  const source = (type: string) => {
    for (const [name, input] of Object.entries(n.def.inputs))
      if (input.type === type) {
        const e = edges.find((x) => x.to.node === n.node.id && x.to.input === name);
        if (e) return e.from;
      }
    return undefined;
  };
  const rewired: GraphEdge[] = [];
  for (const e of edges) {
    if (e.from.node !== n.node.id) {
      rewired.push(e);
      continue;
    }
    const from = source(outs[e.from.output]?.type ?? '');
    if (!from) return null;
    rewired.push({ ...e, from: { ...from } });
  }
  return rewired;
}
