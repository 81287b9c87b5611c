import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { formatDiagnostic } from '../../graph/diagnostics';
import { fitSize, type RGBAImage } from '../../ops/image';
import { requiredCheckpoints } from '../../compiler/checkpoints';
import { FLOW_BLEND, runPrepared, type RunHost, type SessionOutput, type SessionResult } from '../../runtime/session';
import type { PreparedRun } from '../../runtime/request';
import type { DecodedImage } from '../../runtime/sources';
import { checkOutputs, imageInputs, temporaryPath, writeOrRescue } from '../files';
import { UsageError, type Io } from '../io';
import { backendLine } from '../run/outputs';
import { DEFAULT_OUT, exitStatus, nodeRunHost, type RunCommand } from '../run/run-command';
import {
  codecArgs,
  decodeFrames,
  type AudioSource,
  type DecodeStats,
  encoders,
  findVideoTools,
  frameCount,
  isVideoOutput,
  parseFrameRange,
  probeVideo,
  VIDEO_OUTPUTS,
  VideoEncoder,
  type FrameRange,
  type VideoInfo,
  type VideoTools,
} from './video';
import { blendFrames } from './video-flicker';
import { queueFrames } from './video-queue';
import { jobSources } from '../queue/commands';
import { jobRequest } from '../queue/jobs';
import { DEFAULT_QUEUE, redisConnection } from '../queue/redis';
import { checkLocalFile, documentSourceAccess } from '../security/source-access';

/**
 * `stylegraph run GRAPH --content clip.mp4 --out styled.mp4`: the video host of the run session. ffmpeg decodes
 * the clip's frames into the session one at a time (a `frames` request: the style side is computed once, from the
 * memo after the first frame), each styled frame goes straight into an encoding ffmpeg, and the source's audio is
 * copied across. The result is written under a temporary name and renamed when ffmpeg has finished.
 */

export interface VideoOptions {
  /** The clip, as given (relative to the working folder). */
  input: string;
  /** The result (.mp4, .mov, .mkv, .webm). */
  out: string;
  /** --ffmpeg PATH (ffprobe beside it); else both from PATH. */
  ffmpeg?: string;
  range?: FrameRange;
  /** --fps: the result's frame rate (frames dropped or repeated); else the source's. */
  fps?: number;
  /** --blend K: each output keeps K of the previous output (flicker remedy). */
  blend?: number;
  /** --warm-start: an optimisation graph starts each frame from the previous result. */
  warmStart?: boolean;
  /**
   * --flow: flow-guided video (Ruder et al. 2016): the previous output warped by the optical flow is the start and a
   * temporal loss of an optimisation graph, and is kept K (--blend K, default FLOW_BLEND) by a feed-forward one.
   */
  flow?: boolean;
  /** --redis URL: batches of frames go through the queue's workers (video-queue.ts). */
  redis?: string;
  queue?: string;
}

/** Frames per queue job, and jobs queued at once (results are taken in order). */
const QUEUE_BATCH = 8;
const QUEUE_IN_FLIGHT = 4;

