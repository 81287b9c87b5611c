import type * as tfjs from '@tensorflow/tfjs';
import type { Plan, PlanStep } from '../compiler/plan';
import type { NodeRegistry } from '../plugin/registry';
import { encoderRole } from '../plugin/roles';
import { isModel, type ComputeServices, type LoadedCheckpoint, type ModelHandle, type Value } from '../plugin/types';
import { imageToTensor, resizeTo, tensorToRGBA, type RGBAImage } from '../ops/image';
import { temporalLoss, type PixelMask } from '../ops/flow';
import { lbfgs, type Evaluation } from './lbfgs';
import { lbfgsDevice, lbfgsOnDevice, type DeviceEvaluation } from './lbfgs-device';
import { chooseTiling, evaluateTiles, stitchedPass, type OnTile, type TilingChoice } from './tiling';
import type { RunMemo } from './memo';
import type { PauseGate } from './pause';
import { adam, sgd, type GradientOptimiser } from './optimisers';
import { CheckpointError } from '../models/weights/state-dict';
import { calibrateWinograd, winogradPending, winogradSettings, type WinogradMode } from '../ops/winograd';

export { RunMemo } from './memo';

type Tensor = tfjs.Tensor;

export interface StepRecord {
  /** 0 is the loss before any update. */
  step: number;
  loss: number;
  /** Each loss term's contribution to the total, by node id. */
  terms: Record<string, number>;
  ms: number;
  /** Loss evaluations this step took (L-BFGS line searches take several). */
  evaluations: number;
}

export type RunEvent =
  | { type: 'status'; message: string }
  | ({ type: 'step'; total: number } & StepRecord)
  | { type: 'preview'; step: number; image: RGBAImage }
  /** The run waits at its pause gate (RunOptions.pause) after step `step` of `total`; 'resumed' when it goes on. */
  | { type: 'paused'; step: number; total: number }
  | { type: 'resumed'; step: number; total: number }
  /** Work on tiles of a large image, tile by tile (see runtime/tiling.ts). */
  | { type: 'tile'; phase: 'targets' | 'forward' | 'backward'; tile: number; tiles: number };

export interface RunOptions {
  signal?: AbortSignal;
  /**
   * Held (the editor's Pause), the optimisation loop waits between steps until it is opened again or `signal`
   * aborts, keeping its state; a run without a loop is not held. Absent: never waits.
   */
  pause?: PauseGate;
  onEvent?: (e: RunEvent) => void;
  /** Results kept from earlier runs: `once` steps whose signature is here are not recomputed. */
  memo?: RunMemo;
  /**
   * Value keys to read back for the editor's node previews: `once` and `after` values when computed,
   * loop values (what the encoders see of the result) once more at the end of the run.
   */
  probe?: {
    keys: ReadonlySet<string>;
    read(key: string, shape: number[], data: Float32Array | Int32Array | Uint8Array): void;
  };
  /**
   * Tiling of the optimisation loop (see runtime/tiling.ts): `extent` forces tiles of at most that many px
   * per side; `limit` is the memory (bytes) above which the run tiles on its own (default: the backend's);
   * false never tiles.
   */
  tiling?: { extent?: number; limit?: number } | false;
  /** Starts the optimised image from this picture (resized to the variable's shape): coarse-to-fine runs pass the last scale's result. */
  initImage?: RGBAImage;
  /**
   * A video frame's temporal loss (Ruder et al. 2016): `weight` * (1 / D) sum c (x - warped)^2 is added to the
   * optimisation's total, where x is the optimised image, `target` the previous frame's result warped onto this frame
   * by the optical flow and c the `mask` of the pixels the warp is trusted on (src/ops/flow.ts). Both are resized to
   * the image variable. Reported as the term `temporal`. Not on tiles (a tiled run leaves it out and says so).
   */
  temporal?: { target: RGBAImage; mask: PixelMask; weight: number };
  /**
   * Sees the gradients of every loss evaluation of the optimisation loop (`evaluation` counts from 0, the starting
   * point), one per variable; they are freed after the call, so keep a `tf.clone`. The parity tests compare backends
   * with it.
   */
  onGradient?: (evaluation: number, grads: readonly Tensor[]) => void;
  /**
   * Winograd's F(4x4,3x3) for VGG's 3x3 convolutions and their input gradients (src/ops/winograd.ts): off, on, or
   * auto (each layer shape timed once per backend against the direct convolution, after the first step, and run by
   * Winograd only where it measured faster). Absent: the process's setting (`winogradSettings`, off unless set).
   */
  winograd?: WinogradMode;
  /**
   * Told the wall time of each `once` and `after` step that ran (`step:ID`, a memo hit is not told) and of reading
   * each output back (`readback`), in milliseconds; the live camera reports them per frame (scripts/bench-camera.ts).
   */
  timing?: (what: string, ms: number) => void;
}

