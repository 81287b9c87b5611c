import type { GraphModel } from '../graph/model';
import type { NodeRegistry } from '../plugin/registry';
import { defaultOf } from '../plugin/params';

/** The settings a run is made with besides its graph. */
export interface VariantSettings {
  size: number;
  seed: number;
  sweep?: boolean;
}

/** A parameter value, short: 1e4 for 10000, 0.001, a file's name, a list joined. */
export function shortValue(v: unknown): string {
  if (typeof v === 'number') {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e4 || a < 1e-3))
      return v
        .toExponential(3)
        .replace(/\.?0+e/, 'e')
        .replace('e+', 'e');
    return String(Number(v.toPrecision(4)));
  }
  if (typeof v === 'string')
    return (
      v
        .replace(/^upload:[0-9a-f]+\//, '')
        .split('/')
        .at(-1) || '""'
    );
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (Array.isArray(v)) return v.map(shortValue).join(', ');
  return v === undefined ? 'default' : JSON.stringify(v);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What a queued run changes against the graph and settings as they are now, in a few words ("steps 40",
 * "Style loss weight 1e4", "128 px"), so runs queued from one graph read apart. `null`: nothing differs.
 */
export function variantDifference(
  run: { model: GraphModel } & VariantSettings,
  now: { model: GraphModel } & VariantSettings,
  registry: NodeRegistry,
  max = 3,
): string | null {
  const parts: string[] = [];
  const before = new Map(now.model.nodes.map((n) => [n.id, n]));
  const after = new Map(run.model.nodes.map((n) => [n.id, n]));
  const added = run.model.nodes.filter((n) => !before.has(n.id));
  const removed = now.model.nodes.filter((n) => !after.has(n.id));
  const nameOf = (n: GraphModel['nodes'][number]) => n.title || registry.get(n.type)?.title || n.type;
  for (const n of run.model.nodes) {
    const was = before.get(n.id);
    if (!was || was.type !== n.type) continue;
    const def = registry.get(n.type);
    const steps = def?.roles?.optimiser?.steps;
    // A queued run carries the preview interval of the settings (the run store sets it): not a change of the graph.
    const previewEvery = def?.roles?.optimiser?.previewEvery;
    for (const name of new Set([...Object.keys(n.params), ...Object.keys(was.params)])) {
      if (name === previewEvery) continue;
      const p = def?.params[name];
      const value = n.params[name] ?? (p ? defaultOf(p) : undefined);
      const current = was.params[name] ?? (p ? defaultOf(p) : undefined);
      if (same(value, current)) continue;
      // The optimiser's step count is the run bar's "Steps": named as there.
      parts.push(
        name === steps ? `steps ${shortValue(value)}` : `${nameOf(n)} ${p?.label ?? name} ${shortValue(value)}`,
      );
    }
    if (!!n.bypass !== !!was.bypass) parts.push(`${nameOf(n)} ${n.bypass ? 'bypassed' : 'on'}`);
  }
  if (added.length) parts.push(`with ${added.map(nameOf).join(', ')}`);
  if (removed.length) parts.push(`without ${removed.map(nameOf).join(', ')}`);
  const wires = (m: GraphModel) =>
    new Set(m.edges.map((e) => `${e.from.node}.${e.from.output}>${e.to.node}.${e.to.input}`));
  const [wa, wb] = [wires(run.model), wires(now.model)];
  if (!added.length && !removed.length && (wa.size !== wb.size || [...wa].some((w) => !wb.has(w))))
    parts.push('wired differently');
  if (run.size !== now.size) parts.push(`${run.size} px`);
  if (run.seed !== now.seed) parts.push(`seed ${run.seed}`);
  if (!!run.sweep !== !!now.sweep && run.sweep) parts.push('sweep');
  if (!parts.length) return null;
  return parts.length > max
    ? `${parts.slice(0, max).join(' · ')} · ${parts.length - max} more change${parts.length - max === 1 ? '' : 's'}`
    : parts.join(' · ');
}