/** The video options of `run` (main.ts parses the rest). Without --out: stylegraph-out/GRAPH.mp4. */
export function videoOptions(
  input: string,
  v: {
    out?: string | undefined;
    ffmpeg?: string | undefined;
    frames?: string | undefined;
    fps?: string | undefined;
    blend?: string | undefined;
    'warm-start'?: boolean | undefined;
    flow?: boolean | undefined;
    redis?: string | undefined;
    queue?: string | undefined;
  },
  graphName: string,
): VideoOptions {
  if (v.redis !== undefined)
    try {
      redisConnection(v.redis);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  const out = v.out ?? join(DEFAULT_OUT, `${graphName}.mp4`);
  if (!isVideoOutput(out))
    throw new UsageError(
      `--out ${out}: a video's result is a video; give a name ending in ${VIDEO_OUTPUTS.join(', ')}`,
    );
  const fps = v.fps === undefined ? undefined : Number(v.fps);
  if (fps !== undefined && !(fps > 0 && fps <= 240))
    throw new UsageError(`--fps must be a number of frames per second from 0 to 240, got "${v.fps}"`);
  if (v.flow && v.redis !== undefined)
    throw new UsageError('--flow runs in this process (each frame needs the one before); leave out --redis');
  const blend = v.blend === undefined ? undefined : Number(v.blend);
  if (blend !== undefined && !(blend >= 0 && blend <= 0.95))
    throw new UsageError(`--blend must be from 0 (no blending) to 0.95, got "${v.blend}"`);
  return {
    input,
    out,
    ...(v.ffmpeg ? { ffmpeg: v.ffmpeg } : {}),
    ...(v.frames !== undefined ? { range: parseFrameRange(v.frames) } : {}),
    ...(fps ? { fps } : {}),
    ...(blend ? { blend } : {}),
    ...(v['warm-start'] ? { warmStart: true } : {}),
    ...(v.flow ? { flow: true } : {}),
    ...(v.redis !== undefined ? { redis: v.redis, queue: v.queue ?? DEFAULT_QUEUE } : {}),
  };
}

/** A progress line per frame: frames per second (after the first, which also computes the style side) and time left. */
export function frameProgress(io: Io, total: number): (done: number) => void {
  const started = performance.now();
  let firstDone = 0;
  let lastLine = 0;
  return (done) => {
    const now = performance.now();
    if (done === 1) firstDone = now;
    const rate = done > 1 ? (done - 1) / ((now - firstDone) / 1000) : done / ((now - started) / 1000);
    const left = Math.max(0, total - done) / rate;
    const text = `frame ${done}/${total}  ${rate.toFixed(rate < 10 ? 2 : 1)} frames/s  ${left < 60 ? `${left.toFixed(0)} s` : `${(left / 60).toFixed(1)} min`} left`;
    if (io.isTTY) {
      const width = 24;
      const filled = Math.min(width, Math.round((width * done) / Math.max(1, total)));
      process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`);
      if (done >= total) process.stderr.write('\n');
      return;
    }
    // A log gets about ten lines.
    if (done === 1 || done >= total || done - lastLine >= Math.max(1, Math.floor(total / 10))) {
      lastLine = done;
      io.err(text);
    }
  };
}

/**
 * The clip, checked like every source (docs/security.md): a local regular file (never a URL, device, FIFO, socket,
 * folder or /proc file), named on the command line, so read wherever it is. Returns its real path.
 */
export async function checkVideoInput(cwd: string, graphFile: string, input: string): Promise<string> {
  if (/^[a-z][a-z0-9+.-]+:/i.test(input))
    throw new UsageError(`--content ${input}: a video is read from a local file, not an address; download it first`);
  const path = resolve(cwd, input);
  try {
    // Given on the command line: read wherever it is (the document's folder rule is for what a document names).
    // No size limit: a video may be any length (it is read a frame at a time).
    return (
      await checkLocalFile(
        path,
        documentSourceAccess(dirname(resolve(cwd, graphFile)), { given: [path] }),
        Number.POSITIVE_INFINITY,
      )
    ).real;
  } catch (e) {
    throw new UsageError((e as Error).message.replace('not an image or model file', 'not a video file'));
  }
}

/** The prepared run with --flow's request: the session blends along the flow (K from --blend, else FLOW_BLEND). */
function withFlow(p: PreparedRun, v: VideoOptions): PreparedRun {
  if (!v.flow) return p;
  return { ...p, request: { ...p.request, frames: { ...p.request.frames, flow: { blend: v.blend ?? FLOW_BLEND } } } };
}

/** Where the frames finished before Ctrl+C (or a failure) are kept: `styled.mp4` -> `styled.partial.mp4`. */
export const partialPath = (out: string): string =>
  join(dirname(out), `${basename(out, extname(out))}.partial${extname(out)}`);

/** What a video run knows before it starts: the tools, the clip, its frames and the result's size and rate. */
interface VideoSetup {
  tools: VideoTools;
  input: string;
  out: string;
  info: VideoInfo;
  audio: AudioSource | undefined;
  available: Set<string>;
  width: number;
  height: number;
  total: number;
  rate: string;
}

/** Frames per second after the first frame (which also starts the backend, loads weights and encodes the style). */
interface FrameTimes {
  start: number;
  first: number;
  last: number;
}

export async function videoCommand(io: Io, c: RunCommand, v: VideoOptions): Promise<number> {
  const setup = await videoSetup(io, c, v);
  if (typeof setup === 'number') return setup;
  const { tools, input, out, info, width, height, total } = setup;
  const base = await nodeRunHost(io, c);
  const tmp = await temporaryPath(out);
  const sink = frameSink(setup, v, tmp);
  const progress = frameProgress(io, total);
  let frameIndex = 0;
  const times: FrameTimes = { start: performance.now(), first: 0, last: 0 };
  const stats: DecodeStats = { frames: 0, errors: '' };
  const decoded = decodeFrames(tools, input, {
    width,
    height,
    rate: info.rate,
    format: info.format,
    stats,
    // No more frames than announced (the frame-rate conversion repeats frames across a gap in the timestamps); an
    // estimated count may be a frame or so short.
    maxFrames: info.counted && !v.fps ? total : total + 1 + Math.ceil(total / 100),
    ...(v.range ? { range: v.range } : {}),
    ...(v.fps ? { fps: v.fps } : {}),
  });
  const host: RunHost = {
    ...base.host,
    frames: decoded,
    write: async (o: SessionOutput): Promise<string[]> => {
      const image = o.kind === 'run' ? Object.values(o.images)[0] : undefined;
      if (image) await sink.put(image);
      return [];
    },
    ...(c.signal ? { signal: c.signal } : {}),
    onEvent: (e) => {
      if (e.type === 'backend') io.err(`${backendLine(e.choice)}, ${c.request.size} px`);
      else if (e.type === 'frame') frameIndex = e.index;
      else if (e.type === 'run-done') {
        times.last = performance.now();
        if (!frameIndex) times.first = times.last;
        progress(frameIndex + 1);
      }
      // The first frame's preparation is worth saying; the same words for every frame are not.
      else if (e.type === 'status' && frameIndex === 0) io.err(e.message);
    },
  };
  const { result, partial } = await runIntoFile(io, sink.encoder, tmp, out, () =>
    v.redis ? throughQueue(io, c, v, decoded, total, sink.put, times) : runPrepared(withFlow(c.prepared, v), host),
  );
  const frames = sink.encoder.current?.frames ?? 0;
  const steady = frames > 1 ? (frames - 1) / ((times.last - times.first) / 1000) : null;
  const firstFrameSeconds = (times.first - times.start) / 1000;
  for (const d of result.diagnostics) if (d.code !== 'run') io.err(`${c.file}: ${formatDiagnostic(d)}`);
  for (const w of result.runs[0]?.weights ?? []) io.err(`weights for ${w.nodes.join(', ')}: ${w.weights}`);
  const rescued = c.report
    ? await writeVideoReport(io, c.report, {
        graph: c.file,
        video: v.input,
        out: v.out,
        status: result.status,
        frames,
        framesAnnounced: total,
        framesRead: stats.frames,
        ...(partial ? { partial } : {}),
        seconds: result.seconds,
        framesPerSecond: frames / Math.max(1e-9, result.seconds),
        firstFrameSeconds,
        framesPerSecondAfterFirst: steady,
        size: [width, height],
        rate: setup.rate,
        blend: v.blend ?? 0,
        warmStart: Boolean(v.warmStart),
        flow: Boolean(v.flow),
        reused: result.reused.hits,
        firstFrame: result.runs[0] ?? null,
      })
    : false;
  if (partial)
    io.err(
      `stylegraph: kept the ${frames} frames finished in ${relativeName(io.cwd, partial)} (the run stopped there; ${v.out} was not written)`,
    );
  // A short read: fewer frames than the clip announced (a file cut short or damaged). The result holds what there was,
  // with a warning that names both counts (exact counts from the container; an estimate from the duration may be one off).
  const shortBy = total - stats.frames;
  const short = result.status === 'done' && shortBy > (info.counted && !v.fps ? 0 : 1);
  if (short) {
    const said = stats.errors.trim().split('\n').filter(Boolean).at(-1);
    io.err(
      `stylegraph: warning: ${v.input} gave ${stats.frames} of the ${total} frames it announces (it is cut short or damaged${said ? `; ffmpeg said: ${said.trim()}` : ''}); ` +
        `${v.out} has ${frames} frames`,
    );
  }
  if (result.status === 'done')
    io.err(
      `wrote ${v.out} (${frames} frames in ${result.seconds.toFixed(1)} s; the first ${firstFrameSeconds.toFixed(1)} s, then ${steady?.toFixed(2) ?? '-'} frames/s; ` +
        `${result.reused.hits} steps reused from the first frame)`,
    );
  return exitStatus(io, c, result, base.loadedNames(), rescued);
}

/** Checks the clip, the tools, the outputs and the frame range before anything runs: the setup, or an exit status. */
async function videoSetup(io: Io, c: RunCommand, v: VideoOptions): Promise<VideoSetup | number> {
  const tools = await findVideoTools(v.ffmpeg);
  const input = await checkVideoInput(io.cwd, c.file, v.input);
  const out = resolve(io.cwd, v.out);
  const info = await probeVideo(tools, input);
  if (v.out.startsWith(`${DEFAULT_OUT}/`)) await mkdir(dirname(out), { recursive: true });
  const problems = await checkOutputs({
    cwd: io.cwd,
    files: [v.out, ...(c.report ? [c.report] : [])],
    inputs: [c.file, v.input, ...imageInputs(c.model, c.registry, c.file)],
  });
  if (problems.length) {
    for (const p of problems) io.err(`stylegraph: ${p}`);
    return 2;
  }
  const audio = info.audio ? audioCut(input, info, v.range) : undefined;
  const available = await encoders(tools);
  codecArgs({ format: extname(out), available, ...(audio ? { audio } : {}) }); // an unknown container or a missing encoder, before the run
  const [height, width] = fitSize(info.height, info.width, c.request.size);
  const total = frameCount(info, v.range, v.fps);
  if (!total) {
    io.err(
      `stylegraph: --frames ${v.range?.from}..${v.range?.to ?? ''}: ${v.input} has ${info.frames} frames (0 to ${info.frames - 1})`,
    );
    return 2;
  }
  const rate = v.fps ? String(v.fps) : info.rate;
  io.err(
    `${basename(v.input)}: ${info.width}x${info.height}, ${info.fps.toFixed(2)} frames/s, ${info.frames} frames${info.audio ? `, audio (${info.audio})` : ', no audio'}; ` +
      `running ${total} frames at ${width}x${height}${v.blend ? `, blend ${v.blend}` : ''}${v.warmStart ? ', warm start' : ''}${v.flow ? ', optical flow' : ''}`,
  );
  return { tools, input, out, info, audio, available, width, height, total, rate };
}

/**
 * Where styled frames go: blended with the previous one (--blend without --flow), then into an encoder started on
 * the first frame, whose size it takes (the graph's output size, not the decoded frame's).
 */
function frameSink(
  setup: VideoSetup,
  v: VideoOptions,
  tmp: string,
): { encoder: { current: VideoEncoder | null }; put: (image: RGBAImage) => Promise<void> } {
  const { tools, out, rate, available, audio } = setup;
  const encoder: { current: VideoEncoder | null } = { current: null };
  let previous: RGBAImage | null = null;
  const put = async (image: RGBAImage): Promise<void> => {
    // With --flow the session has blended along the flow already.
    const frame = v.blend && previous && !v.flow ? blendFrames(previous, image, v.blend) : image;
    previous = frame;
    encoder.current ??= VideoEncoder.start(tools, {
      file: tmp,
      format: extname(out),
      width: frame.width,
      height: frame.height,
      rate,
      available,
      ...(audio ? { audio } : {}),
    });
    await encoder.current.write(frame);
    // A turn of the event loop per frame: decoded frames waiting in the pipe and a small graph make a chain of promises
    // that never leaves the microtask queue, and Ctrl+C (a signal, delivered by the loop) went unseen to the last frame.
    await new Promise((r) => setImmediate(r));
  };
  return { encoder, put };
}

/**
 * Runs the session and finishes the file: renamed to `out` when done; stopped (Ctrl+C) or failed after some frames,
 * the encoder closes the file after the last whole frame and it is kept under a name that says it is partial. A run
 * that threw becomes a failed result.
 */
async function runIntoFile(
  io: Io,
  enc: { current: VideoEncoder | null },
  tmp: string,
  out: string,
  run: () => Promise<SessionResult>,
): Promise<{ result: SessionResult; partial: string | null }> {
  let result: SessionResult | null = null;
  let written = false;
  let failure: string | null = null;
  let partial: string | null = null;
  try {
    result = await run();
    if (result.status === 'done' && enc.current) {
      await enc.current.finish();
      await rename(tmp, out);
      written = true;
    }
  } catch (e) {
    failure = (e as Error).message;
  } finally {
    if (!written && enc.current?.frames && (result?.status === 'cancelled' || result?.status === 'failed' || failure)) {
      try {
        await enc.current.finish();
        partial = partialPath(out);
        await rename(tmp, partial);
        written = true;
      } catch (e) {
        partial = null;
        io.err(`stylegraph: could not keep the frames finished: ${(e as Error).message}`);
      }
    }
    if (!written) await enc.current?.abort();
    await rm(tmp, { force: true });
  }
  if (!result || failure)
    result = {
      diagnostics: [],
      backend: '',
      runs: [],
      outputs: {},
      written: [],
      reused: { hits: 0, misses: 0 },
      seconds: 0,
      ...result,
      status: 'failed',
      error: failure ?? 'no result',
    };
  return { result, partial };
}

/** Writes --report (or rescues it elsewhere, saying so); true when it was rescued. */
async function writeVideoReport(io: Io, report: string, fields: Record<string, unknown>): Promise<boolean> {
  const r = await writeOrRescue(resolve(io.cwd, report), JSON.stringify(fields, null, 2) + '\n');
  if (!r.failed) return false;
  io.err(`stylegraph: ${r.failed}; saved it to ${r.path} instead`);
  return true;
}

/**
 * `--redis`: the frames in batches through the queue's workers, each batch one stream there (video-queue.ts); the
 * styled frames come back in order and go to the encoder here. Blending happens here; a warm start holds within a batch.
 */
async function throughQueue(
  io: Io,
  c: RunCommand,
  v: VideoOptions,
  frames: AsyncIterable<DecodedImage>,
  total: number,
  put: (image: RGBAImage) => Promise<void>,
  times: { start: number; first: number; last: number },
): Promise<SessionResult> {
  const checked = await jobSources(
    c.model,
    c.registry,
    documentSourceAccess(dirname(resolve(io.cwd, c.file)), c.sources),
    ['content'],
  );
  const empty: SessionResult = {
    status: 'invalid',
    diagnostics: [],
    backend: 'queue',
    runs: [],
    outputs: {},
    written: [],
    reused: { hits: 0, misses: 0 },
    seconds: 0,
  };
  if (checked.errors.length) return { ...empty, error: checked.errors.join('\n') };
  io.err(
    `frames go to queue "${v.queue}" on ${v.redis} in batches of ${QUEUE_BATCH} (${QUEUE_IN_FLIGHT} at a time); start workers with: stylegraph worker --redis URL`,
  );
  const progress = frameProgress(io, total);
  let done = 0;
  const r = await queueFrames({
    redis: v.redis!,
    queue: v.queue!,
    model: checked.model,
    // The graph carries the request's values and steps; a job's request is what decides its frames' pictures.
    request: jobRequest(c.request),
    weights: requiredCheckpoints(c.model, c.registry),
    frames,
    batch: QUEUE_BATCH,
    inFlight: QUEUE_IN_FLIGHT,
    label: basename(v.input),
    ...(c.signal ? { signal: c.signal } : {}),
    onFrame: async (f) => {
      await put({
        width: f.width,
        height: f.height,
        data: new Uint8ClampedArray(f.data.buffer as ArrayBuffer, f.data.byteOffset, f.data.byteLength),
      });
      times.last = performance.now();
      if (!done) times.first = times.last;
      progress(++done);
    },
  });
  if (r.workers.size) io.err(`frames styled by ${[...r.workers].join(', ')}`);
  return {
    ...empty,
    status: r.status,
    ...(r.error ? { error: r.error } : {}),
    seconds: (performance.now() - times.start) / 1000,
  };
}

/** The source's audio cut to the frames run (all of it without --frames). */
function audioCut(file: string, info: VideoInfo, range: FrameRange | undefined): AudioSource {
  const start = range?.from ? range.from / info.fps : 0;
  const end = range?.to !== undefined ? (range.to + 1) / info.fps : undefined;
  return {
    file,
    codec: info.audio!,
    format: info.format,
    ...(start ? { start } : {}),
    ...(end !== undefined ? { duration: end - start } : {}),
  };
}

/** A path as the user would write it: relative to the working folder when inside it. */
function relativeName(cwd: string, path: string): string {
  const r = relative(cwd, path);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : path;
}
