import { z } from 'zod';
import type { GraphModel } from './model';

/**
 * A sweep runs one graph over a list of settings and lays the results out as a labelled contact sheet.
 * Stored in the document's metadata (`metadata.sweep`) so a lesson is one file; each cell applies its
 * row's and its column's parameter values (`NODE_ID.PARAM`) on top of the graph.
 */
const zSetting = z.object({
  label: z.string().max(40),
  set: z.record(z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_]+$/), z.unknown()),
});
export const zSweep = z.object({
  columns: z.array(zSetting).min(1).max(16),
  rows: z.array(zSetting).max(16).optional(),
});
export type Sweep = z.infer<typeof zSweep>;

export interface SweepCell {
  label: string;
  set: Record<string, unknown>;
}

export function sweepOf(model: GraphModel): { sweep: Sweep | null; error?: string } {
  const raw = model.metadata.sweep;
  if (raw === undefined) return { sweep: null };
  const r = zSweep.safeParse(raw);
  if (!r.success)
    return {
      sweep: null,
      error: `metadata.sweep: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    };
  return { sweep: r.data };
}

/** Cells in reading order (rows, then columns). */
export function sweepCells(s: Sweep): SweepCell[] {
  const rows = s.rows?.length ? s.rows : [{ label: '', set: {} }];
  return rows.flatMap((r) =>
    s.columns.map((c) => ({ label: [r.label, c.label].filter(Boolean).join(' '), set: { ...r.set, ...c.set } })),
  );
}

/** A copy of the model with a cell's values applied; unknown nodes are reported. */
export function applyCell(model: GraphModel, cell: SweepCell): { model: GraphModel; error?: string } {
  const copy: GraphModel = { ...model, nodes: model.nodes.map((n) => ({ ...n, params: { ...n.params } })) };
  for (const [path, value] of Object.entries(cell.set)) {
    const [id, param] = path.split('.') as [string, string];
    const node = copy.nodes.find((n) => n.id === id);
    if (!node) return { model, error: `sweep cell "${cell.label}": no node "${id}"` };
    node.params[param] = value;
  }
  return { model: copy };
}
