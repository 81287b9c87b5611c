import { mkdir } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { formatDiagnostic } from '../../graph/diagnostics';
import type { GraphModel } from '../../graph/model';
import { writeSafetensors } from '../../models/weights/safetensors';
import { checkpointUses } from '../../compiler/checkpoints';
import { manifestEntry } from '../../models/weights/manifest';
import type { NodeRegistry } from '../../plugin/registry';
import type { TF } from '../../plugin/types';
import type { LoadedCheckpoint } from '../../plugin/types';
import type { RunReport } from '../../runtime/report';
import type { PreparedRun, RunRequest } from '../../runtime/request';
import { runPrepared, type RunHost, type SessionOutput, type SessionResult } from '../../runtime/session';
import type { Io } from '../io';
import { checkOutputs, imageInputs, writeOrRescue } from '../files';
import { documentAccess, type SourceOptions } from '../node/node-session';
import { loadTfjsModelFrom } from '../node/node-tfjs-model';
import { checkpointStore, loadWeights, widthNote, type WeightsSpec } from '../node/node-weights';
import { cachedWeights, graphCheckpoints, type WeightsSettings } from '../weights/weights-fetch';
import { backendLine, graphPng } from './outputs';
import { progressReporter } from './progress';
import { downloadProgress } from '../weights/weights-command';

/** Where results go without --out. */
export const DEFAULT_OUT = 'stylegraph-out';

export interface RunCommand {
  file: string;
  /** The graph with the request applied, and the request (prepared.model and prepared.request). */
  model: GraphModel;
  registry: NodeRegistry;
  request: RunRequest;
  /** The request checked against the graph once (prepareRun): the session runs its units. */
  prepared: PreparedRun;
  weights: WeightsSpec[];
  /** The weight cache and mirror: `--weights NAME` and every network the graph names are looked up there. */
  settings: WeightsSettings;
  out?: string;
  report?: string;
  signal?: AbortSignal;
  /** What the user gave on the command line and the remote fetching they consented to (docs/security.md). */
  sources?: SourceOptions;
}

const lossText = (r: RunReport) =>
  r.steps.length ? `, loss ${r.steps[0]!.loss.toPrecision(4)} -> ${r.steps.at(-1)!.loss.toPrecision(4)}` : '';

/** Where a run's pictures go: named once here, checked before the run, written after it. */
interface OutputNames {
  /** The picture of a single run (its first output; later outputs get `-NODE` before `.png`). */
  first: string;
  /** A sweep's contact sheet. */
  sheet: string;
  /** What trained weights are named after (`STEM-NODE.safetensors`). */
  stem: string;
  /** A batch's folder ('' when not a batch), and each photo's picture in it. */
  batchDir: string;
  batchPath: (item: string) => string;
}

/** Without --out, results go to ./stylegraph-out/ (named after the graph), not loose into the working folder. */
async function outputNames(io: Io, c: RunCommand): Promise<OutputNames> {
  const name = basename(c.file, extname(c.file));
  if (!c.out) await mkdir(resolve(io.cwd, DEFAULT_OUT), { recursive: true });
  const stem = (c.out ?? join(DEFAULT_OUT, name)).replace(/\.png$/i, '');
  const batchDir = c.request.batch ? resolve(io.cwd, c.out ?? join(DEFAULT_OUT, `${name}-batch`)) : '';
  return {
    first: c.out ?? `${stem}.png`,
    sheet: c.out ?? `${stem}-sheet.png`,
    stem,
    batchDir,
    batchPath: (item) => join(batchDir, basename(item).replace(/\.[^.]+$/, '.png')),
  };
}

/** Output paths are checked before the run, not after it: a missing folder, a folder given as a file, the graph or an input. */
function outputProblems(io: Io, c: RunCommand, names: OutputNames): Promise<string[]> {
  return checkOutputs({
    cwd: io.cwd,
    folders: names.batchDir ? [names.batchDir] : [],
    files: [
      ...(c.request.batch ? c.request.batch.map(names.batchPath) : [c.request.sweep ? names.sheet : names.first]),
      ...(c.report ? [c.report] : []),
    ],
    inputs: [c.file, ...imageInputs(c.model, c.registry, c.file), ...(c.request.batch ?? [])],
  });
}

/** Writes a session's outputs under `names`: pictures that carry their graph, trained weights as safetensors. */
function outputWriter(
  c: RunCommand,
  names: OutputNames,
  save: (path: string, bytes: Uint8Array | string) => Promise<string>,
): (o: SessionOutput) => Promise<string[]> {
  return async (o) => {
    if (o.kind === 'sheet') return [await save(names.sheet, graphPng(o.image, o.model))];
    const entries = Object.entries(o.images);
    if (o.item) {
      // A batch keeps one picture per photo, named after it.
      if (!entries[0]) return [];
      return [await save(names.batchPath(o.item), graphPng(entries[0][1], o.model))];
    }
    const written: string[] = [];
    for (const [i, [nodeId, image]] of entries.entries()) {
      const path = i === 0 ? names.first : names.first.replace(/(\.png)?$/i, `-${nodeId}.png`);
      written.push(await save(path, graphPng(image, o.model)));
    }
    for (const [nodeId, tensors] of Object.entries(o.checkpoints)) {
      const path = `${names.stem}-${nodeId}.safetensors`;
      const meta = { graph: c.file, node: nodeId, steps: String(o.steps) };
      written.push(await save(path, writeSafetensors(tensors, meta)));
    }
    return written;
  };
}

