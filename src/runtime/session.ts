import type { BackendChoice, BackendName } from './backend';
import { execute, type RunEvent, type RunOptions, type RunResult } from './executor';
import { RunMemo } from './memo';
import { createModelCache } from './models';
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
import { hasErrors, type Diagnostic } from '../graph/diagnostics';
import { slotNodes, withSlotSource, withSteps } from '../graph/edit';
import type { GraphModel } from '../graph/model';
import { applyCell, sweepCells, sweepOf } from '../graph/sweep';
import { contactSheet } from '../ops/contact-sheet';
import type { RGBAImage } from '../ops/image';
import { summarise, type Preview } from '../ops/preview';
import type { TfjsModel } from '../models/tfjs-models';
import type { NodeRegistry } from '../plugin/registry';
import type { CheckpointStore, ModelCache, TF } from '../plugin/types';

/**
 * One run session for every host. The CLI (single runs, coarse to fine, sweeps, batches), the editor's worker
 * and queue workers describe what to run (a RunRequest) and how to reach the outside world (a RunHost); the
 * session does the rest the same way for all of them: start the backend, load weights, images and models,
 * compile, execute (scale by scale, cell by cell or item by item), write results and report.
 */

export interface RunRequest {
  /** Longest image side in pixels. */
  size: number;
  seed: number;
  /** Optimiser steps: one count for every scale, or one per scale. Absent: the graph's own. */
  steps?: number | number[];
  /** Coarse to fine: increasing fractions of `size` ending at 1; each scale starts from the last one's result. */
  scales?: number[];
  /** Run the document's sweep (metadata.sweep) into one labelled contact sheet. */
  sweep?: boolean;
  /** A batch: one run per content image source, reusing everything that does not depend on it. */
  batch?: string[];
  /**
   * A stream of content frames (a video), read from `host.frames`: one run per frame on the content slot, like a
   * batch item (the style side comes from the memo after the first frame), each frame handed to `host.write` as it is
   * done and then forgotten, so a long clip runs in flat memory. `warmStart`: an optimisation graph starts each
   * frame from the previous frame's result (Ruder et al. 2016, without optical flow) instead of its usual start.
   */
  frames?: { warmStart?: boolean };
  tiling?: RunOptions['tiling'];
  backend?: BackendName;
  /** wasm's threads (`--threads`); absent: the host's default (every core). */
  threads?: number;
  /** Value keys to preview (the editor's node previews); each arrives as a `probe` event. */
  probe?: readonly string[];
}

/** What a run produced, handed to the host to keep: a single run's or a batch item's outputs, or a sweep's sheet. */
export type SessionOutput =
  | {
      kind: 'run';
      /** The batch item's content source, for a batch. */
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
  /** A run (the whole single run, one cell, one batch item) has finished. */
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
  startBackend?: (name?: BackendName, o?: { threads?: number }) => Promise<BackendChoice>;
  /** Keeps an output (a file, a message); returns what it wrote (paths), named in the report. */
  write?: (output: SessionOutput) => Promise<string[]>;
  onEvent?: (e: SessionEvent) => void;
  signal?: AbortSignal;
  state?: SessionState;
}

export interface SessionResult {
  /**
   * `invalid`: the graph or the request is wrong (nothing ran, or a sweep cell could not be set up), or a checkpoint
   * does not fit the network a node builds from it (found during the run).
   */
  status: RunResult['status'] | 'invalid';
  error?: string;
  /** Every problem found, whole (path, node, code), for the host to show where it belongs. */
  diagnostics: Diagnostic[];
  backend: string;
  /** Threads the backend computes on (BackendChoice.threads), where known. */
  threads?: number;
  /** One report per run: the single run, each sweep cell, each batch item. */
  runs: RunReport[];
  /** The last run's images, or the sweep's sheet (`sheet`). */
  outputs: Record<string, RGBAImage>;
  written: string[];
  /** `once` steps served from the memo and computed during this session. */
  reused: { hits: number; misses: number };
  seconds: number;
}

/** Problems with a request itself, as messages. */
export function checkRequest(r: RunRequest): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(r.size) || r.size < 8)
    problems.push(`the size must be a whole number of pixels, at least 8 (got ${r.size})`);
  const scales = r.scales ?? [1];
  if (!(
    scales.length > 0 &&
    scales.every((x, i) => x > 0 && x <= 1 && (i === 0 || x > scales[i - 1]!)) &&
    scales.at(-1) === 1
  ))
    problems.push(
      `scales must be increasing fractions of the size ending at 1, e.g. 0.25,0.5,1 (got ${scales.join(',')})`,
    );
  if (Array.isArray(r.steps) && r.steps.length !== scales.length)
    problems.push(`${r.steps.length} step counts for ${scales.length} scales`);
  if ([r.sweep, r.batch !== undefined, scales.length > 1].filter(Boolean).length > 1)
    problems.push('a run is one of: a sweep, a batch, or coarse to fine');
  if (r.frames && (r.sweep || r.batch !== undefined || scales.length > 1))
    problems.push('a stream of frames runs alone: no sweep, batch or coarse to fine');
  return problems;
}

