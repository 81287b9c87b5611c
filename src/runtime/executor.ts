import type * as tfjs from '@tensorflow/tfjs';
import type { Plan, PlanStep } from '../compiler/plan';
import type { NodeRegistry } from '../plugin/registry';
import type { ComputeServices, Value } from '../plugin/types';
import { tensorToRGBA, type RGBAImage } from '../ops/image';
import { lbfgs, type Evaluation } from './lbfgs';
import { adam, sgd, type GradientOptimiser } from './optimisers';

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
  | { type: 'preview'; step: number; image: RGBAImage };

export interface RunOptions {
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
}

export interface RunResult {
  status: 'done' | 'cancelled' | 'failed';
  error?: string;
  /** Why an optimiser stopped before its step count, if it did. */
  converged?: string;
  steps: StepRecord[];
  outputs: Record<string, RGBAImage>;
  weights: { nodes: string[]; weights: string }[];
  tensors: { afterFirstStep: number | null; atEnd: number };
}

class NodeError extends Error {}

/** Runs a plan: the `once` steps, the optimisation loop if there is one, then the `after` steps. */
export async function execute(plan: Plan, registry: NodeRegistry, services: ComputeServices, options: RunOptions = {}): Promise<RunResult> {
  const { tf } = services;
  const emit = options.onEvent ?? (() => {});
  const env = new Map<string, Value>();
  const result: RunResult = { status: 'done', steps: [], outputs: {}, weights: [], tensors: { afterFirstStep: null, atEnd: 0 } };
  const held: Tensor[] = [];

  const release = (key: string) => {
    const v = env.get(key);
    env.delete(key);
    if (v && 'dtype' in v && ![...env.values()].includes(v)) v.dispose();
  };

  const runStep = (step: PlanStep, values: Map<string, Value>, sync: boolean): void | Promise<void> => {
    const first = step.nodes[0]!;
    const def = registry.get(step.type)!;
    const params = plan.params[first]!;
    const get = (key: string) => {
      const v = values.get(key);
      if (v === undefined) throw new Error(`value ${key} was not computed (a compiler bug)`);
      return v;
    };
    try {
      if (step.kind === 'pass') {
        const taps = def.shared!.run(get(step.inputs.image as string) as Tensor, step.taps!, params, services);
        for (const out of step.outputs) values.set(out.key, taps[out.key.slice(out.key.lastIndexOf('.') + 1)]!);
        return;
      }
      if (step.kind === 'prepare') {
        const [name, key] = Object.entries(step.inputs)[0]!;
        values.set(step.outputs[0]!.key, def.prepare![name]!.run(get(key as string) as Tensor, params, tf));
        return;
      }
      const inputs = Object.fromEntries(Object.entries(step.inputs).map(([k, v]) => [k, Array.isArray(v) ? v.map(get) : get(v)]));
      const outputInfo = Object.fromEntries(step.outputs.map((o) => [o.key.slice(first.length + 1), o.info]));
      const computed = def.compute!({ ...services, nodeId: first, params, inputs, outputInfo });
      const store = (r: Record<string, Value>) => {
        for (const out of step.outputs) values.set(out.key, r[out.key.slice(first.length + 1)]!);
      };
      if (computed instanceof Promise) {
        if (sync) throw new Error('it is asynchronous, so it cannot run inside the optimisation loop');
        return computed.then(store);
      }
      store(computed);
    } catch (e) {
      throw wrap(e, step);
    }
  };

  const runPhase = async (phase: PlanStep['phase']) => {
    for (const step of plan.steps.filter((s) => s.phase === phase)) {
      await runStep(step, env, false)?.catch((e: unknown) => {
        throw wrap(e, step);
      });
      const out = plan.outputs.find((o) => o.nodeId === step.id);
      if (out) result.outputs[out.nodeId] = await tensorToRGBA(env.get(out.key) as Tensor);
      for (const key of step.release) release(key);
    }
  };

  try {
    for (const s of plan.steps.filter((s) => s.kind !== 'prepare')) {
      const describe = registry.get(s.type)!.describeWeights;
      if (describe) result.weights.push({ nodes: s.nodes, weights: describe(plan.params[s.nodes[0]!]!, services) });
    }
    emit({ type: 'status', message: 'preparing inputs and targets' });
    await runPhase('once');
    if (plan.optimiser) {
      const opt = plan.optimiser;
      const init = env.get(opt.variableKey) as Tensor;
      const x = tf.variable(init, false, `${opt.variableNode}-${Date.now()}`);
      release(opt.variableKey);
      held.push(x);
      env.set(opt.variableKey, x);
      await optimise(plan, env, x, services, options, result, (s, values) => runStep(s, values, true) as void);
      env.set(opt.resultKey, x);
    }
    if (result.status !== 'failed') await runPhase('after');
  } catch (e) {
    result.status = 'failed';
    result.error = e instanceof Error ? e.message : String(e);
  } finally {
    for (const key of [...env.keys()]) release(key);
    tf.dispose(held);
  }
  return result;
}

