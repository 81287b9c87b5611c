import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PackHost } from '../plugin/packs';
import { missingPacks } from '../graph/packs';
import type { NodeRegistry } from '../plugin/registry';
import { configToTrust, configuredWeightsMirror, loadPlugins, trustedConfig } from './plugins';
import { documentSourceAccess, sourceProblem, type RemoteConsent } from './source-access';
import { trustConfig } from './trust';
import { closePackProcesses, packLimits, sandboxNotice } from './pack-sandbox';
import { accessDeniedMessage, sandboxLifted } from './permissions';
import { builtinRegistry } from '../../nodes';
import { checkGraph } from '../compiler/check';
import { formatPlan } from '../compiler/format';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../graph/diagnostics';
import { parseDocument, type ParseResult } from '../graph/document';
import { extractText, isPng } from '../codecs/png';
import type { GraphModel } from '../graph/model';
import { MAX_WASM_THREADS, wasmThreads, type BackendName } from '../runtime/backend';
import type { RunOptions } from '../runtime/executor';
import type { RunRequest } from '../runtime/session';
import { compileWithImages, loadGraphModels } from '../runtime/sources';
import { chooseTiling } from '../runtime/tiling';
import { applyOverrides } from './overrides';
import { loadDocumentImages, type SourceOptions } from './node-session';
import { loadTfjsModelFrom } from './node-tfjs-model';
import { UsageError, type Io } from './io';
import { batchSources, printable } from './files';
import { nodeCores } from './node-threads';
import { isVideoOutput, isVideoPath } from './video';
import { loadRunWeights, runCommand } from './run-command';
import { weightsCommand, type FetchRequest } from './weights-command';
import { defaultCacheDir } from './weights-cache';
import { closestName, graphCheckpoints, type WeightsSettings } from './weights-fetch';
import { DEFAULT_QUEUE, redisConnection } from './queue/redis';
import { checkpointStore, parseWeightsSpec, type WeightsSpec } from './node-weights';

export type { Io } from './io';

const USAGE = `usage:
  stylegraph run FILE [--content IMG|FOLDER] [--style IMG ...] [--set NODE_ID.PARAM=VALUE ...] [--size PX]
                      [--steps N] [--backend webgpu|wasm|cpu] [--seed N] [--out OUT.png] [--report REPORT.json]
                      [--threads N]   wasm's threads (1-8; default: every core)
                      [--weights NAME=PATH_OR_URL ...] [--plugin PATH_OR_URL ...] [--config FILE]
                          networks without --weights use their cached checkpoint (weights fetch), else random
                      [--scales 0.25,0.5,1]   coarse to fine: optimise small, upsample, go on
                                              (--steps 200,50,10 gives each scale its own count)
                      [--tile PX|off] [--memory-limit GIB]
                          large images run on tiles of at most PX px (plus a halo) when the step would
                          need more memory than the backend holds (wasm: 3 GiB); --tile forces or stops it
  stylegraph run FILE --content CLIP.mp4 --out OUT.mp4|.webm|.mov|.mkv   a video, frame by frame (ffmpeg on PATH)
                      [--frames A..B] [--fps N] [--ffmpeg PATH]   frames A to B (from 0); the result's frame rate
                      [--blend K]       less flicker: each frame keeps K (0-0.95) of the previous output
                      [--warm-start]    optimisation graphs start each frame from the previous result
                      [--redis URL [--queue NAME]]   batches of 8 frames through the queue's workers
  stylegraph validate FILE ...            checks one or more graphs (presets/*.json): everything plan
                                          and run check before reading an image
  stylegraph plan FILE [--size PX] [--set ...] [--steps N] [--threads N]
  stylegraph weights fetch NAME ... | --for GRAPH
                                         downloads checkpoints (every one GRAPH's nodes name) into the cache
                                         that run reads them from: resumed if cut off, checked against their hash
  stylegraph weights list, weights clear  the download cache ($STYLEGRAPH_CACHE or ~/.cache/stylegraph/weights)
  stylegraph weights known               the checkpoints in the manifest, and which are cached
  Downloads come from STYLEGRAPH_WEIGHTS_MIRROR, or "weightsMirror" in stylegraph.config.json, where set
  (the same file names under another base URL).

  A queue of workers on Redis (BullMQ), on one machine or many:
  stylegraph worker --redis URL [--concurrency N] [--backend webgpu|wasm|cpu] [--threads N] [--queue NAME] [--weights ...]
                    [--lock-seconds S]   takes jobs until SIGTERM (then finishes the job in hand)
                    [--out-root DIR ...]  writes pictures only inside these folders (default: the folder it starts in)
                    [--max-job-mb N]     refuses job payloads over N MiB unread (default 64)
  stylegraph submit FILE --redis URL [--content IMG|FOLDER ...] [--style IMG|FOLDER ...] [--sweep]
                    [--out DIR] [--size PX] [--steps N] [--seed N] [--set ...] [--detach] [--queue NAME] [--overwrite]
                         one job per content x style (x sweep cell); waits for all unless --detach
  stylegraph status BATCH_ID --redis URL [--queue NAME]

  --plugin loads a node pack (also listed in stylegraph.config.json as { "plugins": [...] }; --verbose names
  every pack loaded). Each pack runs in a process of its own that computes on tensors and nothing else: no files,
  network, programs, signals or environment; 2048 MiB, 120 s a call ([--no-sandbox-packs] lifts it).
  A config's packs and "remoteHosts" are used only once you trust the file:
  stylegraph trust [CONFIG]              records the config's path and hash (a changed file is asked again)
  A document reads only files in its own folder; images you give (--content, --style, --set) are read anywhere.
  [--allow-remote]            lets a document's http(s) sources be fetched (else only hosts a trusted config lists)
  [--allow-private-network]   also from loopback, private and link-local addresses (127/8, 10/8, 169.254/16...)
  FILE is a graph document (presets/gatys.json). Without --out, results go to ./stylegraph-out/.
  Exit status: 0 done, 1 the run failed, 2 bad input (file, graph, option), 130 stopped.`;

