import { z } from 'zod';
import type { Plan, PlanEstimate } from '../compiler/plan';
import type { ParamDef } from '../plugin/types';
import type { NodeRegistry } from '../plugin/registry';
import type { GraphModel } from '../graph/model';

/**
 * A lesson, written in a preset's metadata: the nodes to step through with a short explanation each, and the
 * few parameters a class should see as sliders. Without steps the lesson walks the plan in execution order,
 * explaining each node with its type's description.
 */
const zLesson = z.object({
  steps: z
    .array(z.object({ node: z.string(), text: z.string().max(2000) }))
    .max(100)
    .optional(),
  expose: z
    .array(
      z.object({
        node: z.string(),
        param: z.string(),
        label: z.string().max(200).optional(),
        min: z.number().finite().optional(),
        max: z.number().finite().optional(),
      }),
    )
    .max(20)
    .default([]),
});

export interface LessonStep {
  node: string;
  title: string;
  text: string;
}

export interface Lesson {
  steps: LessonStep[];
  expose: { node: string; param: string; label: string; min?: number; max?: number }[];
  /** Why the written lesson was not used, if it could not be read. */
  problem?: string;
}

export function lessonOf(model: GraphModel, registry: NodeRegistry, plan: Plan | null): Lesson {
  const parsed = zLesson.safeParse(model.metadata.lesson ?? {});
  const lesson = parsed.success ? parsed.data : { expose: [] };
  const byId = new Map(model.nodes.map((n) => [n.id, n]));
  const title = (id: string) => {
    const n = byId.get(id)!;
    return n.title ?? registry.get(n.type)?.title ?? n.type;
  };
  const written = (lesson.steps ?? []).filter((s) => byId.has(s.node));
  const steps: LessonStep[] = written.length
    ? written.map((s) => ({ node: s.node, title: title(s.node), text: s.text }))
    : [...new Set((plan?.steps ?? []).flatMap((s) => s.nodes))].map((id) => ({
        node: id,
        title: title(id),
        text: registry.get(byId.get(id)!.type)?.description ?? '',
      }));
  const expose = lesson.expose
    .filter((x) => byId.has(x.node) && registry.get(byId.get(x.node)!.type)?.params[x.param])
    .map((x) => ({
      node: x.node,
      param: x.param,
      label: x.label ?? `${title(x.node)}: ${x.param}`,
      ...(x.min !== undefined ? { min: x.min } : {}),
      ...(x.max !== undefined ? { max: x.max } : {}),
    }));
  return {
    steps,
    expose,
    ...(parsed.success
      ? {}
      : { problem: `the lesson in this graph could not be read: ${parsed.error.issues[0]?.message}` }),
  };
}

/** A lesson slider's range: the parameter spec's bounds (the lesson may narrow them), log-scaled where it says `log`. */
export interface SliderRange {
  min: number;
  max: number;
  log: boolean;
  integer: boolean;
}

/**
 * The range a slider for a number parameter covers. The spec's min and max where it has them (a lesson's own
 * min/max first); a missing bound on a log-scaled parameter spans three decades either side of the value (or the
 * default), on a linear one from 0 to twice it. Null for parameters that are not numbers.
 */
export function sliderRange(
  def: ParamDef,
  value: unknown,
  override: { min?: number; max?: number } = {},
): SliderRange | null {
  if (def.kind !== 'number' && def.kind !== 'integer') return null;
  const log = def.kind === 'number' && !!def.log;
  const v = typeof value === 'number' && Number.isFinite(value) ? value : def.default;
  const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : undefined);
  let min = finite(override.min) ?? finite(def.min);
  let max = finite(override.max) ?? finite(def.max);
  if (log) {
    const centre = v > 0 ? v : def.default > 0 ? def.default : 1;
    const decade = Math.floor(Math.log10(centre));
    if (min === undefined || min <= 0) min = 10 ** (decade - 3);
    if (max === undefined) max = 10 ** (decade + 4);
  } else {
    min ??= Math.min(0, v);
    max ??= Math.max(1, 2 * Math.abs(v), min + 1);
  }
  if (max <= min) max = min * (log ? 10 : 1) + (log ? 0 : 1);
  return { min, max, log, integer: def.kind === 'integer' };
}