export interface RunResult {
  status: 'done' | 'cancelled' | 'failed';
  error?: string;
  /** The run failed on bad input: a checkpoint that does not fit its network (a CheckpointError), not a fault of the run. */
  badInput?: boolean;
  /** The nodes a failed run broke in (a node that threw, or loss terms that became NaN or infinite). */
  nodes?: string[];
  /** Why an optimiser stopped before its step count, if it did. */
  converged?: string;
  /**
   * Where an L-BFGS loop kept its state: on the device in float32 (lbfgs-device.ts) or in JavaScript in float64
   * (lbfgs.ts). Their steps differ by float32 rounding, so two runs give the same numbers only when this is the same.
   */
  lbfgs?: 'device, float32' | 'host, float64';
  steps: StepRecord[];
  /** Images collected by output nodes. */
  outputs: Record<string, RGBAImage>;
  /** Trained weights collected by output nodes, in the published checkpoint's names and layout. */
  checkpoints: Record<string, LoadedCheckpoint['tensors']>;
  weights: { nodes: string[]; weights: string }[];
  tensors: { afterFirstStep: number | null; atEnd: number };
}

class NodeError extends Error {
  constructor(
    message: string,
    readonly badInput: boolean,
    /** The nodes of the step that threw. */
    readonly nodes: readonly string[],
  ) {
    super(message);
  }
}

type RunStep = (step: PlanStep, values: Map<string, Value>, iteration: number) => void | Promise<void>;
type Tiled = TilingChoice | null;

let variableCount = 0;

/** Resolves after pending events (clicks, signals) have run; wasm's data() alone never yields. */
const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Runs a plan: the `once` steps, the optimisation loop if there is one, then the `after` steps. */
export async function execute(
  plan: Plan,
  registry: NodeRegistry,
  services: ComputeServices,
  options: RunOptions = {},
): Promise<RunResult> {
  const previousWinograd = winogradSettings.mode;
  if (options.winograd) winogradSettings.mode = options.winograd;
  try {
    return await executeWith(plan, registry, services, options);
  } finally {
    winogradSettings.mode = previousWinograd;
  }
}