/** The run's events on stderr: the backend, scales, cells, a batch's items; a single run's progress. */
function eventPrinter(io: Io, c: RunCommand): NonNullable<RunHost['onEvent']> {
  const progress = progressReporter(io);
  let itemStarted = 0;
  return (e) => {
    if (e.type === 'backend') io.err(`${backendLine(e.choice)}, ${c.request.size} px`);
    else if (e.type === 'scale') io.err(`scale ${e.index + 1}/${e.count}: ${e.size} px`);
    else if (e.type === 'cell') io.err(`cell ${e.index + 1}/${e.count}: ${e.label}`);
    else if (e.type === 'item') itemStarted = performance.now();
    else if (e.type === 'run-done' && e.report.item !== undefined) {
      const r = e.report;
      io.err(
        `${basename(r.item!)}: ${r.status}${lossText(r)}, ${((performance.now() - itemStarted) / 1000).toFixed(1)} s -> ${r.outputs[0] ?? '(nothing written)'}`,
      );
      if (r.error) io.err(`  ${r.error}`);
    } else if (!c.request.batch && !c.request.sweep) progress(e);
  };
}

/** What a finished session wrote and found, on stderr (the exit status and its last line come after). */
async function printSummary(
  io: Io,
  c: RunCommand,
  result: SessionResult,
  saveReport: () => Promise<string | null>,
): Promise<void> {
  // A node the run broke in is said once, in the last line ('run failed: node ... failed: ...').
  for (const d of result.diagnostics) if (d.code !== 'run') io.err(`${c.file}: ${formatDiagnostic(d)}`);
  const first = result.runs[0];
  for (const w of first?.weights ?? []) io.err(`weights for ${w.nodes.join(', ')}: ${w.weights}`);
  if (c.request.sweep) for (const cell of result.runs) io.err(`${cell.label}: ${cell.status}${lossText(cell)}`);
  const reportFile = await saveReport();
  if (c.request.sweep && result.status === 'done')
    io.err(
      `wrote ${result.written[0]} (${result.runs.length} cells; ${result.reused.hits} steps reused from earlier cells)`,
    );
  else if (c.request.batch)
    io.err(
      `${result.runs.length} images in ${result.seconds.toFixed(1)} s (${(result.seconds / Math.max(1, result.runs.length)).toFixed(2)} s per image); ` +
        `${result.reused.hits} steps reused across images (style targets, encoder passes of the style)`,
    );
  else for (const path of result.written) io.err(`wrote ${path}`);
  if (reportFile) io.err(`wrote ${reportFile}`);
}

/**
 * `stylegraph run` in every mode (single, coarse to fine, sweep, batch): the Node host of the run session.
 * It reads files relative to the document, writes PNGs that carry their graph, and prints progress and a report.
 */
export async function runCommand(io: Io, c: RunCommand): Promise<number> {
  const base = await nodeRunHost(io, c);
  const names = await outputNames(io, c);
  const problems = await outputProblems(io, c, names);
  if (problems.length) {
    for (const p of problems) io.err(`stylegraph: ${p}`);
    return 2;
  }
  // A write that fails after the run (a full disk, a folder removed meanwhile) saves the result elsewhere and says where.
  let rescued = false;
  const save = async (path: string, bytes: Uint8Array | string): Promise<string> => {
    const r = await writeOrRescue(path, bytes);
    if (r.failed) {
      rescued = true;
      io.err(`stylegraph: ${r.failed}; saved it to ${r.path} instead`);
    }
    return r.path;
  };
  const host: RunHost = {
    ...base.host,
    write: outputWriter(c, names, save),
    ...(c.signal ? { signal: c.signal } : {}),
    onEvent: eventPrinter(io, c),
  };
  const result = await runPrepared(c.prepared, host);
  await printSummary(io, c, result, async () => (c.report ? save(c.report, reportText(c, result)) : null));
  return exitStatus(io, c, result, base.loadedNames(), rescued);
}

/** What every CLI run mode shares of its host: the Node backend, files relative to the document, the weights. */
export async function nodeRunHost(
  io: Io,
  c: RunCommand,
): Promise<{ host: RunHost; loadedNames: () => ReadonlySet<string> }> {
  const { tf, startNodeBackend } = await import('../node/node-tf');
  const access = documentAccess(c.file, c.sources);
  let loadedNames = new Set<string>();
  const host: RunHost = {
    tf,
    readImage: access.decode,
    listImages: access.listImages,
    readModel: (s) => loadTfjsModelFrom(tf, s, access.access),
    startBackend: startNodeBackend,
    readWeights: async () => {
      const loaded = await loadRunWeights(io, tf, c);
      loadedNames = new Set(loaded.map((l) => l.name));
      return checkpointStore(loaded);
    },
  };
  return { host, loadedNames: () => loadedNames };
}

