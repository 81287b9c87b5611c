/**
 * `run`, `plan` and `submit` from the command line: the graph file read with the packs loaded, the run options
 * parsed, the user's images applied, then the command's own host (run-command.ts, video-command.ts,
 * plan-command.ts, queue/commands.ts).
 */
import { stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { nodeSource } from '../../graph/edit';
import { tileableSettings } from '../../graph/tileable';
import type { GraphModel } from '../../graph/model';
import type { NodeRegistry } from '../../plugin/registry';
import { MAX_SIZE, MIN_SIZE } from '../../compiler/compile';
import { MAX_STEPS, parseRunRequest, prepareRun, type PreparedRun, type RunRequest } from '../../runtime/request';
import { int, parseBackend, parseThreads, parseTiling, parseWeightSpecs } from '../args';
import {
  loadPacks,
  queueName,
  redisUrl,
  weightsSettings,
  withSigint,
  type CommandContext,
  type Loaded,
} from '../context';
import { batchSources } from '../files';
import { UsageError } from '../io';
import type { WeightsSpec } from '../node/node-weights';
import type { Flags } from '../usage';
import { isVideoOutput, isVideoPath } from '../video/video';
import { closestName, graphCheckpoints } from '../weights/weights-fetch';
import { applyOverrides, flagProblem } from './overrides';
import { jobRequest } from '../queue/jobs';
import { planCommand } from './plan-command';
import { readGraph } from './read-graph';
import { runCommand } from './run-command';

/** The run options of the command line: a RunRequest (checked once, by the request's own rules) and the weights. */
export interface RunFlags {
  request: RunRequest;
  weights: WeightsSpec[];
}

export function runFlags(v: Flags): RunFlags {
  return { request: requestFromFlags(v), weights: parseWeightSpecs(v.weights) };
}

/**
 * The RunRequest the options ask for: the CLI parses the text of its options, and the request's rules (size, scales,
 * steps per scale, modes: src/runtime/request.ts) decide the rest; `more` adds what the command line finds out
 * (a batch's photos, the sweep, a video's frames, the pictures given with --content and --style).
 */
export function requestFromFlags(v: Flags, more: Partial<RunRequest> = {}): RunRequest {
  const steps = v.steps?.includes(',')
    ? v.steps.split(',').map((x) => int('steps', x.trim(), 0, MAX_STEPS)!)
    : int('steps', v.steps, 0, MAX_STEPS);
  const scales = v.scales?.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
  const tiling = parseTiling(v.tile, v['memory-limit']);
  const backend = parseBackend(v.backend);
  const threads = parseThreads(v.threads);
  const winograd = v.winograd;
  const style = styleSizeFlags(v);
  const parsed = parseRunRequest({
    size: int('size', v.size, MIN_SIZE, MAX_SIZE) ?? 256,
    seed: int('seed', v.seed, 0, 2 ** 31) ?? 0,
    ...(steps !== undefined ? { steps } : {}),
    ...(scales && scales.length > 1 ? { scales } : scales?.[0] !== 1 && scales ? { scales } : {}),
    ...(tiling !== undefined ? { tiling } : {}),
    ...(backend ? { backend } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(winograd !== undefined ? { winograd } : {}),
    ...(v.set?.length ? { set: v.set } : {}),
    ...style,
    ...more,
  });
  if (parsed.problems)
    throw new UsageError(parsed.problems.map((p) => flagProblem({ ...p, path: `$.${p.path}` })).join('\n'));
  return parsed.request;
}

/** `--style-size PX` and `--style-scale F`: the style pictures sized apart from the output (one of the two). */
export function styleSizeFlags(v: Flags): Pick<RunRequest, 'styleSize' | 'styleScale'> {
  const styleSize = int('style-size', v['style-size'], 1, MAX_SIZE);
  const raw = v['style-scale'];
  const styleScale = raw === undefined ? undefined : raw.trim() === '' ? NaN : Number(raw);
  if (styleScale !== undefined && !(styleScale > 0 && styleScale <= 8))
    throw new UsageError(`--style-scale must be a number above 0 and at most 8, got "${raw}"`);
  if (styleSize !== undefined && styleScale !== undefined)
    throw new UsageError('--style-size and --style-scale: give one of the two');
  return {
    ...(styleSize !== undefined ? { styleSize } : {}),
    ...(styleScale !== undefined ? { styleScale } : {}),
  };
}

/** A graph command's input: the packs, the graph file and its model, the run options. */
export interface GraphInput extends Loaded {
  file: string;
  model: GraphModel;
  run: RunFlags;
}

/** Reads the command's graph file with the packs loaded; 2 when it cannot be read, else what `body` returns. */
export async function withGraph(
  c: CommandContext,
  body: (c: CommandContext, g: GraphInput) => Promise<number>,
): Promise<number> {
  const loaded = await loadPacks(c);
  const file = c.file!;
  const doc = await readGraph(file, loaded.registry, c.io);
  if (!doc.model) return 2;
  return body(c, { ...loaded, file, model: doc.model, run: runFlags(c.flags) });
}

/** `submit`: one job per content x style (x sweep cell) on the queue, each carrying the run's RunRequest. */
export async function submitFromCommandLine(c: CommandContext, g: GraphInput): Promise<number> {
  const v = c.flags;
  if (v.mask?.length)
    throw new UsageError(
      '--mask is for run and plan; for submit, give a region its picture with --set NODE_ID.source=IMG (or paint it in the editor)',
    );
  // The values are applied once, here: each job carries the graph with them, and what decides its picture.
  const request = jobRequest(g.run.request);
  const { set } = withTileable(v, g);
  const { model, errors } = applyOverrides(g.model, g.registry, { set, ...styleSizeFlags(v) }, c.io.cwd);
  if (errors.length) throw new UsageError(errors.join('\n'));
  const sources = { given: givenSources(model, { set: v.set }, c.io.cwd), remote: g.remote };
  const { submitCommand } = await import('../queue/commands');
  return withSigint(c.signal, (s) =>
    submitCommand(c.io, {
      file: g.file,
      model,
      registry: g.registry,
      redis: redisUrl(c),
      queue: queueName(c),
      content: v.content ?? [],
      style: v.style ?? [],
      sweep: v.sweep ?? false,
      out: v.out ?? `${basename(g.file, extname(g.file))}-queue`,
      request,
      detach: v.detach ?? false,
      signal: s,
      sources,
      ...(v.overwrite ? { overwrite: true } : {}),
    }),
  );
}

/** `--tileable`: the flags with `NODE.padding=circular` added to `--set` for every network that can pad so. */
function withTileable(v: Flags, g: GraphInput): Flags {
  if (!v.tileable) return v;
  const settings = tileableSettings(g.model, g.registry);
  if (!settings.length) throw new UsageError('--tileable: no network in this graph can pad circularly');
  return { ...v, set: [...settings, ...(v.set ?? [])] };
}

/** `--mask NAME=IMG` (repeatable): the painted regions' pictures by name, the paths resolved; undefined if none. */
export function maskFlags(flags: readonly string[] | undefined, cwd: string): Record<string, string> | undefined {
  if (!flags?.length) return undefined;
  const masks: Record<string, string> = {};
  for (const f of flags) {
    const m = /^([^=]+)=(.+)$/s.exec(f);
    if (!m) throw new UsageError(`--mask ${f}: expected NAME=IMG, the painted region's name and a grey picture`);
    if (m[1]! in masks) throw new UsageError(`--mask ${m[1]}: given twice`);
    masks[m[1]!] = resolve(cwd, m[2]!);
  }
  return masks;
}

/** A local run: its request checked against the graph (prepareRun), and where its pictures come from. */
interface LocalRun {
  prepared: PreparedRun;
  /** What the user gave on the command line: read wherever it is (the document's own sources stay in its folder). */
  given: string[];
  /** `--content CLIP.mp4` (or `--out OUT.mp4`): the video to run frame by frame. */
  video: string | undefined;
}

async function localRun(c: CommandContext, g: GraphInput): Promise<LocalRun> {
  const v = c.flags;
  if ((v.content?.length ?? 0) > 1)
    throw new UsageError(`${c.command} takes one --content (an image, or a folder for a batch); submit takes several`);
  const content = v.content?.[0];
  // --content clip.mp4 (or --out styled.mp4) runs the graph on every frame of a video (video-command.ts).
  const video =
    c.command === 'run' &&
    content !== undefined &&
    (isVideoPath(content) || (v.out !== undefined && isVideoOutput(v.out)))
      ? content
      : undefined;
  const videoOnly = (['ffmpeg', 'frames', 'fps', 'blend', 'warm-start', 'flow'] as const).filter(
    (o) => v[o] !== undefined,
  );
  if (!video && videoOnly.length)
    throw new UsageError(`--${videoOnly[0]} is for a video: give one with --content CLIP.mp4`);
  // --content FOLDER runs the graph over every photo in it (a batch).
  const contentFolder =
    !video && content !== undefined && (await stat(resolve(c.io.cwd, content)).catch(() => null))?.isDirectory()
      ? resolve(c.io.cwd, content)
      : undefined;
  const image = contentFolder || video ? undefined : content;
  const batch = c.command === 'run' && contentFolder ? await batchSources(contentFolder) : undefined;
  if (batch && !batch.length) throw new UsageError(`--content ${content}: the folder has no .jpg or .png images`);
  const masks = maskFlags(v.mask, c.io.cwd);
  const inputs = {
    ...(image !== undefined ? { content: resolve(c.io.cwd, image) } : {}),
    ...(v.style?.length ? { style: v.style.map((s) => resolve(c.io.cwd, s)) } : {}),
    ...(masks ? { masks } : {}),
  };
  const request = requestFromFlags(withTileable(v, g), {
    ...(Object.keys(inputs).length ? { inputs } : {}),
    ...(c.command === 'run' && g.model.metadata.sweep !== undefined ? { sweep: true } : {}),
    ...(batch ? { batch } : {}),
    ...(video ? { frames: v['warm-start'] ? { warmStart: true } : {} } : {}),
  });
  const checked = prepareRun(g.model, g.registry, request, { frames: video !== undefined });
  if (checked.problems) throw new UsageError(checked.problems.map((d) => flagProblem(d, v.set)).join('\n'));
  const { model } = checked.run;
  const uploads = uploadReferences(model, g.registry);
  if (uploads.length) throw new UsageError(uploads.join('\n'));
  const given = [
    ...givenSources(model, { content: image, style: v.style, set: v.set }, c.io.cwd),
    ...Object.values(masks ?? {}),
    ...(batch ?? []),
  ];
  return { prepared: checked.run, given, video };
}

/** `plan`: what a run would compute. */
export async function planFromCommandLine(c: CommandContext, g: GraphInput): Promise<number> {
  const { prepared, given } = await localRun(c, g);
  const { model, request } = prepared;
  return planCommand(c.io, {
    file: g.file,
    model,
    registry: g.registry,
    size: request.size,
    backend: request.backend,
    tiling: request.tiling,
    threads: request.threads,
    sources: { given, remote: g.remote },
    weights: { weights: g.run.weights, settings: await weightsSettings(c), model, registry: g.registry },
  });
}

/** `run`: one picture, coarse to fine, a sweep, a batch over a folder, or a video. */
export async function runFromCommandLine(c: CommandContext, g: GraphInput): Promise<number> {
  const { prepared, given, video } = await localRun(c, g);
  const { model, request } = prepared;
  const { weights } = g.run;
  const unused = unusedWeights(weights, graphCheckpoints(model, g.registry), g.file);
  if (unused) throw new UsageError(unused);
  const settings = await weightsSettings(c);
  const sources = { given, remote: g.remote };
  const run = {
    file: g.file,
    model,
    registry: g.registry,
    request,
    prepared,
    weights,
    settings,
    report: c.flags.report,
    sources,
  };
  if (video) {
    const { videoOptions, videoCommand } = await import('../video/video-command');
    const options = videoOptions(video, c.flags, basename(g.file, extname(g.file)));
    return withSigint(c.signal, (s) => videoCommand(c.io, { ...run, signal: s }, options));
  }
  return withSigint(c.signal, (s) => runCommand(c.io, { ...run, out: c.flags.out, signal: s }));
}

/**
 * The sources the user gave on the command line (--content, --style, and every --set value: an image, a model, a
 * training folder), as they appear in the model after the overrides. They are the user's own and are read
 * wherever they are; the document's own sources stay in its folder.
 */
export function givenSources(
  model: GraphModel,
  o: { content?: string | undefined; style?: string[] | undefined; set?: string[] | undefined },
  cwd: string,
): string[] {
  const out: string[] = [];
  if (o.content !== undefined) out.push(resolve(cwd, o.content));
  for (const s of o.style ?? []) out.push(resolve(cwd, s));
  // Any --set value may name a file or folder (an image, a model, a training folder): all are the user's.
  for (const a of o.set ?? []) {
    const m = /^([^.=]+)\.([^=]+)=/s.exec(a);
    const value = m ? model.nodes.find((n) => n.id === m[1])?.params[m[2]!] : undefined;
    if (typeof value === 'string') out.push(value);
  }
  return out;
}

/**
 * Every `--weights NAME=...` must be used by some node (a misnamed checkpoint would leave its network on random
 * weights without a word): the message names the names the graph uses and the closest one.
 */
export function unusedWeights(specs: WeightsSpec[], used: string[], file: string): string | null {
  const problems = specs
    .filter((w) => !used.includes(w.name))
    .map((w) => {
      const near = closestName(w.name, used);
      return `--weights ${w.name}: no node of ${file} uses weights named "${w.name}"${near ? `; did you mean ${near}? (--weights ${near}=${w.source ?? '...'})` : ''}`;
    });
  if (!problems.length) return null;
  return `${problems.join('\n')}\n${used.length ? `${file} uses: ${used.join(', ')}` : `${file} uses no checkpoint`}`;
}

/**
 * Images dropped into the editor are referenced as `upload:<hash>/<name>`: their bytes stay in that browser. The
 * command line cannot read them; it says which node needs an image and how to give it one.
 */
export function uploadReferences(model: GraphModel, registry: NodeRegistry): string[] {
  const out: string[] = [];
  for (const node of model.nodes)
    for (const [name, p] of Object.entries(registry.get(node.type)?.params ?? {})) {
      const value = node.params[name];
      if (p.kind !== 'image' || typeof value !== 'string' || !value.startsWith('upload:')) continue;
      const slot = nodeSource(registry, node)?.slot;
      const option = slot ? `--${slot} IMAGE or ` : '';
      out.push(
        `node "${node.id}": its image "${value.slice(value.indexOf('/') + 1)}" was dropped into the editor in a browser, which keeps the bytes; ` +
          `it is not in the file (${value}). Give the image with ${option}--set ${node.id}.${name}=PATH, or save the graph from the editor with its images embedded`,
      );
    }
  return out;
}