async function executeWith(
  plan: Plan,
  registry: NodeRegistry,
  services: ComputeServices,
  options: RunOptions,
): Promise<RunResult> {
  const { tf } = services;
  const emit = options.onEvent ?? (() => {});
  const env = new Map<string, Value>();
  const states = new Map<string, { dispose(): void }>();
  const result: RunResult = {
    status: 'done',
    steps: [],
    outputs: {},
    checkpoints: {},
    weights: [],
    tensors: { afterFirstStep: null, atEnd: 0 },
  };
  const memo = options.memo;
  const values = boundValues(plan, env, memo);
  const onTile: OnTile = (phase, tile, tiles) => emit({ type: 'tile', phase, tile, tiles });
  // Tiling is decided before anything runs (in the try below): on tiles, the targets' passes run tile by tile too.
  let tiled: Tiled = null;
  const runStep = stepRunner(plan, registry, services, states, () => tiled, onTile);
  const probe = options.probe;
  const probeStep = async (step: PlanStep) => {
    for (const o of step.outputs) {
      const v = env.get(o.key);
      if (probe?.keys.has(o.key) && v && !isModel(v)) probe.read(o.key, v.shape, await v.data());
    }
  };

  const timing = options.timing;
  const runPhase = async (phase: PlanStep['phase']) => {
    for (const step of plan.steps.filter((s) => s.phase === phase)) {
      if (!values.fromMemo(step)) {
        const t0 = timing ? performance.now() : 0;
        await runStep(step, env, 0)?.catch((e: unknown) => {
          throw wrap(e, step);
        });
        timing?.(`step:${step.id}`, performance.now() - t0);
        values.toMemo(step);
      }
      await probeStep(step);
      const out = plan.outputs.find((o) => o.nodeId === step.id);
      if (out) {
        const v = env.get(out.key);
        const t0 = timing ? performance.now() : 0;
        if (isModel(v)) result.checkpoints[out.nodeId] = await v.stateDict();
        else result.outputs[out.nodeId] = await tensorToRGBA(v as Tensor);
        timing?.('readback', performance.now() - t0);
      }
      for (const key of step.release) values.release(key);
    }
  };

  try {
    await loadNodes(plan, registry, services, states, result);
    const choice =
      plan.optimiser && options.tiling !== false
        ? chooseTiling(plan, registry, tf.getBackend(), options.tiling || {})
        : null;
    tiled = choice && 'loop' in choice ? choice : null;
    if (choice) emit({ type: 'status', message: 'warning' in choice ? choice.warning : choice.message });
    emit({ type: 'status', message: 'preparing inputs and targets' });
    await runPhase('once');
    if (plan.optimiser) {
      const opt = plan.optimiser;
      makeVariables(tf, plan, env, options.initImage, values.release);
      const temporal = temporalTarget(tf, options.temporal, plan, env, tiled);
      if (temporal === 'tiled') emit({ type: 'status', message: 'warning: the temporal loss is left out on tiles' });
      try {
        await optimise(
          plan,
          tiled,
          env,
          services,
          options,
          result,
          runStep,
          onTile,
          temporal === 'tiled' ? null : temporal,
        );
      } finally {
        if (temporal && temporal !== 'tiled') tf.dispose([temporal.target, temporal.mask]);
      }
      // A tiled run's loop values are too large to hold at once, so they get no previews.
      if (probe && !tiled && result.status !== 'failed') await probeLoop(tf, plan, env, runStep, probe);
      if (opt.resultKey) env.set(opt.resultKey, env.get(opt.variables[0]!.key)!);
    }
    if (result.status !== 'failed') await runPhase('after');
  } catch (e) {
    result.status = 'failed';
    result.error = e instanceof Error ? e.message : String(e);
    if (e instanceof CheckpointError || (e instanceof NodeError && e.badInput)) result.badInput = true;
    if (e instanceof NodeError) result.nodes = [...e.nodes];
  } finally {
    for (const key of [...env.keys()]) values.release(key);
    for (const s of states.values()) s.dispose();
    memo?.trim();
  }
  return result;
}

const outputName = (key: string) => key.slice(key.lastIndexOf('.') + 1);

/** The run's values as `env` binds them, shared with the memo of earlier runs. */
function boundValues(plan: Plan, env: Map<string, Value>, memo: RunMemo | undefined) {
  return {
    /** Unbinds a value, freeing it unless another key or the memo holds it. */
    release(key: string): void {
      const v = env.get(key);
      env.delete(key);
      if (v && ![...env.values()].includes(v) && !memo?.owns(v)) v.dispose();
    },
    /** A `once` step whose every output is in the memo: bind them and skip the work. */
    fromMemo(step: PlanStep): boolean {
      if (!memo || !step.signature || step.phase !== 'once' || plan.outputs.some((o) => o.nodeId === step.id))
        return false;
      const found = step.outputs.map((o) => memo.get(`${step.signature}|${outputName(o.key)}`));
      if (found.some((v) => v === undefined)) return false;
      step.outputs.forEach((o, i) => env.set(o.key, found[i]!));
      memo.hits++;
      return true;
    },
    /** Keeps a computed `once` step's outputs in the memo. */
    toMemo(step: PlanStep): void {
      if (!memo || !step.signature || step.phase !== 'once') return;
      memo.misses++;
      for (const o of step.outputs) {
        const v = env.get(o.key);
        if (v && !memo.owns(v)) memo.set(`${step.signature}|${outputName(o.key)}`, v);
      }
    },
  };
}