const failure = (message: string, code: Diagnostic['code'] = undefined): Diagnostic => ({
  severity: 'error',
  path: '$',
  message,
  ...(code ? { code } : {}),
});

export async function runSession(
  model: GraphModel,
  registry: NodeRegistry,
  request: RunRequest,
  host: RunHost,
): Promise<SessionResult> {
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

  const problems = checkRequest(request);
  if (problems.length) return invalid(problems.map((p) => failure(p)));
  if (request.batch && !slotNodes(model, 'content').length)
    return invalid([failure('a batch needs an image node with slot "content"')]);
  if (request.frames && !slotNodes(model, 'content').length)
    return invalid([failure('a video needs an image node with slot "content"')]);
  if (request.frames && !host.frames)
    return invalid([failure('a stream of frames needs a host that reads them (host.frames)')]);
  const sweep = request.sweep ? sweepOf(model) : null;
  if (sweep?.error) return invalid([failure(sweep.error)]);
  if (sweep && !sweep.sweep) return invalid([failure('the graph has no sweep (metadata.sweep)')]);
  const base = typeof request.steps === 'number' ? withSteps(model, registry, request.steps) : model;

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
    const tfjsModels = new Map<string, TfjsModel>();
    const runOne = async (
      m: GraphModel,
      label: Partial<Pick<RunReport, 'label' | 'item'>>,
      probe: boolean,
      start?: RGBAImage,
    ): Promise<RunResult | null> => {
      if (host.readModel) {
        // Models already read (an earlier sweep cell or batch item) are not read again.
        const loaded = await loadGraphModels(m, registry, host.readModel, tfjsModels);
        if (loaded.errors.length) return (void out.diagnostics.push(...loaded.errors), null);
      }
      const loaded = await loadGraphImages(m, registry, host.readImage, state.images);
      if (loaded.errors.length) return (void out.diagnostics.push(...loaded.errors), null);
      const scaled = await runScales(m, label, probe, start);
      if (!scaled) return null;
      const { result, scales, size } = scaled;
      const images = result.outputs;
      const written =
        host.write && !request.sweep && (result.status === 'done' || Object.keys(images).length)
          ? await host.write({
              kind: 'run',
              model: m,
              images,
              checkpoints: result.checkpoints,
              steps: result.steps.length - 1,
              ...(label.item ? { item: label.item } : {}),
            })
          : [];
      out.written.push(...written);
      const report = runReport({
        model: m,
        backend: out.backend,
        ...(out.threads !== undefined ? { threads: out.threads } : {}),
        size,
        seed: request.seed,
        result,
        outputs: written,
        ...label,
        ...(scales.length > 1 ? { scales } : {}),
      });
      // A stream keeps its first frame's report only (the weights used, the warnings): a long clip stays flat.
      if (!request.frames || !out.runs.length) out.runs.push(report);
      out.outputs = images;
      emit({ type: 'run-done', report });
      return result;
    };

    /** One run, coarse to fine when the request has scales: each scale starts from the previous one's result. */
    const runScales = async (
      m: GraphModel,
      label: Partial<Pick<RunReport, 'label' | 'item'>>,
      probe: boolean,
      start?: RGBAImage,
    ) => {
      const scales = request.scales ?? [1];
      const log: NonNullable<RunReport['scales']> = [];
      let init: RGBAImage | undefined = start;
      let result: RunResult | undefined;
      let px = request.size;
      for (const [i, s] of scales.entries()) {
        px = i === scales.length - 1 ? request.size : Math.max(16, Math.round(request.size * s));
        const scaleModel = Array.isArray(request.steps) ? withSteps(m, registry, request.steps[i]!) : m;
        const { plan, diagnostics } = compileWithImages(
          scaleModel,
          registry,
          state.images,
          px,
          tfjsModels,
          checkpoints,
        );
        // Every cell compiles the same graph: its warnings are said once, its errors with the cell's name.
        if (i === 0)
          for (const d of diagnostics.map((d) =>
            label.label && d.severity === 'error' ? { ...d, message: `sweep cell "${label.label}": ${d.message}` } : d,
          ))
            if (!out.diagnostics.some((x) => x.message === d.message && x.path === d.path)) out.diagnostics.push(d);
        if (!plan) return null;
        if (scales.length > 1) emit({ type: 'scale', index: i, count: scales.length, size: px });
        const sockets = new Map(plan.steps.flatMap((st) => st.outputs.map((o) => [o.key, o.socket] as const)));
        result = await execute(
          plan,
          registry,
          makeServices(host.tf, state.images, px, request.seed, state.models, checkpoints, {
            decode: host.readImage,
            ...(host.listImages ? { listImages: host.listImages } : {}),
            tfjsModels,
          }),
          {
            memo,
            onEvent: emit,
            ...(host.signal ? { signal: host.signal } : {}),
            ...(init ? { initImage: init } : {}),
            ...(request.tiling !== undefined ? { tiling: request.tiling } : {}),
            ...(probe && request.probe?.length
              ? {
                  probe: {
                    keys: new Set(request.probe),
                    read: (key: string, shape: number[], data: ArrayLike<number>) =>
                      emit({ type: 'probe', key, preview: summarise(data, shape, sockets.get(key) ?? '') }),
                  },
                }
              : {}),
          },
        );
        const loss: [number, number] | null = result.steps.length
          ? [result.steps[0]!.loss, result.steps.at(-1)!.loss]
          : null;
        log.push({ size: px, steps: Math.max(0, result.steps.length - 1), loss, status: result.status });
        if (result.status !== 'done') break;
        init = Object.values(result.outputs)[0];
      }
      return { result: result!, scales: log, size: px };
    };

    if (sweep?.sweep) {
      const cells = sweepCells(sweep.sweep);
      const tiles: { image: RGBAImage; label: string }[] = [];
      for (const [i, cell] of cells.entries()) {
        if (host.signal?.aborted) return finish({ status: 'cancelled' });
        emit({ type: 'cell', label: cell.label, index: i, count: cells.length });
        const applied = applyCell(base, cell);
        if (applied.error) return invalid([failure(applied.error)]);
        const r = await runOne(applied.model, { label: cell.label }, false);
        if (!r) return invalid([]);
        if (r.status !== 'done')
          return finish({
            status: r.badInput ? 'invalid' : r.status,
            ...(r.error ? { error: `sweep cell "${cell.label}": ${r.error}` } : {}),
          });
        const image = Object.values(r.outputs)[0];
        if (image) tiles.push({ image, label: cell.label });
      }
      const sheet = contactSheet(tiles, sweep.sweep.columns.length);
      out.outputs = { sheet };
      if (host.write)
        out.written.push(...(await host.write({ kind: 'sheet', model: base, image: sheet, cells: tiles.length })));
      return finish();
    }

    if (request.batch) {
      let status: SessionResult['status'] = 'done';
      for (const [i, source] of request.batch.entries()) {
        if (host.signal?.aborted) return finish({ status: 'cancelled' });
        emit({ type: 'item', source, index: i, count: request.batch.length });
        const before = out.diagnostics.length;
        const r = await runOne(withSlotSource(base, 'content', source), { item: source }, false);
        state.images.delete(source); // the photo's pixels are not needed again
        if (!r) {
          // A photo that cannot be read fails its item; a graph that does not compile fails them all.
          if (out.diagnostics.slice(before).some((d) => d.code !== 'source')) return invalid([]);
          const error = out.diagnostics
            .slice(before)
            .map((d) => d.message)
            .join('; ');
          out.runs.push(
            runReport({
              model: base,
              backend: out.backend,
              ...(out.threads !== undefined ? { threads: out.threads } : {}),
              size: request.size,
              seed: request.seed,
              result: { status: 'failed', error },
              outputs: [],
              item: source,
            }),
          );
          status = 'failed';
          continue;
        }
        if (r.status === 'cancelled') return finish({ status: 'cancelled' });
        // A checkpoint that does not fit its network fails every item alike: bad input, said once.
        if (r.badInput) return finish({ status: 'invalid', ...(r.error ? { error: r.error } : {}) });
        if (r.status === 'failed') status = 'failed';
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
    }

    if (request.frames && host.frames) {
      let previous: RGBAImage | undefined;
      let index = 0;
      for await (const frame of host.frames) {
        if (host.signal?.aborted) return finish({ status: 'cancelled' });
        emit({ type: 'frame', index });
        const key = `frame:${index}`;
        state.images.set(key, frame);
        const r = await runOne(
          withSlotSource(base, 'content', key),
          { item: key },
          false,
          request.frames.warmStart ? previous : undefined,
        );
        state.images.delete(key);
        if (!r) return hasErrors(out.diagnostics) ? invalid([]) : finish({ status: 'failed' });
        if (r.status !== 'done')
          return finish({
            status: r.badInput ? 'invalid' : r.status,
            ...(r.error ? { error: `frame ${index}: ${r.error}` } : {}),
          });
        previous = Object.values(r.outputs)[0];
        index++;
      }
      if (!index) return invalid([failure('the video has no frames (or none in the range asked for)')]);
      return finish();
    }

    const r = await runOne(base, {}, true);
    if (!r) return hasErrors(out.diagnostics) ? invalid([]) : finish({ status: 'failed' });
    return finish({ status: r.badInput ? 'invalid' : r.status, ...(r.error ? { error: r.error } : {}) });
  } catch (e) {
    return finish({ status: 'failed', error: e instanceof Error ? e.message : String(e) });
  } finally {
    if (!host.state) {
      memo.clear();
      state.models.dispose();
    }
  }
}