const nodeIo: Io = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
  isTTY: Boolean(process.stderr.isTTY),
  cwd: process.cwd(),
};

export async function main(argv: string[], raw: Io = nodeIo, signal?: AbortSignal): Promise<number> {
  // Text from files (checkpoint keys, document strings, paths) can carry terminal escapes: every line is printed escaped.
  const io: Io = { ...raw, out: (l) => raw.out(printable(l)), err: (l) => raw.err(printable(l)) };
  try {
    return await dispatch(argv, io, signal);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`stylegraph: ${e.message}`);
      return e.status;
    }
    // A pack that broke its sandbox's limits, met outside a run (a shape question while the graph is read).
    if (e instanceof Error && (e as { badInput?: unknown }).badInput === true) {
      io.err(`stylegraph: ${e.message}`);
      return 2;
    }
    io.err(`stylegraph: ${accessDeniedMessage(e) ?? (e instanceof Error ? (e.stack ?? e.message) : String(e))}`);
    return 1;
  } finally {
    closePackProcesses();
  }
}

async function dispatch(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        content: { type: 'string', multiple: true },
        redis: { type: 'string' },
        queue: { type: 'string' },
        concurrency: { type: 'string' },
        'lock-seconds': { type: 'string' },
        'out-root': { type: 'string', multiple: true },
        'max-job-mb': { type: 'string' },
        overwrite: { type: 'boolean' },
        sweep: { type: 'boolean' },
        detach: { type: 'boolean' },
        style: { type: 'string', multiple: true },
        set: { type: 'string', multiple: true },
        size: { type: 'string' },
        steps: { type: 'string' },
        backend: { type: 'string' },
        threads: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        report: { type: 'string' },
        weights: { type: 'string', multiple: true },
        plugin: { type: 'string', multiple: true },
        scales: { type: 'string' },
        tile: { type: 'string' },
        'memory-limit': { type: 'string' },
        config: { type: 'string' },
        for: { type: 'string', multiple: true },
        verbose: { type: 'boolean' },
        'allow-remote': { type: 'boolean' },
        'allow-private-network': { type: 'boolean' },
        ffmpeg: { type: 'string' },
        frames: { type: 'string' },
        fps: { type: 'string' },
        blend: { type: 'string' },
        'warm-start': { type: 'boolean' },
        'no-sandbox-packs': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${USAGE}`);
  }
  const { values: v, positionals } = parsed;
  const [command, file, ...rest] = positionals;
  if (v.help || !command) {
    io.out(USAGE);
    return v.help ? 0 : 2;
  }
  const weightsSettings = async (): Promise<WeightsSettings> => ({
    dir: defaultCacheDir(),
    mirror: await configuredWeightsMirror(io.cwd, v.config, process.env, (l) => io.err(l)).catch((e: Error) => {
      throw new UsageError(e.message);
    }),
  });
  if (command === 'weights' && file !== 'fetch') {
    if (rest.length || v.for)
      throw new UsageError(
        `weights ${file ?? ''}: unexpected ${rest.length ? `argument "${rest[0]}"` : '--for'} (only weights fetch takes names or --for GRAPH)`,
      );
    return weightsCommand(file, io, await weightsSettings());
  }
  const queueName = v.queue ?? DEFAULT_QUEUE;
  const redis = () => {
    if (!v.redis) throw new UsageError(`${command} needs --redis URL, e.g. --redis redis://127.0.0.1:6379`);
    try {
      redisConnection(v.redis);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    return v.redis;
  };
  if (command === 'trust') {
    // Trusting is the user's act on a file they have read: nothing of the config runs here.
    if (rest.length) throw new UsageError(`trust takes one config file, got "${rest[0]}" too`);
    const path = await configToTrust(io.cwd, file ?? v.config).catch((e: Error) => {
      throw new UsageError(e.message);
    });
    const t = await trustConfig(path).catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(e.code === 'ENOENT' ? `no such file: ${path}` : `cannot trust ${path}: ${e.message}`);
    });
    io.err(
      `trusted ${t.path} (sha256 ${t.hash.slice(0, 16)}...), recorded in ${t.file}; its packs and remote hosts are used until it changes`,
    );
    return 0;
  }
  if (command === 'status') {
    if (!file) throw new UsageError('status needs a batch id (submit --detach prints it)');
    const { statusCommand } = await import('./queue/commands');
    return statusCommand(io, { redis: redis(), queue: queueName, batch: file });
  }
  if (!['run', 'validate', 'plan', 'worker', 'submit', 'weights', 'trust'].includes(command))
    throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  if (command === 'worker' && file)
    throw new UsageError(`unexpected argument "${file}": a worker takes its graphs from the queue`);
  if (command !== 'worker' && !file)
    throw new UsageError(`${command} needs a graph file, e.g. stylegraph ${command} presets/gatys.json`);
  if (rest.length && command !== 'validate' && command !== 'weights')
    throw new UsageError(`unexpected argument "${rest[0]}" (images go after --content or --style)`);

  const registry = builtinRegistry();
  const packs = new PackHost(registry);
  const config = await trustedConfig(io.cwd, v.config).catch((e: Error) => {
    throw new UsageError(e.message);
  });
  const plugins = [...config.plugins, ...(v.plugin ?? [])];
  const remote: RemoteConsent = {
    any: Boolean(v['allow-remote']),
    hosts: config.remoteHosts,
    privateNetwork: Boolean(v['allow-private-network']),
  };
  // Packs the user named (not those of stylegraph's own project) run in processes of their own (pack-sandbox.ts).
  const userPacks = new Set([...(config.ownPlugins ? [] : config.plugins), ...(v.plugin ?? [])]);
  const sandboxed = (spec: string) => userPacks.has(spec) && !sandboxLifted(v['no-sandbox-packs']);
  for (const n of config.notices) io.err(n);
  const given = new Set(v.plugin ?? []);
  if (plugins.some(sandboxed)) io.err(sandboxNotice(packLimits()));
  await loadPlugins(plugins, packs, io, (spec) => Boolean(v.verbose) || given.has(spec), sandboxed);
  if (command === 'worker')
    return worker(io, v, registry, redis(), queueName, signal, (await weightsSettings()).mirror);
  if (!file) throw new UsageError(`${command} needs a graph file`);
  if (command === 'weights') {
    // weights fetch NAME... --for GRAPH ...: the graphs are read with the packs loaded (a pack's nodes may name checkpoints).
    const graphs: FetchRequest['graphs'] = [];
    for (const f of v.for ?? []) {
      const doc = await readGraph(f, registry, io);
      if (!doc.model) return 2;
      graphs.push({ file: f, names: graphCheckpoints(doc.model, registry) });
    }
    return weightsCommand('fetch', io, await weightsSettings(), { names: rest, graphs });
  }

  if (command === 'validate') {
    // Several files at once (presets/*.json): each is reported; the exit status is the worst.
    let status = 0;
    for (const f of [file, ...rest]) {
      const doc = await readGraph(f, registry, io).catch((e: unknown) => {
        if (e instanceof UsageError) io.err(`stylegraph: ${e.message}`);
        else throw e;
        return null;
      });
      if (!doc?.model) {
        status = 2;
        continue;
      }
      const ds = [...checkGraph(doc.model, registry).diagnostics, ...sourceProblems(doc.model, registry, f, remote)];
      report(io, f, ds);
      if (hasErrors([...doc.diagnostics, ...ds])) status = 2;
      else io.out(`${f}: valid (${doc.model.nodes.length} nodes, ${doc.model.edges.length} edges)`);
    }
    return status;
  }
  const parsedDoc = await readGraph(file, registry, io);
  if (!parsedDoc.model) return 2;

  const size = int('size', v.size, 8, 4096) ?? 256;
  const scales = parseScales(v.scales);
  // One count for every scale, or one per scale.
  const stepList = v.steps?.includes(',') ? v.steps.split(',').map((x) => int('steps', x.trim(), 0, 100000)!) : null;
  if (stepList && stepList.length !== scales.length)
    throw new UsageError(`--steps ${v.steps} has ${stepList.length} counts but --scales has ${scales.length} scales`);
  const steps = stepList ? stepList.at(-1) : int('steps', v.steps, 0, 100000);
  const tiling = parseTiling(v.tile, v['memory-limit']);
  const seed = int('seed', v.seed, 0, 2 ** 31) ?? 0;
  const backend = parseBackend(v.backend);
  const threads = parseThreads(v.threads);

  const weightSpecs = (v.weights ?? []).map(parseWeightsSpec);
  const badSpec = weightSpecs.find((w) => 'error' in w);
  if (badSpec && 'error' in badSpec) throw new UsageError(badSpec.error);

  if (command === 'submit') {
    const { model, errors } = applyOverrides(parsedDoc.model, registry, { set: v.set }, io.cwd);
    if (errors.length) throw new UsageError(errors.join('\n'));
    const sources = { given: givenSources(model, { set: v.set }, io.cwd), remote };
    const { submitCommand } = await import('./queue/commands');
    return withSigint(signal, (s) =>
      submitCommand(io, {
        file,
        model,
        registry,
        redis: redis(),
        queue: queueName,
        content: v.content ?? [],
        style: v.style ?? [],
        sweep: v.sweep ?? false,
        out: v.out ?? `${basename(file, extname(file))}-queue`,
        size,
        seed,
        ...(steps !== undefined ? { steps } : {}),
        detach: v.detach ?? false,
        signal: s,
        sources,
        ...(v.overwrite ? { overwrite: true } : {}),
      }),
    );
  }
  if ((v.content?.length ?? 0) > 1)
    throw new UsageError(`${command} takes one --content (an image, or a folder for a batch); submit takes several`);
  const content = v.content?.[0];
  // --content clip.mp4 (or --out styled.mp4) runs the graph on every frame of a video (video-command.ts).
  const video =
    command === 'run' &&
    content !== undefined &&
    (isVideoPath(content) || (v.out !== undefined && isVideoOutput(v.out)))
      ? content
      : undefined;
  const videoOnly = (['ffmpeg', 'frames', 'fps', 'blend', 'warm-start'] as const).filter((o) => v[o] !== undefined);
  if (!video && videoOnly.length)
    throw new UsageError(`--${videoOnly[0]} is for a video: give one with --content CLIP.mp4`);
  // --content FOLDER runs the graph over every photo in it (a batch).
  const contentFolder =
    !video && content !== undefined && (await stat(resolve(io.cwd, content)).catch(() => null))?.isDirectory()
      ? resolve(io.cwd, content)
      : undefined;
  const { model, errors } = applyOverrides(
    parsedDoc.model,
    registry,
    { content: contentFolder || video ? undefined : content, style: v.style, set: v.set, steps },
    io.cwd,
  );
  if (errors.length) throw new UsageError(errors.join('\n'));

  const uploads = uploadReferences(model, registry);
  if (uploads.length) throw new UsageError(uploads.join('\n'));
  // What the user gave on the command line is read wherever it is; the document's own sources stay in its folder.
  const givenHere = givenSources(
    model,
    { content: contentFolder || video ? undefined : content, style: v.style, set: v.set },
    io.cwd,
  );
  if (command === 'plan') {
    const weights = weightSpecs as WeightsSpec[];
    return planCommand(
      io,
      file,
      model,
      registry,
      size,
      backend,
      tiling,
      { given: givenHere, remote },
      { weights, settings: await weightsSettings(), model, registry },
      threads,
    );
  }

  const batch = contentFolder ? await batchSources(contentFolder) : undefined;
  if (batch && !batch.length) throw new UsageError(`--content ${v.content}: the folder has no .jpg or .png images`);
  for (const b of batch ?? []) givenHere.push(b);
  const request: RunRequest = {
    size,
    seed,
    ...(stepList ? { steps: stepList } : {}),
    ...(scales.length > 1 ? { scales } : {}),
    ...(model.metadata.sweep !== undefined ? { sweep: true } : {}),
    ...(batch ? { batch } : {}),
    ...(tiling !== undefined ? { tiling } : {}),
    ...(backend ? { backend } : {}),
    ...(threads !== undefined ? { threads } : {}),
  };
  const weights = weightSpecs as WeightsSpec[];
  const unused = unusedWeights(weights, graphCheckpoints(model, registry), file);
  if (unused) throw new UsageError(unused);
  const settings = await weightsSettings();
  if (video) {
    const { videoOptions, videoCommand } = await import('./video-command');
    const options = videoOptions(video, v, basename(file, extname(file)));
    return withSigint(signal, (s) =>
      videoCommand(
        io,
        {
          file,
          model,
          registry,
          request,
          weights,
          settings,
          report: v.report,
          signal: s,
          sources: { given: givenHere, remote },
        },
        options,
      ),
    );
  }
  return withSigint(signal, (s) =>
    runCommand(io, {
      file,
      model,
      registry,
      request,
      weights,
      settings,
      out: v.out,
      report: v.report,
      signal: s,
      sources: { given: givenHere, remote },
    }),
  );
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

