import type { GraphModel } from '../graph/model';
import type { RunResult, StepRecord } from './executor';

/** One scale of a coarse-to-fine run. */
export interface ScaleLog {
  size: number;
  steps: number;
  loss: [number, number] | null;
  status: string;
}

/**
 * What one run did, the same for every host: a CLI run, a sweep cell, a batch item, the editor's worker.
 * With the same graph, seed, size and backend, everything but the timings (`ms`, `msPerStep`), `threads` and the
 * written paths is equal whichever host ran it.
 */
export interface RunReport {
  title: string;
  /** The sweep cell's label. */
  label?: string;
  /** The batch item's content image source. */
  item?: string;
  status: RunResult['status'];
  error?: string;
  converged?: string;
  backend: string;
  /** Where L-BFGS kept its state (RunResult.lbfgs): part of what must match for two runs to give the same numbers. */
  lbfgs?: RunResult['lbfgs'];
  /** Threads the backend computed on (wasm's pthread pool), where the host knows it. */
  threads?: number;
  size: number;
  seed: number;
  weights: RunResult['weights'];
  msPerStep: number | null;
  steps: StepRecord[];
  tensors: RunResult['tensors'];
  outputs: string[];
  scales?: ScaleLog[];
}

export function runReport(a: {
  model: GraphModel;
  backend: string;
  size: number;
  seed: number;
  outputs: string[];
  /** A run that could not start has only a status and an error. */
  result: RunResult | Pick<RunResult, 'status' | 'error'>;
  label?: string;
  item?: string;
  scales?: ScaleLog[];
  threads?: number;
}): RunReport {
  const r = a.result;
  const steps = 'steps' in r ? r.steps : [];
  const timed = steps.slice(1);
  return {
    title: a.model.metadata.title ?? '',
    ...(a.label !== undefined ? { label: a.label } : {}),
    ...(a.item !== undefined ? { item: a.item } : {}),
    status: r.status,
    ...(r.error ? { error: r.error } : {}),
    ...('converged' in r && r.converged ? { converged: r.converged } : {}),
    backend: a.backend,
    ...('lbfgs' in r && r.lbfgs ? { lbfgs: r.lbfgs } : {}),
    ...(a.threads !== undefined ? { threads: a.threads } : {}),
    size: a.size,
    seed: a.seed,
    weights: 'weights' in r ? r.weights : [],
    msPerStep: timed.length ? timed.reduce((s, x) => s + x.ms, 0) / timed.length : null,
    steps,
    tensors: 'tensors' in r ? r.tensors : { afterFirstStep: null, atEnd: 0 },
    outputs: a.outputs,
    ...(a.scales ? { scales: a.scales } : {}),
  };
}
