import type { CompileResult } from '../compiler/compile';
import { formatDiagnostic } from '../graph/diagnostics';
import type { GraphModel } from '../graph/model';
import { applyCell, sweepCells, type Sweep } from '../graph/sweep';
import type { RGBAImage } from '../ops/image';
import type { NodeRegistry } from '../plugin/registry';
import type { ComputeServices } from '../plugin/types';
import { execute, type RunEvent, type RunResult } from './executor';
import type { RunMemo } from './memo';

export interface SweepResult {
  status: RunResult['status'];
  error?: string;
  tiles: { image: RGBAImage; label: string }[];
  cells: { label: string; status: string; steps: RunResult['steps'] }[];
}

/**
 * Runs a graph once per sweep cell (settings applied on a copy), sharing one memo so style targets, encoder
 * passes and networks computed for one cell serve the next. Used by the CLI and the editor's worker.
 */
export async function runSweep(
  model: GraphModel, sweep: Sweep, registry: NodeRegistry, compileCell: (m: GraphModel) => CompileResult, services: ComputeServices,
  options: { memo: RunMemo; signal?: AbortSignal; onCell?(label: string, index: number, count: number): void; onEvent?(e: RunEvent): void },
): Promise<SweepResult> {
  const out: SweepResult = { status: 'done', tiles: [], cells: [] };
  const cells = sweepCells(sweep);
  for (const [i, cell] of cells.entries()) {
    if (options.signal?.aborted) return { ...out, status: 'cancelled' };
    options.onCell?.(cell.label, i, cells.length);
    const applied = applyCell(model, cell);
    if (applied.error) return { ...out, status: 'failed', error: applied.error };
    const { plan, diagnostics } = compileCell(applied.model);
    if (!plan) return { ...out, status: 'failed', error: `sweep cell "${cell.label}": ${diagnostics.map(formatDiagnostic).join('; ')}` };
    const result = await execute(plan, registry, services, {
      memo: options.memo, ...(options.signal ? { signal: options.signal } : {}), ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    out.cells.push({ label: cell.label, status: result.status, steps: result.steps });
    if (result.status !== 'done') return { ...out, status: result.status, ...(result.error ? { error: `sweep cell "${cell.label}": ${result.error}` } : {}) };
    const image = Object.values(result.outputs)[0];
    if (image) out.tiles.push({ image, label: cell.label });
  }
  return out;
}
