import type { Plan, PlanStep } from './plan';

export const formatShape = (shape: readonly number[]): string => (shape.length ? shape.join('x') : 'scalar');

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatFlops(n: number): string {
  if (n === 0) return '-';
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} K`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} M`;
  if (n < 1e12) return `${(n / 1e9).toFixed(2)} G`;
  return `${(n / 1e12).toFixed(2)} T`;
}

function describe(s: PlanStep): string {
  if (s.kind === 'pass') return `${s.type} pass for ${s.nodes.join(', ')} (to ${s.taps![s.taps!.length - 1] ?? '?'})`;
  if (s.kind === 'prepare') return `prepare ${s.id.replace(/:prepare$/, '')}`;
  return `${s.id} (${s.type})`;
}

/** A table a person can read before pressing Run: what runs when, its shapes, cost and memory. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  const opt = plan.optimiser;
  const iterations = opt ? opt.loop.steps : 0;
  lines.push(
    `Plan at ${plan.size} px: ${plan.steps.length} steps${opt ? `, ${iterations} ${opt.loop.method} iterations` : ''}`,
  );
  const rows = plan.steps.map((s) => [
    String(s.index),
    s.phase,
    describe(s),
    s.outputs.map((o) => `${o.key.slice(o.key.indexOf('.') + 1)} ${formatShape(o.info.shape)}`).join(', ') ||
      '(collects result)',
    formatFlops(s.flops),
  ]);
  const header = ['#', 'phase', 'step', 'outputs', 'FLOPs'];
  const widths = header.map((h, i) =>
    Math.min(i === 3 ? 60 : 200, Math.max(h.length, ...rows.map((r) => r[i]!.length))),
  );
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (c.length > widths[i]! ? c.slice(0, widths[i]! - 1) + '…' : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  lines.push(fmt(header), ...rows.map(fmt));
  const e = plan.estimate;
  lines.push('');
  // A feed-forward graph has no loop: its cost is the one pass (there is no step to count per).
  if (!opt)
    lines.push(`one pass:        ${formatFlops(e.flopsOnce + e.flopsAfter)}FLOP (feed-forward, no optimisation loop)`);
  else lines.push(`before the loop: ${formatFlops(e.flopsOnce)}FLOP`);
  if (opt)
    lines.push(
      `per iteration:   ${formatFlops(e.flopsPerIteration)}FLOP (forward + backward), ${formatFlops(e.flopsPerIteration * iterations)}FLOP for ${iterations}`,
    );
  if (opt && e.winograd)
    lines.push(
      `  with Winograd:  ${formatFlops(e.winograd.flopsPerIteration)}FLOP per iteration (its 3x3 convs by F(4x4,3x3): wasm by default, --winograd on elsewhere)`,
    );
  if (opt && e.flopsAfter) lines.push(`after the loop:  ${formatFlops(e.flopsAfter)}FLOP`);
  lines.push(`peak memory:     about ${formatBytes(e.peakBytes)} (weights ${formatBytes(e.weightBytes)})`);
  if (plan.terms.length)
    lines.push(
      `loss terms:      ${plan.terms.map((t) => (t.multiplier === null || t.multiplier === 1 ? t.nodeId : `${t.nodeId} x${t.multiplier}`)).join(', ')}`,
    );
  if (plan.retained.length) lines.push(`kept through the loop: ${plan.retained.join(', ')}`);
  if (plan.dropped.length) lines.push(`dropped (reach no output): ${plan.dropped.join(', ')}`);
  return lines.join('\n');
}
