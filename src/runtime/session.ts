import type { BackendChoice } from './backend';
import { execute, type RunEvent, type RunResult } from './executor';
import { RunMemo } from './memo';
import { createModelCache } from './models';
import type { PauseGate } from './pause';
import {
  compileWithImages,
  loadGraphImages,
  loadGraphModels,
  makeServices,
  noCheckpoints,
  type DecodedImage,
  type ImageDecoder,
} from './sources';
import { runReport, type RunReport } from './report';
import { prepareRun, type PreparedRun, type RunRequest, type RunUnit } from './request';
import { hasErrors, type Diagnostic } from '../graph/diagnostics';
import type { GraphModel } from '../graph/model';
import { contactSheet } from '../ops/contact-sheet';
import { blendPictures, carryPictures, type PixelMask } from '../ops/flow';
import type { RGBAImage } from '../ops/image';
import { summarise, type Preview } from '../ops/preview';
import type { TfjsModel } from '../models/tfjs-models';
import type { NodeRegistry } from '../plugin/registry';
import type { CheckpointStore, ModelCache, TF } from '../plugin/types';

/**
 * One run session for every host. The CLI (single runs, coarse to fine, sweeps, batches, videos), the editor's
 * worker and queue workers describe what to run (a RunRequest, src/runtime/request.ts) and how to reach the outside
 * world (a RunHost); the session does the rest the same way for all of them: start the backend, load the weights,
 * then run the request's units one after another (load images and models, compile, execute each pass, write, report).
 */

export { checkRequest, type RunRequest } from './request';
export { PauseGate } from './pause';

/** What a run produced, handed to the host to keep: a single run's or a batch item's outputs, or a sweep's sheet. */
export type SessionOutput =
  | {
      kind: 'run';
      /** The batch item's content source, or the frame's name, for a batch or a stream. */
      item?: string;
      model: GraphModel;
      images: Record<string, RGBAImage>;
      checkpoints: RunResult['checkpoints'];
      steps: number;
    }
  | { kind: 'sheet'; model: GraphModel; image: RGBAImage; cells: number };

export type SessionEvent =
  | RunEvent
  | { type: 'backend'; choice: BackendChoice }
  | { type: 'scale'; index: number; count: number; size: number }
  | { type: 'cell'; label: string; index: number; count: number }
  | { type: 'item'; source: string; index: number; count: number }
  /** A frame of a stream starts (counted from 0). */
  | { type: 'frame'; index: number }
  /** A run (the whole single run, one cell, one batch item, one frame) has finished. */
  | { type: 'run-done'; report: RunReport }
  | { type: 'probe'; key: string; preview: Preview };

/** Networks, decoded images and the run memo: a long-lived host (the editor's worker) keeps them between runs. */
export interface SessionState {
  models: ModelCache;
  memo: RunMemo;
  images: Map<string, DecodedImage>;
}

export interface RunHost {
  tf: TF;
  readImage: ImageDecoder;
  /** Image files in a folder the graph names (a training set), where the host has folders. */
  listImages?: (folder: string) => Promise<string[]>;
  /** Loads a tfjs model a `model` parameter names. */
  readModel?: (source: string) => Promise<TfjsModel>;
  /** The checkpoints this session uses, loaded once after the backend started (networks load onto it). */
  readWeights?: () => Promise<CheckpointStore>;
  /** The content frames of a `frames` request, pulled one at a time (the next is asked for when a frame is written). */
  frames?: AsyncIterable<DecodedImage>;
  /** Starts the requested backend (or the best available); absent: the one tfjs already runs. */
  startBackend?: (name?: RunRequest['backend'], o?: { threads?: number }) => Promise<BackendChoice>;
  /** Keeps an output (a file, a message); returns what it wrote (paths), named in the report. */
  write?: (output: SessionOutput) => Promise<string[]>;
  onEvent?: (e: SessionEvent) => void;
  signal?: AbortSignal;
  /** The editor's Pause: held, an optimisation waits between steps (executor's RunOptions.pause); absent, never. */
  pause?: PauseGate;
  state?: SessionState;
  /**
   * Told where a run's time goes, in milliseconds: `prepare` (checking the request against the graph), `sources`
   * (loading its pictures and models), `compile`, and the executor's steps and readbacks (RunOptions.timing).
   */
  timing?: (what: string, ms: number) => void;
}