/** Names the node that failed, once. */
function wrap(e: unknown, step: PlanStep): Error {
  if (e instanceof NodeError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new NodeError(`node ${step.nodes.map((n) => `"${n}"`).join(', ')} (${step.type}) failed: ${msg}`);
}

async function optimise(
  plan: Plan, env: Map<string, Value>, x: tfjs.Variable, services: ComputeServices, options: RunOptions, result: RunResult,
  runStep: (s: PlanStep, values: Map<string, Value>) => void,
): Promise<void> {
  const { tf } = services;
  const opt = plan.optimiser!;
  const p = opt.params;
  const steps = p.steps as number;
  const previewEvery = p.previewEvery as number;
  const emit = options.onEvent ?? (() => {});
  const loopSteps = plan.steps.filter((s) => s.phase === 'loop');
  const names = plan.terms.map((t) => t.nodeId);

  /** The total loss as a function of the image; the term values are kept aside in `termsOut`. */
  let termsOut: Tensor | null = null;
  const objective = (image: Tensor): tfjs.Scalar => {
    const values = new Map(env);
    values.set(opt.variableKey, image);
    for (const s of loopSteps) runStep(s, values);
    const total = values.get(opt.lossKey) as tfjs.Scalar;
    const parts = plan.terms.map((t) => tf.mul(values.get(t.key) as Tensor, t.multiplier ?? 1));
    termsOut = tf.keep(tf.stack([total, ...parts]));
    return total;
  };
  const readTerms = async (): Promise<{ loss: number; terms: Record<string, number> }> => {
    const v = await termsOut!.data();
    termsOut!.dispose();
    termsOut = null;
    return { loss: v[0]!, terms: Object.fromEntries(names.map((n, i) => [n, v[i + 1]!])) };
  };

  let last = performance.now();
  /** Records a step; returns false when the run must stop. */
  const record = async (step: number, loss: number, terms: Record<string, number>, evaluations: number): Promise<boolean> => {
    const now = performance.now();
    const rec: StepRecord = { step, loss, terms, ms: now - last, evaluations };
    last = now;
    result.steps.push(rec);
    if (step === 1) result.tensors.afterFirstStep = tf.memory().numTensors;
    result.tensors.atEnd = tf.memory().numTensors;
    emit({ type: 'step', total: steps, ...rec });
    if (!Number.isFinite(loss) || Object.values(terms).some((v) => !Number.isFinite(v))) {
      const bad = Object.entries(terms).filter(([, v]) => !Number.isFinite(v)).map(([k, v]) => `"${k}" (${v})`);
      result.status = 'failed';
      result.error = `the loss became ${loss} at step ${step}${bad.length ? ` in term ${bad.join(', ')}` : ''}; lower that term's weight or the learning rate`;
      return false;
    }
    if (previewEvery > 0 && step > 0 && step % previewEvery === 0 && step < steps && options.onEvent) {
      const clipped = tf.tidy(() => tf.clipByValue(x, 0, 1));
      emit({ type: 'preview', step, image: await tensorToRGBA(clipped) });
      clipped.dispose();
    }
    if (options.signal?.aborted) {
      result.status = 'cancelled';
      return false;
    }
    return true;
  };

  emit({ type: 'status', message: `optimising with ${p.method}` });
  if (p.method === 'lbfgs') {
    const shape = x.shape;
    const evaluate = async (xs: Float64Array): Promise<Evaluation<{ loss: number; terms: Record<string, number> }>> => {
      const { value, grad } = tf.tidy(() => tf.valueAndGrad(objective)(tf.tensor(Float32Array.from(xs), shape)));
      const g = Float64Array.from(await grad.data());
      tf.dispose([value, grad]);
      const read = await readTerms();
      return { f: read.loss, g, extra: read };
    };
    const x0 = Float64Array.from(await x.data());
    for await (const it of lbfgs(x0, evaluate, { history: p.history as number })) {
      tf.tidy(() => x.assign(tf.tensor(Float32Array.from(it.x), shape)));
      if (!(await record(it.iteration, it.extra.loss, it.extra.terms, it.evaluations))) break;
      if (it.converged) result.converged = it.converged;
      if (it.iteration >= steps) break;
    }
    return;
  }

  const rule: GradientOptimiser =
    p.method === 'adam'
      ? adam(tf, x.shape, { learningRate: p.learningRate as number, clamp: p.clamp as boolean })
      : sgd(tf, { learningRate: p.learningRate as number, clamp: p.clamp as boolean });
  try {
    for (let k = 0; k <= steps; k++) {
      if (k < steps) {
        const { value, grad } = tf.tidy(() => tf.valueAndGrad(objective)(x));
        rule.step(x, grad);
        tf.dispose([value, grad]);
      } else {
        tf.tidy(() => {
          objective(x);
        });
      }
      // The loss recorded for step k is the one at the image before update k+1.
      const read = await readTerms();
      if (!(await record(k, read.loss, read.terms, 1))) break;
    }
  } finally {
    rule.dispose();
  }
}