/** Runs one plan step on `values`: an encoder pass (by tiles when the run tiles), a prepare, or a node's compute. */
function stepRunner(
  plan: Plan,
  registry: NodeRegistry,
  services: ComputeServices,
  states: Map<string, { dispose(): void }>,
  tiledNow: () => Tiled,
  onTile: OnTile,
): RunStep {
  const { tf } = services;
  return (step, values, iteration) => {
    const first = step.nodes[0]!;
    const def = registry.get(step.type)!;
    const params = plan.params[first]!;
    const get = (key: string) => {
      const v = values.get(key);
      if (v === undefined) throw new Error(`value ${key} was not computed (a compiler bug)`);
      return v;
    };
    try {
      const tiled = tiledNow();
      const image = step.kind === 'pass' ? (get(step.inputs[encoderRole(def).image] as string) as Tensor) : null;
      const tiling =
        tiled && step.phase === 'once' && image?.shape[0] === 1 ? def.shared!.tiling?.(step.taps!, params) : undefined;
      if (tiling) {
        const run = (image: Tensor) => def.shared!.run(image, step.taps!, params, services);
        const infos = Object.fromEntries(step.outputs.map((o) => [outputName(o.key), o.info]));
        // Forward only, a pass holds a few activations at a time, not a step's: its tiles can be twice as wide.
        return stitchedPass(tf, run, image!, tiling, 2 * tiled!.extent, infos, onTile).then((taps) => {
          for (const out of step.outputs) values.set(out.key, taps[outputName(out.key)]!);
        });
      }
      if (image) {
        const taps = def.shared!.run(image, step.taps!, params, services);
        for (const out of step.outputs) values.set(out.key, taps[outputName(out.key)]!);
        return;
      }
      if (step.kind === 'prepare') {
        // The prepared input first, then the other inputs its preparation reads (compile.ts planSteps).
        const [[name, key], ...rest] = Object.entries(step.inputs) as [[string, string], ...[string, string][]];
        const others = Object.fromEntries(rest.map(([k, v]) => [k, get(v) as Tensor]));
        values.set(step.outputs[0]!.key, def.prepare![name]!.run(get(key) as Tensor, params, tf, others));
        return;
      }
      const inputs = Object.fromEntries(
        Object.entries(step.inputs).map(([k, v]) => [k, Array.isArray(v) ? v.map(get) : get(v)]),
      );
      const outputInfo = Object.fromEntries(step.outputs.map((o) => [o.key.slice(first.length + 1), o.info]));
      const computed = def.compute!({
        ...services,
        nodeId: first,
        params,
        inputs,
        outputInfo,
        step: iteration,
        state: states.get(first),
      });
      const store = (r: Record<string, Value>) => {
        for (const out of step.outputs) values.set(out.key, r[out.key.slice(first.length + 1)]!);
      };
      if (computed instanceof Promise) {
        if (step.phase === 'loop') throw new Error('it is asynchronous, so it cannot run inside the optimisation loop');
        return computed.then(store);
      }
      store(computed);
    } catch (e) {
      throw wrap(e, step);
    }
  };
}

/** Describes each node's weights in `result` and loads the nodes that keep a state (a network's weights). */
async function loadNodes(
  plan: Plan,
  registry: NodeRegistry,
  services: ComputeServices,
  states: Map<string, { dispose(): void }>,
  result: RunResult,
): Promise<void> {
  for (const s of plan.steps.filter((s) => s.kind !== 'prepare')) {
    const def = registry.get(s.type)!;
    const params = plan.params[s.nodes[0]!]!;
    if (def.describeWeights)
      result.weights.push({
        nodes: s.nodes,
        weights: def.describeWeights(params, services, new Set(Object.keys(s.inputs))),
      });
    if (def.load)
      states.set(
        s.nodes[0]!,
        await def.load({ ...services, nodeId: s.nodes[0]!, params, outputInfo: {} }).catch((e: unknown) => {
          // Said as it was (a folder the host cannot read), but on the node.
          throw new NodeError(e instanceof Error ? e.message : String(e), badInputError(e), s.nodes);
        }),
      );
  }
}

/** Binds each image variable to a trainable copy of its initial image (or of `initImage`, resized to it). */
function makeVariables(
  tf: typeof tfjs,
  plan: Plan,
  env: Map<string, Value>,
  initImage: RGBAImage | undefined,
  release: (key: string) => void,
): void {
  for (const v of plan.optimiser!.variables) {
    if (v.socket !== 'Image') continue;
    const start = env.get(v.key) as Tensor;
    const init = initImage
      ? tf.tidy(() =>
          resizeTo(
            tf,
            imageToTensor(tf, initImage, Math.max(initImage.width, initImage.height)),
            start.shape[1]!,
            start.shape[2]!,
          ),
        )
      : null;
    // The image variable is the executor's: a trainable copy of the initial image.
    const x = tf.variable(init ?? start, true, `stylegraph-variable-${++variableCount}`);
    init?.dispose();
    release(v.key);
    env.set(v.key, x);
  }
}