/** The random-weights line (said last, where it is seen) and the exit status of a finished session. */
export function exitStatus(
  io: Io,
  c: RunCommand,
  result: SessionResult,
  loadedNames: ReadonlySet<string>,
  rescued = false,
): number {
  const first = result.runs[0];
  // Not after a failure, whose message matters more.
  const randomLine =
    first && result.status !== 'failed' && result.status !== 'invalid'
      ? randomWeightsWarning(c, first, loadedNames)
      : null;
  if (randomLine) io.err(randomLine);

  switch (result.status) {
    case 'done':
      if (first?.converged) io.err(`optimiser stopped early: ${first.converged}`);
      return rescued ? 1 : 0;
    case 'invalid':
      if (!result.diagnostics.length && result.error) io.err(`stylegraph: ${result.error}`);
      return 2;
    case 'cancelled':
      io.err('stylegraph: stopped');
      return 130;
    case 'failed':
      io.err(`stylegraph: run failed: ${result.error}`);
      return 1;
  }
}

/**
 * One line when any network ran on random weights: which, on which nodes, and how to get them (the CLI's last
 * line, so it is not lost above the progress). Null when every network had its checkpoint.
 */
export function randomWeightsWarning(
  c: Pick<RunCommand, 'file' | 'model' | 'registry'>,
  run: RunReport,
  loaded: ReadonlySet<string>,
): string | null {
  const randomNodes = new Set(run.weights.filter((w) => /\brandom \(seed/.test(w.weights)).flatMap((w) => w.nodes));
  const missing = new Map<string, string[]>();
  for (const u of checkpointUses(c.model, c.registry))
    if (randomNodes.has(u.nodeId) && !loaded.has(u.name))
      missing.set(u.name, [...(missing.get(u.name) ?? []), u.nodeId]);
  if (!missing.size) return null;
  const names = [...missing].map(([name, nodes]) => `${name} (${nodes.join(', ')})`).join(', ');
  const unknown = [...missing.keys()].filter((n) => !manifestEntry(n));
  const fetchable = missing.size > unknown.length;
  return (
    `warning: random weights for ${names}, so this is not the trained network's picture; ` +
    [
      fetchable
        ? `get ${unknown.length ? 'the known ones' : missing.size > 1 ? 'them' : 'it'} with: stylegraph weights fetch --for ${c.file}`
        : '',
      unknown.length ? `load ${unknown.map((n) => `--weights ${n}=PATH`).join(' ')}` : '',
    ]
      .filter(Boolean)
      .join('; ')
  );
}

/** The report file: the run's report for a single run; the cells or items with a summary for a sweep or a batch. */
function reportText(c: RunCommand, r: SessionResult): string {
  const head = { graph: c.file, backend: r.backend, size: c.request.size, reused: r.reused.hits };
  const body = c.request.sweep
    ? { ...head, cells: r.runs }
    : c.request.batch
      ? {
          ...head,
          seconds: r.seconds,
          perImage: r.seconds / Math.max(1, r.runs.length),
          items: r.runs.map((x) => ({ image: basename(x.item ?? ''), out: x.outputs[0] ?? '', ...x })),
        }
      : { graph: c.file, ...(r.runs[0] ?? { status: r.status, error: r.error }) };
  return JSON.stringify(body, null, 2) + '\n';
}

/**
 * The checkpoints a run (or a plan) of this graph uses: those given with --weights, then every other network the
 * graph names from the cache where `weights fetch` (or an earlier run) put it. Each is named on stderr.
 */
export async function loadRunWeights(
  io: Io,
  tf: TF,
  c: Pick<RunCommand, 'weights' | 'settings' | 'model' | 'registry'>,
): Promise<LoadedCheckpoint[]> {
  const loaded: LoadedCheckpoint[] = [];
  const read = async (spec: WeightsSpec, how: string) => {
    let ckpt: LoadedCheckpoint;
    try {
      ckpt = await loadWeights(tf, spec, io.cwd, c.settings, { io, onProgress: downloadProgress(io, spec.name) });
    } catch (e) {
      throw new Error(`cannot load weights "${spec.name}"${how}: ${(e as Error).message}`);
    }
    loaded.push(ckpt);
    io.err(`weights ${spec.name}: ${ckpt.tensors.size} tensors from ${ckpt.source}${how}${widthNote(ckpt.tensors)}`);
  };
  for (const spec of c.weights) await read(spec, '');
  const given = new Set(c.weights.map((w) => w.name));
  for (const name of graphCheckpoints(c.model, c.registry)) {
    const entry = given.has(name) ? undefined : manifestEntry(name);
    const path = entry ? await cachedWeights(entry, c.settings) : null;
    if (path) await read({ name, source: path }, ' (cached)');
  }
  return loaded;
}