/** `validate`: the sources a run would refuse (outside the document's folder, remote without consent), as errors. */
function sourceProblems(model: GraphModel, registry: NodeRegistry, file: string, remote: RemoteConsent): Diagnostic[] {
  const access = documentSourceAccess(dirname(file), { remote });
  const out: Diagnostic[] = [];
  for (const [i, n] of model.nodes.entries())
    for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
      if (p.kind !== 'image' && p.kind !== 'model') continue;
      const value = n.params[name] ?? p.default;
      const problem = typeof value === 'string' ? sourceProblem(value, access) : null;
      if (problem)
        out.push({
          severity: 'error',
          code: 'source',
          nodeId: n.id,
          path: `$.nodes[${i}].params.${name}`,
          message: `node "${n.id}": ${problem}`,
        });
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
      const slot = node.params.slot;
      const option = slot === 'content' || slot === 'style' ? `--${slot} IMAGE or ` : '';
      out.push(
        `node "${node.id}": its image "${value.slice(value.indexOf('/') + 1)}" was dropped into the editor in a browser, which keeps the bytes; ` +
          `it is not in the file (${value}). Give the image with ${option}--set ${node.id}.${name}=PATH, or save the graph from the editor with its images embedded`,
      );
    }
  return out;
}

/** Runs `body` with a signal that Ctrl+C (or the caller's signal) aborts. */
async function withSigint<T>(signal: AbortSignal | undefined, body: (s: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  signal?.addEventListener('abort', () => controller.abort());
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `stylegraph worker`: until SIGTERM or SIGINT (or the caller's signal), then drains. */
async function worker(
  io: Io,
  v: {
    concurrency?: string;
    backend?: string;
    threads?: string;
    weights?: string[];
    'lock-seconds'?: string;
    'out-root'?: string[];
    'max-job-mb'?: string;
  },
  registry: NodeRegistry,
  redis: string,
  queue: string,
  signal: AbortSignal | undefined,
  mirror: WeightsSettings['mirror'],
): Promise<number> {
  const concurrency = int('concurrency', v.concurrency, 1, 64) ?? 1;
  const lockSeconds = v['lock-seconds'] === undefined ? 30 : Number(v['lock-seconds']);
  if (!(lockSeconds >= 1 && lockSeconds <= 3600))
    throw new UsageError(`--lock-seconds must be from 1 to 3600, got "${v['lock-seconds']}"`);
  const backend = parseBackend(v.backend);
  // A job's picture goes only into these folders (an absolute path inside one), as --out's folder for a run.
  const outRoots = (v['out-root'] ?? [io.cwd]).map((r) => resolve(io.cwd, r));
  for (const r of outRoots)
    if (
      !(await stat(r).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
      throw new UsageError(`--out-root ${r}: not a folder`);
  const maxJobMb = int('max-job-mb', v['max-job-mb'], 1, 1024) ?? 64;
  const specs = (v.weights ?? []).map(parseWeightsSpec);
  const bad = specs.find((w) => 'error' in w);
  if (bad && 'error' in bad) throw new UsageError(bad.error);
  const stop = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
    signal?.addEventListener('abort', () => resolve());
  });
  const { workerCommand } = await import('./queue/worker');
  const threads = parseThreads(v.threads);
  return workerCommand(io, {
    redis,
    queue,
    concurrency,
    lockSeconds,
    outRoots,
    maxJobBytes: maxJobMb * 2 ** 20,
    weights: specs as WeightsSpec[],
    mirror,
    registry,
    stop,
    ...(backend ? { backend } : {}),
    ...(threads !== undefined ? { threads } : {}),
  });
}

/** `stylegraph plan`: what a run would compute, its cost, and whether it would tile. */
async function planCommand(
  io: Io,
  file: string,
  model: GraphModel,
  registry: NodeRegistry,
  size: number,
  backend: BackendName | undefined,
  tiling: RunOptions['tiling'],
  sources: SourceOptions,
  weights: Parameters<typeof loadRunWeights>[2],
  threads?: number,
): Promise<number> {
  const { images, errors: imageErrors } = await loadDocumentImages(model, registry, file, sources);
  if (imageErrors.length) throw new UsageError(imageErrors.map((d) => d.message).join('\n'));
  const { tf } = await import('./node-tf');
  // The loaded checkpoints set the widths the plan shows (a reduced-width network computes at its own).
  const checkpoints = checkpointStore(
    await loadRunWeights(io, tf, weights).catch((e: Error) => {
      throw new UsageError(e.message);
    }),
  );
  const { models: tfjsModels, errors: modelErrors } = await loadGraphModels(model, registry, (s) =>
    loadTfjsModelFrom(tf, s, documentSourceAccess(dirname(file), sources)),
  );
  if (modelErrors.length) throw new UsageError(modelErrors.map((d) => d.message).join('\n'));
  const compiled = compileWithImages(model, registry, images, size, tfjsModels, checkpoints);
  report(io, file, compiled.diagnostics);
  if (!compiled.plan) return 2;
  io.out(formatPlan(compiled.plan));
  const tiles = chooseTiling(compiled.plan, registry, backend ?? 'wasm', tiling || {});
  if (tiling !== false && tiles)
    io.out(`on ${backend ?? 'wasm'}:        ${'warning' in tiles ? tiles.warning : tiles.message}`);
  if ((backend ?? 'wasm') === 'wasm')
    io.out(
      `wasm threads:  ${wasmThreads(threads, nodeCores())}${threads === undefined ? ' (every core; --threads N)' : ''}`,
    );
  return 0;
}

function report(io: Io, file: string, ds: Diagnostic[]): void {
  for (const d of ds) io.err(`${file}: ${formatDiagnostic(d)}`);
}

/** A graph document from a JSON file or a PNG written by StyleGraph, its parse problems reported. */
async function readGraph(file: string, registry: NodeRegistry, io: Io): Promise<ParseResult> {
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(e.code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${e.message}`);
  });
  let text = bytes.toString('utf8');
  if (isPng(bytes)) {
    // A PNG written by StyleGraph carries its graph.
    let embedded: string | null;
    try {
      embedded = extractText(bytes);
    } catch (e) {
      throw new UsageError(`${file}: ${(e as Error).message}`);
    }
    if (embedded === null) throw new UsageError(`${file} is a PNG without a StyleGraph graph in it`);
    text = embedded;
  }
  const parsed = parseDocument(text);
  report(io, file, parsed.diagnostics);
  if (parsed.model)
    for (const m of missingPacks(parsed.model, registry))
      io.err(
        `${file}: needs node pack "${m.name}" (${m.version}) for ${m.nodes.join(', ')}; load it with --plugin ${m.source ?? 'PATH_OR_URL'}`,
      );
  return parsed;
}

/** `--NAME N`: a whole number from `min` to `max`; undefined when not given. */
function int(name: string, s: string | undefined, min: number, max: number): number | undefined {
  if (s === undefined) return undefined;
  const n = s.trim() === '' ? NaN : Number(s);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${s}"`);
  return n;
}

/** `--threads`: wasm's thread count, 1 to 8 (tfjs-wasm's pthread pool); undefined: every core. */
function parseThreads(s: string | undefined): number | undefined {
  return int('threads', s, 1, MAX_WASM_THREADS);
}

/** `--backend`: one Node can start; undefined chooses (auto). */
function parseBackend(s: string | undefined): BackendName | undefined {
  if (s && !['webgpu', 'wasm', 'cpu'].includes(s))
    throw new UsageError(`--backend must be webgpu, wasm or cpu in Node, got "${s}"`);
  return (s || undefined) as BackendName | undefined;
}

/** `--tile 512` forces tiles of at most 512 px, `--tile off` never tiles; `--memory-limit 2` tiles above 2 GiB. */
export function parseTiling(tile: string | undefined, limit: string | undefined): RunOptions['tiling'] {
  if (tile === 'off') {
    if (limit !== undefined) throw new UsageError('--memory-limit has no effect with --tile off');
    return false;
  }
  const extent = tile === undefined ? undefined : Number(tile);
  if (extent !== undefined && !(Number.isInteger(extent) && extent >= 32))
    throw new UsageError(`--tile must be a size in px (32 or more) or off, got "${tile}"`);
  const gib = limit === undefined ? undefined : Number(limit);
  if (gib !== undefined && !(gib > 0)) throw new UsageError(`--memory-limit must be a number of GiB, got "${limit}"`);
  if (extent === undefined && gib === undefined) return undefined;
  return { ...(extent !== undefined ? { extent } : {}), ...(gib !== undefined ? { limit: gib * 2 ** 30 } : {}) };
}

/** `--scales 0.25,0.5,1`: increasing fractions of the size, ending at 1. */
function parseScales(text: string | undefined): number[] {
  if (text === undefined) return [1];
  const scales = text.split(',').map((x) => Number(x.trim()));
  const ok =
    scales.length > 0 &&
    scales.every((x, i) => x > 0 && x <= 1 && (i === 0 || x > scales[i - 1]!)) &&
    scales.at(-1) === 1;
  if (!ok)
    throw new UsageError(
      `--scales must be increasing fractions of the size ending at 1, e.g. 0.25,0.5,1 (got "${text}")`,
    );
  return scales;
}