/** Slider position (0..1000) for a value, and back: log sliders move over log10 of the value. */
export const SLIDER_STEPS = 1000;
export function toSlider(r: SliderRange, value: number): number {
  const v = Math.min(r.max, Math.max(r.min, value));
  const t = r.log
    ? (Math.log10(v) - Math.log10(r.min)) / (Math.log10(r.max) - Math.log10(r.min))
    : (v - r.min) / (r.max - r.min);
  return Math.round(t * SLIDER_STEPS);
}
export function fromSlider(r: SliderRange, position: number): number {
  const t = Math.min(1, Math.max(0, position / SLIDER_STEPS));
  const raw = r.log
    ? 10 ** (Math.log10(r.min) + t * (Math.log10(r.max) - Math.log10(r.min)))
    : r.min + t * (r.max - r.min);
  if (r.integer) return Math.round(raw);
  // Two significant figures on a log scale (1, 1.5, 2.2, ... 1000), three on a linear one.
  const v = Number(raw.toPrecision(r.log ? 2 : 3));
  return Math.min(r.max, Math.max(r.min, v));
}

/**
 * What a backend computes per second, in GFLOP/s, before a run on it has been measured (this machine's
 * benchmarks, docs/benchmarks.md: a Gatys step at 128 px is about 19 GFLOP and takes 0.76 s on wasm; webgl on a
 * software GPU is about 10x slower, the cpu backend about 25x).
 */
export const BACKEND_GFLOPS: Readonly<Record<string, number>> = { webgpu: 100, webgl: 5, wasm: 20, cpu: 0.8 };

/** The FLOPs of one run of a plan with `steps` loop steps (the plan's own count by default). */
export function runFlops(plan: Pick<Plan, 'estimate' | 'optimiser'>, steps = plan.optimiser?.loop.steps ?? 0): number {
  const e: PlanEstimate = plan.estimate;
  const loop = plan.optimiser?.loop;
  // An L-BFGS iteration with a line search evaluates the loss about 1.25 times on average.
  const perStep = loop
    ? loop.iterationsPerStep * (loop.method === 'lbfgs' && loop.lineSearch === 'strong-wolfe' ? 1.25 : 1)
    : 0;
  return e.flopsOnce + e.flopsAfter + e.flopsPerIteration * perStep * steps;
}

/** Seconds a run of the plan takes at `gflops` GFLOP/s. */
export const runSeconds = (plan: Pick<Plan, 'estimate' | 'optimiser'>, gflops: number, steps?: number): number =>
  runFlops(plan, steps) / (gflops * 1e9);

/** A class waits for a lesson cell at most this long. */
export const CLASSROOM_SECONDS = 60;
/** A slider's release reruns the graph by itself when one run takes at most this long. */
export const RERUN_SECONDS = 15;

/**
 * The most steps (at most the plan's own count) a lesson cell can take and still finish within `budget` seconds at
 * `gflops` GFLOP/s; the plan's own count when it fits or it has no loop. At least 1.
 */
export function classroomSteps(
  plan: Pick<Plan, 'estimate' | 'optimiser'>,
  gflops: number,
  budget = CLASSROOM_SECONDS,
): number {
  const steps = plan.optimiser?.loop.steps ?? 0;
  if (!plan.optimiser || runSeconds(plan, gflops) <= budget) return steps;
  const fixed = runSeconds(plan, gflops, 0);
  const perStep = runSeconds(plan, gflops, 1) - fixed || Number.EPSILON;
  // A little under the budget: the estimate is rough, and a step count that fits exactly would not.
  const fit = Math.floor((budget * 0.9 - fixed) / perStep);
  return Math.max(1, Math.min(steps, fit >= 10 ? Math.floor(fit / 5) * 5 : fit));
}

/** GFLOP/s a finished run reached: its plan's FLOPs for the steps it took (times the sweep's cells) over its time. */
export function measuredGflops(
  plan: Pick<Plan, 'estimate' | 'optimiser'>,
  steps: number,
  cells: number,
  seconds: number,
): number | null {
  if (!(seconds > 0) || steps <= 0) return null;
  const g = (runFlops(plan, steps) * Math.max(1, cells)) / seconds / 1e9;
  return Number.isFinite(g) && g > 0 ? g : null;
}