export interface SessionResult {
  /**
   * `invalid`: the graph or the request is wrong (nothing ran, or a sweep cell could not be set up), or a checkpoint
   * does not fit the network a node builds from it (found during the run). `failed`: the run itself broke; the
   * diagnostics then name the node it broke in (code `run`).
   */
  status: RunResult['status'] | 'invalid';
  error?: string;
  /** Every problem found, whole (path, node, code), for the host to show where it belongs. */
  diagnostics: Diagnostic[];
  backend: string;
  /** Threads the backend computes on (BackendChoice.threads), where known. */
  threads?: number;
  /** One report per run: the single run, each sweep cell, each batch item (a stream: its first frame). */
  runs: RunReport[];
  /** The last run's images, or the sweep's sheet (`sheet`). */
  outputs: Record<string, RGBAImage>;
  written: string[];
  /** `once` steps served from the memo and computed during this session. */
  reused: { hits: number; misses: number };
  seconds: number;
}

const failure = (message: string, code: Diagnostic['code'] = undefined): Diagnostic => ({
  severity: 'error',
  path: '$',
  message,
  ...(code ? { code } : {}),
});

/** Checks the request against the graph (prepareRun) and runs it; a request that does not fit the graph is invalid, nothing runs. */
export async function runSession(
  model: GraphModel,
  registry: NodeRegistry,
  request: RunRequest,
  host: RunHost,
): Promise<SessionResult> {
  const t0 = performance.now();
  const prepared = prepareRun(model, registry, request, { frames: host.frames !== undefined });
  host.timing?.('prepare', performance.now() - t0);
  if (prepared.run) return runPrepared(prepared.run, host);
  return {
    status: 'invalid',
    error: prepared.problems.map((d) => d.message).join('\n'),
    diagnostics: prepared.problems,
    backend: host.tf.getBackend(),
    runs: [],
    outputs: {},
    written: [],
    reused: { hits: 0, misses: 0 },
    seconds: 0,
  };
}

/** How a unit ended, for the loop: go on to the next unit, or end the session so. */
type UnitEnd = { next: true; failed?: boolean } | { next: false; patch: Partial<SessionResult> };

/** Where a unit's error message says it happened. */
const where = (u: RunUnit) =>
  u.kind === 'cell' ? `sweep cell "${u.label}": ` : u.kind === 'frame' ? `frame ${u.index}: ` : '';

/** The event a unit starts with (a single run has none). */
function startEvent(u: RunUnit): SessionEvent | null {
  if (u.kind === 'cell') return { type: 'cell', label: u.label!, index: u.index, count: u.count! };
  if (u.kind === 'item') return { type: 'item', source: u.item!, index: u.index, count: u.count! };
  if (u.kind === 'frame') return { type: 'frame', index: u.index };
  return null;
}

