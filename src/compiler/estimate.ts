import { winogradMultiplyReduction } from '../ops/winograd';
import type { Plan, PlanEstimate, PlanStep } from './plan';

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * FLOPs per phase and a peak-memory estimate: the `once` phase simulated step by step with its
 * releases; the loop holds every activation of one iteration twice (forward values kept for the
 * backward pass, and their gradients), on top of what the loop reads from `once`, the variable and
 * the optimiser state; encoder weights count once per encoder type.
 */
export function estimate(plan: Plan, weightBytesOf: (pass: PlanStep) => number): PlanEstimate {
  const bytesOf = new Map(plan.steps.flatMap((s) => s.outputs.map((o) => [o.key, o.bytes] as const)));
  const inPhase = (p: PlanStep['phase']) => plan.steps.filter((s) => s.phase === p);
  const weights = new Map<string, number>();
  for (const s of plan.steps)
    if (s.kind === 'pass') weights.set(s.type, Math.max(weights.get(s.type) ?? 0, weightBytesOf(s)));
  const weightBytes = sum([...weights.values()]);

  const simulate = (steps: PlanStep[], base: number): number => {
    let live = base;
    let peak = base;
    for (const s of steps) {
      live += sum(s.outputs.map((o) => o.bytes));
      peak = Math.max(peak, live + s.transientBytes);
      live -= sum(s.release.map((k) => bytesOf.get(k) ?? 0));
    }
    return peak;
  };
  let peak = simulate(inPhase('once'), 0);
  const opt = plan.optimiser;
  if (opt) {
    const base =
      sum(plan.retained.map((k) => bytesOf.get(k) ?? 0)) +
      sum(opt.variables.map((v) => bytesOf.get(v.key) ?? 0)) +
      opt.stateBytes;
    const loop = inPhase('loop');
    peak = Math.max(peak, base + 2 * sum(loop.map((s) => s.transientBytes + sum(s.outputs.map((o) => o.bytes)))));
    peak = Math.max(peak, simulate(inPhase('after'), base));
  }
  const flopsPerIteration = 3 * sum(inPhase('loop').map((s) => s.flops));
  // The loop's 3x3 convolutions, forward and their input gradients (3x3 convolutions too): by F(4x4,3x3) their
  // products take 4x fewer multiplications.
  const winogradFlops = 2 * sum(inPhase('loop').map((s) => s.winogradFlops ?? 0));
  return {
    flopsOnce: sum(inPhase('once').map((s) => s.flops)),
    flopsPerIteration,
    flopsAfter: sum(inPhase('after').map((s) => s.flops)),
    weightBytes,
    peakBytes: peak + weightBytes,
    ...(winogradFlops
      ? {
          winograd: {
            tile: 4 as const,
            flopsPerIteration: flopsPerIteration - winogradFlops * (1 - 1 / winogradMultiplyReduction(4)),
          },
        }
      : {}),
  };
}