/** The loop's values at the final variables, computed once more for the previews. */
async function probeLoop(
  tf: typeof tfjs,
  plan: Plan,
  env: Map<string, Value>,
  runStep: RunStep,
  probe: NonNullable<RunOptions['probe']>,
): Promise<void> {
  const loop = plan.steps.filter((s) => s.phase === 'loop' && s.outputs.some((o) => probe.keys.has(o.key)));
  if (!loop.length) return;
  const values = new Map(env);
  const kept: [string, Tensor][] = [];
  tf.tidy(() => {
    for (const s of plan.steps.filter((x) => x.phase === 'loop')) runStep(s, values, 0);
    for (const s of loop)
      for (const o of s.outputs) {
        const v = values.get(o.key);
        if (probe.keys.has(o.key) && v && !isModel(v) && ![...env.values()].includes(v)) kept.push([o.key, tf.keep(v)]);
      }
  });
  for (const [key, t] of kept) probe.read(key, t.shape, await t.data());
  tf.dispose(kept.map(([, t]) => t));
}

/** Names the node that failed, once. */
function wrap(e: unknown, step: PlanStep): Error {
  if (e instanceof NodeError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new NodeError(
    `node ${step.nodes.map((n) => `"${n}"`).join(', ')} (${step.type}) failed: ${msg}`,
    badInputError(e),
    step.nodes,
  );
}

/** An error that says it is the input's fault: a checkpoint that does not fit, a pack stopped by the CLI's sandbox limits. */
const badInputError = (e: unknown): boolean =>
  e instanceof CheckpointError || (e as { badInput?: unknown } | null)?.badInput === true;

type Temporal = { target: Tensor; mask: Tensor; weight: number };

/** RunOptions.temporal as tensors of the image variable's size; 'tiled': asked for on a tiled run, left out. */
function temporalTarget(
  tf: typeof tfjs,
  t: RunOptions['temporal'],
  plan: Plan,
  env: Map<string, Value>,
  tiled: Tiled,
): Temporal | 'tiled' | null {
  const v = plan.optimiser!.variables[0]!;
  if (!t || v.socket !== 'Image' || !(t.weight > 0)) return null;
  if (tiled) return 'tiled';
  const [, h, w] = (env.get(v.key) as Tensor).shape as [number, number, number, number];
  return tf.tidy(() => ({
    target: resizeTo(tf, imageToTensor(tf, t.target, Math.max(t.target.width, t.target.height)), h, w),
    mask: resizeTo(tf, tf.tensor4d(t.mask.data, [1, t.mask.height, t.mask.width, 1]), h, w),
    weight: t.weight,
  }));
}

/** Runs the optimisation loop, on tiles when `tiled` says how. */
async function optimise(
  plan: Plan,
  tiled: Tiled,
  env: Map<string, Value>,
  services: ComputeServices,
  options: RunOptions,
  result: RunResult,
  runStep: RunStep,
  onTile: OnTile,
  temporal: Temporal | null = null,
): Promise<void> {
  const { tf } = services;
  const p = plan.optimiser!.loop;
  const loss = loopLoss(plan, tiled, env, tf, options, runStep, onTile, temporal);
  const record = stepRecorder(plan, tf, options, result, loss.image);
  const onDevice = p.method === 'lbfgs' && lbfgsOnDevice(p.lbfgsOn, tf.getBackend());
  if (p.method === 'lbfgs') result.lbfgs = onDevice ? 'device, float32' : 'host, float64';
  (options.onEvent ?? (() => {}))({
    type: 'status',
    message: `optimising with ${p.method}${p.method !== 'lbfgs' ? '' : onDevice ? ' (on the device, float32)' : ' (in JavaScript, float64)'}`,
  });
  if (p.method !== 'lbfgs') return gradientSteps(tf, p, loss, record);
  const report = lbfgsReporter(p, loss, record, result);
  return onDevice ? lbfgsDeviceSteps(tf, p, loss, report) : lbfgsHostSteps(tf, p, loss, report);
}

type TermValues = { loss: number; terms: Record<string, number> };
type LoopParams = NonNullable<Plan['optimiser']>['loop'];
/** Records a step; resolves to false when the run must stop. */
type RecordStep = (step: number, loss: number, terms: Record<string, number>, evaluations: number) => Promise<boolean>;

/** The loop's loss and gradients at the variables' current values, and the variables themselves. */
interface LoopLoss {
  variables: tfjs.Variable[];
  /** The image variable, if the first variable is one. */
  image: tfjs.Variable | null;
  /** The loop's iteration, passed to the loop's steps. */
  iteration: number;
  /** Each variable's gradient of the total (the total and its terms are kept for `readTerms` or `takeTerms`). */
  gradients(): Tensor[];
  /** The loss alone (the last step's report), kept like `gradients`'. */
  lossOnly(): void;
  /** Reads back and frees the kept total and terms. */
  readTerms(): Promise<TermValues>;
  /** Hands over the kept [total, ...terms] tensor, and how to name its values once read. */
  takeTerms(): { scalars: Tensor; named(v: Float32Array): TermValues };
}

function loopLoss(
  plan: Plan,
  tiled: Tiled,
  env: Map<string, Value>,
  tf: typeof tfjs,
  options: RunOptions,
  runStep: RunStep,
  onTile: OnTile,
  temporal: Temporal | null,
): LoopLoss {
  const opt = plan.optimiser!;
  const loopSteps = plan.steps.filter((s) => s.phase === 'loop');
  const names = [...plan.terms.map((t) => t.nodeId), ...(temporal ? ['temporal'] : [])];
  const image = opt.variables[0]!.socket === 'Image' ? (env.get(opt.variables[0]!.key) as tfjs.Variable) : null;
  const variables: tfjs.Variable[] = opt.variables.flatMap((v) =>
    v.socket === 'Image' ? [env.get(v.key) as tfjs.Variable] : (env.get(v.key) as ModelHandle).variables,
  );
  const named = (v: Float32Array): TermValues => ({
    loss: v[0]!,
    terms: Object.fromEntries(names.map((n, i) => [n, v[i + 1]!])),
  });

  /** The total loss at the variables' current values; term values are kept aside in `termsOut`. */
  let termsOut: Tensor | null = null;
  /** On tiles, `values` holds the tiled losses already and only the rest of the loop runs here. */
  const objective = (values = new Map(env)): tfjs.Scalar => {
    for (const s of tiled ? tiled.loop.rest : loopSteps) runStep(s, values, self.iteration);
    let total = values.get(opt.lossKey) as tfjs.Scalar;
    const parts = plan.terms.map((t) => tf.mul(values.get(t.key) as Tensor, t.multiplier ?? 1));
    if (temporal) {
      const term = tf.mul(temporalLoss(tf, image!, temporal.target, temporal.mask), temporal.weight);
      parts.push(term);
      total = tf.add(total, term);
    }
    termsOut = tf.keep(tf.stack([total, ...parts]));
    return total;
  };
  const tilesOf = (withGradient: boolean) =>
    tiled && evaluateTiles(tf, tiled.loop, tiled.tiles, env, runStep, self.iteration, withGradient, onTile);
  let evaluation = 0;
  const probeGradient = (grads: Tensor[]): Tensor[] => {
    options.onGradient?.(evaluation, grads);
    evaluation++;
    return grads;
  };

  const self: LoopLoss = {
    variables,
    image,
    iteration: 0,
    gradients() {
      const tiles = tilesOf(true);
      try {
        let whole: Tensor[];
        if (tiles && !tiled!.loop.restReadsImage) {
          // Nothing outside the tiles reads the image: its gradient is the tiles' alone.
          tf.tidy(() => {
            objective(tiles.values);
          });
          whole = [tf.zerosLike(variables[0]!)];
        } else {
          const { value, grads } = tf.variableGrads(() => objective(tiles ? tiles.values : undefined), variables);
          value.dispose();
          // A variable the loss does not reach gets a zero gradient.
          whole = variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
        }
        if (!tiles) return probeGradient(whole);
        try {
          return probeGradient([tiles.addGradient(whole[0]!)]);
        } finally {
          whole[0]!.dispose();
        }
      } finally {
        if (tiles) tiles.dispose();
      }
    },
    lossOnly() {
      const tiles = tilesOf(false);
      try {
        tf.tidy(() => {
          objective(tiles ? tiles.values : undefined);
        });
      } finally {
        if (tiles) tiles.dispose();
      }
    },
    async readTerms() {
      const v = await termsOut!.data();
      termsOut!.dispose();
      termsOut = null;
      return named(v as Float32Array);
    },
    takeTerms() {
      const scalars = termsOut!;
      termsOut = null;
      return { scalars, named };
    },
  };
  return self;
}

/** Records each step in `result`, emits it and the previews, and says whether the run goes on. */
function stepRecorder(
  plan: Plan,
  tf: typeof tfjs,
  options: RunOptions,
  result: RunResult,
  image: tfjs.Variable | null,
): RecordStep {
  const { steps, previewEvery } = plan.optimiser!.loop;
  const emit = options.onEvent ?? (() => {});
  let last = performance.now();
  return async (step, loss, terms, evaluations) => {
    // auto Winograd: the layer shapes the step met are timed now, once per process and backend (in this step's time).
    if (winogradSettings.mode === 'auto' && winogradPending(tf)) await calibrateWinograd(tf);
    const now = performance.now();
    const rec: StepRecord = { step, loss, terms, ms: now - last, evaluations };
    last = now;
    result.steps.push(rec);
    if (step === 1) result.tensors.afterFirstStep = tf.memory().numTensors;
    result.tensors.atEnd = tf.memory().numTensors;
    emit({ type: 'step', total: steps, ...rec });
    if (!Number.isFinite(loss) || Object.values(terms).some((v) => !Number.isFinite(v))) {
      failOnLoss(plan, result, step, loss, terms);
      return false;
    }
    if (image && previewEvery > 0 && step > 0 && step % previewEvery === 0 && step < steps && options.onEvent) {
      const clipped = tf.tidy(() => tf.clipByValue(image, 0, 1));
      emit({ type: 'preview', step, image: await tensorToRGBA(clipped) });
      clipped.dispose();
    }
    // Let the host breathe between steps: a Stop click or Ctrl-C is handled within one step.
    await nextTask();
    if (options.pause?.paused && step < steps && !options.signal?.aborted) {
      emit({ type: 'paused', step, total: steps });
      await options.pause.wait(options.signal);
      if (!options.signal?.aborted) emit({ type: 'resumed', step, total: steps });
      // The pause's length is not the next step's time.
      last = performance.now();
    }
    if (options.signal?.aborted) {
      result.status = 'cancelled';
      return false;
    }
    return true;
  };
}

/** Fails the run on a loss that is NaN or infinite, naming the terms (and their nodes) that are. */
function failOnLoss(plan: Plan, result: RunResult, step: number, loss: number, terms: Record<string, number>): void {
  const bad = Object.entries(terms)
    .filter(([, v]) => !Number.isFinite(v))
    .map(([k, v]) => `"${k}" (${v})`);
  result.status = 'failed';
  const termNodes = new Set(plan.terms.map((t) => t.nodeId));
  result.nodes = Object.entries(terms)
    .filter(([k, v]) => !Number.isFinite(v) && termNodes.has(k))
    .map(([k]) => k);
  result.error = `the loss became ${loss} at step ${step}${bad.length ? ` in term ${bad.join(', ')}` : ''}; lower that term's weight or the learning rate`;
}

/** Adam or SGD: one gradient step per reported step, and the loss once more after the last. */
async function gradientSteps(tf: typeof tfjs, p: LoopParams, loss: LoopLoss, record: RecordStep): Promise<void> {
  const { variables, image } = loss;
  const rules: GradientOptimiser[] = variables.map((v) => {
    const o = { learningRate: p.learningRate, decay: p.decay, clamp: v === image && p.clamp };
    return p.method === 'adam' ? adam(tf, v.shape, o) : sgd(tf, o);
  });
  try {
    for (let k = 0; k <= p.steps; k++) {
      loss.iteration = k;
      if (k < p.steps) {
        const grads = loss.gradients();
        rules.forEach((rule, i) => rule.step(variables[i]!, grads[i]!));
        tf.dispose(grads);
      } else loss.lossOnly();
      // The loss recorded for step k is the one before update k+1.
      const read = await loss.readTerms();
      if (!(await record(k, read.loss, read.terms, 1))) break;
    }
  } finally {
    rules.forEach((r) => r.dispose());
  }
}

/**
 * Reports an L-BFGS iterate as a step when it ends one (one reported step is `iterationsPerStep` L-BFGS iterations,
 * torch.optim.LBFGS's max_iter per step()), setting the variables to it first; resolves to false when the loop must
 * stop.
 */
type LbfgsReport = (
  it: { iteration: number; evaluations: number; converged?: string },
  f: number,
  terms: Record<string, number>,
  assign: () => void,
) => Promise<boolean>;

function lbfgsReporter(p: LoopParams, loss: LoopLoss, record: RecordStep, result: RunResult): LbfgsReport {
  const per = p.iterationsPerStep;
  let evaluations = 0;
  return async (it, f, terms, assign) => {
    evaluations += it.evaluations;
    if (it.iteration % per !== 0 && !it.converged) return true;
    assign();
    const step = Math.ceil(it.iteration / per);
    if (!(await record(step, f, terms, evaluations))) return false;
    evaluations = 0;
    if (it.converged) result.converged = it.converged;
    if (step >= p.steps) return false;
    loss.iteration = step + 1;
    return true;
  };
}

/** L-BFGS in JavaScript (float64) on one flat vector: every variable's values laid end to end. */
async function lbfgsHostSteps(tf: typeof tfjs, p: LoopParams, loss: LoopLoss, report: LbfgsReport): Promise<void> {
  const { variables } = loss;
  const sizes = variables.map((v) => v.size);
  const assign = (xs: Float64Array) =>
    tf.tidy(() => {
      let at = 0;
      variables.forEach((v, i) => v.assign(tf.tensor(Float32Array.from(xs.subarray(at, (at += sizes[i]!))), v.shape)));
    });
  const evaluate = async (xs: Float64Array): Promise<Evaluation<TermValues>> => {
    assign(xs);
    const grads = loss.gradients();
    const g = new Float64Array(xs.length);
    let at = 0;
    for (const grad of grads) {
      g.set(await grad.data(), at);
      at += grad.size;
    }
    tf.dispose(grads);
    const read = await loss.readTerms();
    return { f: read.loss, g, extra: read };
  };
  const x0 = new Float64Array(sizes.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const v of variables) {
    x0.set(await v.data(), at);
    at += v.size;
  }
  const options = { history: p.history, lr: p.lbfgsStep, lineSearch: p.lineSearch };
  for await (const it of lbfgs(x0, evaluate, options))
    if (!(await report(it, it.extra.loss, it.extra.terms, () => assign(it.x)))) break;
}

/** L-BFGS on the device (float32, lbfgs-device.ts) on one flat tensor: every variable's values laid end to end. */
async function lbfgsDeviceSteps(tf: typeof tfjs, p: LoopParams, loss: LoopLoss, report: LbfgsReport): Promise<void> {
  const { variables } = loss;
  const sizes = variables.map((v) => v.size);
  const assignFlat = (xs: Tensor) =>
    tf.tidy(() => {
      let at = 0;
      variables.forEach((v, i) => {
        v.assign(tf.reshape(tf.slice(xs, at, sizes[i]!), v.shape));
        at += sizes[i]!;
      });
    });
  const evaluateOnDevice = (xs: Tensor): DeviceEvaluation<TermValues> => {
    assignFlat(xs);
    const grads = loss.gradients();
    const g = tf.tidy(() =>
      grads.length === 1 ? tf.reshape(grads[0]!, [-1]) : tf.concat(grads.map((t) => tf.reshape(t, [-1]))),
    );
    tf.dispose(grads);
    const { scalars, named } = loss.takeTerms();
    return { g, scalars, extra: named };
  };
  const start = tf.tidy(() =>
    variables.length === 1 ? tf.reshape(variables[0]!, [-1]) : tf.concat(variables.map((v) => tf.reshape(v, [-1]))),
  );
  const options = { history: p.history, lr: p.lbfgsStep, lineSearch: p.lineSearch };
  try {
    for await (const it of lbfgsDevice(tf, start, evaluateOnDevice, options)) {
      if (it.iteration === 0) start.dispose();
      if (!(await report(it, it.f, it.extra.terms, () => assignFlat(it.x)))) break;
    }
  } finally {
    if (!start.isDisposed) start.dispose();
  }
}