/** Runs a prepared request: the backend and weights once, then its units in order. */
export async function runPrepared(run: PreparedRun, host: RunHost): Promise<SessionResult> {
  const started = performance.now();
  const state: SessionState = host.state ?? { models: createModelCache(), memo: new RunMemo(), images: new Map() };
  const { memo } = state;
  const [hits, misses] = [memo.hits, memo.misses];
  const emit = host.onEvent ?? (() => {});
  const out: SessionResult = {
    status: 'done',
    diagnostics: [],
    backend: host.tf.getBackend(),
    runs: [],
    outputs: {},
    written: [],
    reused: { hits: 0, misses: 0 },
    seconds: 0,
  };
  const finish = (patch: Partial<SessionResult> = {}): SessionResult => {
    Object.assign(out, patch);
    out.reused = { hits: memo.hits - hits, misses: memo.misses - misses };
    out.seconds = (performance.now() - started) / 1000;
    if (out.status !== 'done' && !out.error)
      out.error = out.diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => d.message)
        .join('\n');
    return out;
  };
  const invalid = (ds: Diagnostic[]) => finish({ status: 'invalid', diagnostics: [...out.diagnostics, ...ds] });
  const { request } = run;

  try {
    if (host.startBackend) {
      const choice = await host.startBackend(
        request.backend,
        request.threads !== undefined ? { threads: request.threads } : {},
      );
      out.backend = choice.backend;
      if (choice.threads !== undefined) out.threads = choice.threads;
      emit({ type: 'backend', choice });
    }
    let checkpoints = noCheckpoints;
    try {
      checkpoints = (await host.readWeights?.()) ?? noCheckpoints;
    } catch (e) {
      return invalid([failure(e instanceof Error ? e.message : String(e), 'weights')]);
    }
    const units = new UnitRunner(run, host, state, checkpoints, out, emit);
    const tiles: { image: RGBAImage; label: string }[] = [];
    let previous: RGBAImage | undefined;
    /** The previous frame's content, for the optical flow of a flow-guided stream. */
    let previousFrame: DecodedImage | undefined;
    let status: 'done' | 'failed' = 'done';
    let count = 0;
    for await (const unit of run.units(host.frames)) {
      if (host.signal?.aborted) return finish({ status: 'cancelled' });
      count++;
      const event = startEvent(unit);
      if (event) emit(event);
      const guide = await flowGuide(host.tf, request.frames?.flow, previousFrame, unit.image, previous);
      const before = out.diagnostics.length;
      const result = await units.execute(unit, guide ? guide.warped : unit.warmStart ? previous : undefined, guide);
      const end = units.end(unit, result, out.diagnostics.slice(before));
      if (!end.next) return finish(end.patch);
      if (end.failed) status = 'failed';
      const image = Object.values(out.outputs)[0];
      if (run.sheet && image) tiles.push({ image, label: unit.label ?? '' });
      previous = image;
      previousFrame = unit.image;
    }
    if (request.frames && !count) return invalid([failure('the video has no frames (or none in the range asked for)')]);
    if (run.sheet) {
      const sheet = contactSheet(tiles, run.sheet.columns);
      out.outputs = { sheet };
      if (host.write)
        out.written.push(...(await host.write({ kind: 'sheet', model: run.model, image: sheet, cells: tiles.length })));
    }
    return finish({
      status,
      ...(status === 'failed'
        ? {
            error: out.runs
              .filter((r) => r.status === 'failed')
              .map((r) => `${r.item}: ${r.error}`)
              .join('\n'),
          }
        : {}),
    });
  } catch (e) {
    return finish({ status: 'failed', error: e instanceof Error ? e.message : String(e) });
  } finally {
    if (!host.state) {
      memo.clear();
      state.models.dispose();
    }
  }
}

/** Runs one unit at a time: its sources, its passes (coarse to fine), its output and report; and says how it ended. */
class UnitRunner {
  /** tfjs models already read (an earlier cell or item) are not read again. */
  private readonly tfjsModels = new Map<string, TfjsModel>();

  constructor(
    private readonly prepared: PreparedRun,
    private readonly host: RunHost,
    private readonly state: SessionState,
    private readonly checkpoints: CheckpointStore,
    private readonly out: SessionResult,
    private readonly emit: (e: SessionEvent) => void,
  ) {}

  /** How a unit ended (`found`: the problems it added), for the session's loop. */
  end(u: RunUnit, r: RunResult | null, found: Diagnostic[]): UnitEnd {
    if (!r) {
      // A photo that cannot be read fails its item; a graph that does not compile fails them all.
      if (u.kind === 'item' && found.every((d) => d.code === 'source')) {
        const error = found.map((d) => d.message).join('; ');
        this.out.runs.push(this.report(u, { status: 'failed', error }, this.prepared.request.size, []));
        return { next: true, failed: true };
      }
      return { next: false, patch: { status: hasErrors(this.out.diagnostics) ? 'invalid' : 'failed' } };
    }
    const error = r.error ? { error: `${where(u)}${r.error}` } : {};
    if (r.status === 'cancelled') return { next: false, patch: { status: 'cancelled' } };
    // A checkpoint that does not fit its network is bad input, whichever unit meets it first.
    if (r.badInput) return { next: false, patch: { status: 'invalid', ...error } };
    if (r.status === 'failed') {
      this.failedNodes(u, r);
      return u.kind === 'item' ? { next: true, failed: true } : { next: false, patch: { status: 'failed', ...error } };
    }
    return { next: true };
  }

  /** A run that broke in a node says so on that node (code `run`), where the editor shows it. */
  private failedNodes(u: RunUnit, r: RunResult): void {
    for (const id of r.nodes ?? []) {
      const index = u.model.nodes.findIndex((n) => n.id === id);
      if (index < 0) continue;
      this.out.diagnostics.push({
        severity: 'error',
        code: 'run',
        nodeId: id,
        path: `$.nodes[${index}]`,
        message: `${where(u)}${r.error ?? 'failed'}`,
      });
    }
  }

  private report(
    u: RunUnit,
    result: Parameters<typeof runReport>[0]['result'],
    size: number,
    outputs: string[],
    scales?: NonNullable<RunReport['scales']>,
  ): RunReport {
    const { out } = this;
    return runReport({
      model: u.model,
      backend: out.backend,
      ...(out.threads !== undefined ? { threads: out.threads } : {}),
      size,
      seed: this.prepared.request.seed,
      result,
      outputs,
      ...(u.label !== undefined ? { label: u.label } : {}),
      ...(u.item !== undefined ? { item: u.item } : {}),
      ...(scales && scales.length > 1 ? { scales } : {}),
    });
  }

  /**
   * Loads the unit's sources, runs its passes, hands its output to the host and reports it; null: it could not start.
   * A frame's pixels are held for the unit only, and a batch item's photo is dropped after it.
   */
  async execute(u: RunUnit, start?: RGBAImage, guide?: FlowGuide): Promise<RunResult | null> {
    if (u.image && u.item) this.state.images.set(u.item, u.image);
    try {
      const { host, state, out, prepared } = this;
      const t0 = performance.now();
      if (host.readModel) {
        const loaded = await loadGraphModels(u.model, prepared.registry, host.readModel, this.tfjsModels);
        if (loaded.errors.length) return (out.diagnostics.push(...loaded.errors), null);
      }
      const loaded = await loadGraphImages(u.model, prepared.registry, host.readImage, state.images);
      if (loaded.errors.length) return (out.diagnostics.push(...loaded.errors), null);
      host.timing?.('sources', performance.now() - t0);
      const passed = await this.passes(u, start, guide);
      if (!passed) return null;
      const { result, log, size } = passed;
      const images = result.outputs;
      const keep = host.write && !prepared.sheet && (result.status === 'done' || Object.keys(images).length);
      const written = keep
        ? await host.write!({
            kind: 'run',
            model: u.model,
            images,
            checkpoints: result.checkpoints,
            steps: result.steps.length - 1,
            ...(u.item !== undefined ? { item: u.item } : {}),
          })
        : [];
      out.written.push(...written);
      const report = this.report(u, result, size, written, log);
      // A stream keeps its first frame's report only (the weights used, the warnings): a long clip stays flat.
      if (u.kind !== 'frame' || !out.runs.length) out.runs.push(report);
      out.outputs = images;
      this.emit({ type: 'run-done', report });
      return result;
    } finally {
      if ((u.kind === 'item' || u.kind === 'frame') && u.item) this.state.images.delete(u.item);
    }
  }

  /** The unit's passes, coarse to fine: each starts from the previous one's result. */
  private async passes(u: RunUnit, start?: RGBAImage, guide?: FlowGuide) {
    const { host, state, out, prepared, checkpoints, tfjsModels, emit } = this;
    const { request, registry } = prepared;
    const log: NonNullable<RunReport['scales']> = [];
    let init = start;
    let result: RunResult | undefined;
    let size = request.size;
    for (const [i, pass] of u.passes.entries()) {
      size = pass.size;
      const t0 = performance.now();
      const { plan, diagnostics } = compileWithImages(
        pass.model,
        registry,
        state.images,
        size,
        tfjsModels,
        checkpoints,
      );
      host.timing?.('compile', performance.now() - t0);
      // Every cell compiles the same graph: its warnings are said once, its errors with the cell's name.
      if (i === 0)
        for (const d of diagnostics.map((d) =>
          u.label && d.severity === 'error' ? { ...d, message: `sweep cell "${u.label}": ${d.message}` } : d,
        ))
          if (!out.diagnostics.some((x) => x.message === d.message && x.path === d.path)) out.diagnostics.push(d);
      if (!plan) return null;
      if (u.passes.length > 1) emit({ type: 'scale', index: i, count: u.passes.length, size });
      const sockets = new Map(plan.steps.flatMap((st) => st.outputs.map((o) => [o.key, o.socket] as const)));
      const services = makeServices(host.tf, state.images, size, request.seed, state.models, checkpoints, {
        decode: host.readImage,
        ...(host.listImages ? { listImages: host.listImages } : {}),
        tfjsModels,
      });
      const t1 = performance.now();
      result = await execute(plan, registry, services, {
        memo: state.memo,
        onEvent: emit,
        ...(host.signal ? { signal: host.signal } : {}),
        ...(host.pause ? { pause: host.pause } : {}),
        ...(init ? { initImage: init } : {}),
        ...(guide && guide.weight > 0
          ? { temporal: { target: guide.warped, mask: guide.mask, weight: guide.weight } }
          : {}),
        ...(request.tiling !== undefined ? { tiling: request.tiling } : {}),
        ...(request.winograd ? { winograd: request.winograd } : {}),
        ...(host.timing ? { timing: host.timing } : {}),
        ...(u.probe && request.probe?.length
          ? {
              probe: {
                keys: new Set(request.probe),
                read: (key: string, shape: number[], data: ArrayLike<number>) =>
                  emit({ type: 'probe', key, preview: summarise(data, shape, sockets.get(key) ?? '') }),
              },
            }
          : {}),
      });
      host.timing?.('execute', performance.now() - t1);
      const loss: [number, number] | null = result.steps.length
        ? [result.steps[0]!.loss, result.steps.at(-1)!.loss]
        : null;
      log.push({ size, steps: Math.max(0, result.steps.length - 1), loss, status: result.status });
      if (guide && !plan.optimiser && result.status === 'done') result.outputs = guidedBlend(result.outputs, guide);
      if (result.status !== 'done') break;
      init = Object.values(result.outputs)[0];
    }
    return result ? { result, log, size } : null;
  }
}

/** A frame of a flow-guided stream: the previous result warped onto it, where that is trusted, and how to use it. */
interface FlowGuide {
  warped: RGBAImage;
  mask: PixelMask;
  /** A feed-forward graph's result keeps this much of `warped` where the mask is 1. */
  blend: number;
  /** The temporal loss's weight for an optimisation graph. */
  weight: number;
}

/**
 * Defaults of a flow-guided stream: half of the carried frame; a temporal weight in the Gatys preset's units (on a
 * 64 px clip, 10 L-BFGS steps a frame, the term ended at 9 of a total of 69 on the second frame: it holds the picture
 * without freezing it). Other graphs' losses have other scales: `frames.flow.weight` sets it.
 */
export const FLOW_BLEND = 0.5;
export const FLOW_WEIGHT = 1000;

/** The guide of a frame (from the second on) of a stream with `frames.flow`; none for the first or without it. */
async function flowGuide(
  tf: RunHost['tf'],
  flow: NonNullable<RunRequest['frames']>['flow'],
  previousFrame: DecodedImage | undefined,
  frame: DecodedImage | undefined,
  previous: RGBAImage | undefined,
): Promise<FlowGuide | undefined> {
  if (!flow || !previousFrame || !frame || !previous) return undefined;
  const carried = await carryPictures(tf, previousFrame, frame, previous);
  return { ...carried, blend: flow.blend ?? FLOW_BLEND, weight: flow.weight ?? FLOW_WEIGHT };
}

/** A feed-forward result blended with the carried previous one (src/ops/flow.ts blendPictures), outputs of its size. */
function guidedBlend(outputs: Record<string, RGBAImage>, g: FlowGuide): Record<string, RGBAImage> {
  return Object.fromEntries(
    Object.entries(outputs).map(([k, image]) => [
      k,
      g.blend > 0 && image.width === g.warped.width && image.height === g.warped.height
        ? blendPictures(image, g.warped, g.mask, g.blend)
        : image,
    ]),
  );
}
