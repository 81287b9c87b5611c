import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, delimiter, dirname, extname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { RGBAImage } from '../../ops/image';
import type { DecodedImage } from '../../runtime/sources';
import { UsageError } from '../io';
import { MAX_IMAGE_PIXELS } from '../node/node-images';

/**
 * Video through Debian's ffmpeg, run as separate programs: ffprobe says what a clip holds, one ffmpeg decodes its
 * frames to raw RGBA on a pipe, another encodes raw RGBA from a pipe (plus the source's audio) into the result.
 * Frames are pulled one at a time and written with back-pressure, so a long clip runs in flat memory.
 */

/** Containers read as video when given to --content (anything ffmpeg reads works; these are recognised by name). */
const VIDEO_IN = new Set([
  '.mp4',
  '.m4v',
  '.mov',
  '.mkv',
  '.webm',
  '.avi',
  '.gif',
  '.mpg',
  '.mpeg',
  '.ogv',
  '.wmv',
  '.flv',
  '.ts',
  '.mts',
  '.3gp',
]);

/** Containers written, with ffmpeg's muxer for each (the temporary name has no telling extension). */
const MUXERS: Record<string, string> = {
  '.mp4': 'mp4',
  '.m4v': 'mp4',
  '.mov': 'mov',
  '.mkv': 'matroska',
  '.webm': 'webm',
};

export const isVideoPath = (path: string): boolean => VIDEO_IN.has(extname(path).toLowerCase());
export const isVideoOutput = (path: string): boolean => extname(path).toLowerCase() in MUXERS;
export const VIDEO_OUTPUTS = Object.keys(MUXERS);

export interface VideoTools {
  ffmpeg: string;
  ffprobe: string;
}

const MISSING =
  'install ffmpeg (Debian and Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) or name the program with --ffmpeg PATH';

const executable = (path: string) =>
  access(path, constants.X_OK).then(
    () => true,
    () => false,
  );

/** The first executable `name` on PATH. */
async function onPath(name: string, path: string | undefined): Promise<string | null> {
  for (const dir of (path ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (await executable(candidate)) return candidate;
  }
  return null;
}

/**
 * ffmpeg and ffprobe: `given` (--ffmpeg PATH, with ffprobe beside it) or the first on PATH. A UsageError (exit
 * status 2) that says how to get them when either is missing.
 */
export async function findVideoTools(given?: string, path = process.env.PATH): Promise<VideoTools> {
  if (given) {
    if (!(await executable(given)))
      throw new UsageError(`--ffmpeg ${given}: no such program (or not executable); ${MISSING}`);
    const probe = join(dirname(given), basename(given).replace(/ffmpeg/i, 'ffprobe'));
    if (probe === given || !(await executable(probe)))
      throw new UsageError(`--ffmpeg ${given}: ffprobe is not beside it (looked for ${probe}); video needs both`);
    return { ffmpeg: given, ffprobe: probe };
  }
  const [ffmpeg, ffprobe] = [await onPath('ffmpeg', path), await onPath('ffprobe', path)];
  if (!ffmpeg || !ffprobe)
    throw new UsageError(
      `video needs ffmpeg and ffprobe, and ${!ffmpeg ? 'ffmpeg' : 'ffprobe'} is not on PATH; ${MISSING}`,
    );
  return { ffmpeg, ffprobe };
}

// ---- what a video may be and do (docs/security.md, "Video") -------------------------------------------------

/**
 * The demuxers a clip may be read with: self-contained containers, none of which can name another file or URL.
 * Playlists and lists (hls, concat/ffconcat, dash, webm_dash_manifest, image2 sequences, ...) are refused outright,
 * whatever the file is called: ffmpeg picks a demuxer by content, so an HLS playlist named clip.mp4 is HLS. (mov
 * can follow external data references only with `enable_drefs`, which is off.)
 */
export const VIDEO_DEMUXERS = [
  'mov',
  'matroska',
  'avi',
  'gif',
  'mpeg',
  'mpegts',
  'mpegvideo',
  'ogg',
  'asf',
  'flv',
] as const;

/** ffmpeg's input options for every clip it opens: local files only, allowed demuxers only. */
const SAFE_INPUT = ['-protocol_whitelist', 'file', '-format_whitelist', VIDEO_DEMUXERS.join(',')];

/** What a demuxer ffmpeg refused is, in words. */
const DEMUXER_WORDS: Record<string, string> = {
  hls: 'an HLS playlist (m3u8)',
  concat: 'an ffconcat list',
  dash: 'a DASH manifest',
  webm_dash_manifest: 'a WebM DASH manifest',
  image2: 'an image or image sequence',
  image2pipe: 'an image',
  mpjpeg: 'a multipart JPEG stream',
  tee: 'a tee list',
  sdp: 'an SDP description',
  rtsp: 'an RTSP address',
  lavfi: 'a filter graph',
};

const envSeconds = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return v > 0 ? v : fallback;
};

/**
 * Time limits on ffmpeg and ffprobe (docs/security.md). Read when used, so tests can lower them with the variables:
 * `probe`: ffprobe (and `ffmpeg -encoders`) must answer within it (STYLEGRAPH_VIDEO_PROBE_SECONDS, 30 s);
 * `stall`: the decoder must deliver each frame within it of being asked (STYLEGRAPH_VIDEO_STALL_SECONDS, 60 s; the first
 * frame of `--frames A..` gets 20 ms more for each frame skipped); the encoder must take each frame within it too;
 * `finish`: the encoder must have written the file within it of the last frame (STYLEGRAPH_VIDEO_FINISH_SECONDS, 300 s).
 */
export function videoLimits(): { probe: number; stall: number; finish: number; pixels: number } {
  return {
    probe: envSeconds('STYLEGRAPH_VIDEO_PROBE_SECONDS', 30),
    stall: envSeconds('STYLEGRAPH_VIDEO_STALL_SECONDS', 60),
    finish: envSeconds('STYLEGRAPH_VIDEO_FINISH_SECONDS', 300),
    pixels: MAX_IMAGE_PIXELS,
  };
}

/** The argument ffmpeg gets for a local file: `file:` first, so no part of the name is read as a protocol. */
const fileArg = (file: string) => (file.startsWith('file:') ? file : `file:${file}`);

/** Ends a program started in its own process group, and everything it started. */
function killGroup(p: { pid?: number | undefined; kill(signal: NodeJS.Signals): boolean }): void {
  try {
    if (p.pid) process.kill(-p.pid, 'SIGKILL');
    else p.kill('SIGKILL');
  } catch {
    p.kill('SIGKILL');
  }
}

/** A program that did not answer within its time. */
export class VideoTimeout extends Error {}

/**
 * Runs a program to its end: its stdout, or an error with the end of its stderr. Ended (with its children) when it
 * has not finished within `seconds`.
 */
function output(program: string, args: string[], seconds = videoLimits().probe): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    let err = '';
    let late = false;
    const timer = setTimeout(() => ((late = true), killGroup(p)), seconds * 1000);
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    p.on('error', (e) => (clearTimeout(timer), reject(e)));
    p.on('close', (code) => {
      clearTimeout(timer);
      if (late) reject(new VideoTimeout(`${basename(program)} gave no answer within ${seconds} s and was stopped`));
      else if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(err.trim() || `${basename(program)} exited with ${code}`));
    });
  });
}

export interface VideoInfo {
  /** As decoded (a phone clip's rotation applied). */
  width: number;
  height: number;
  /** Frames per second as ffmpeg writes it (`30000/1001`), and as a number. */
  rate: string;
  fps: number;
  /** Frames in the video stream, from the container or estimated from the duration. */
  frames: number;
  /** Seconds. */
  duration: number;
  /** The first audio stream's codec, or null without audio. */
  audio: string | null;
  /** True when `frames` is the container's count; false when it is estimated from the duration. */
  counted: boolean;
  /** The demuxer (one of {@link VIDEO_DEMUXERS}): every later ffmpeg opens the clip with it forced. */
  format: string;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  tags?: { rotate?: string };
  side_data_list?: { rotation?: number }[];
}

const rational = (s: string | undefined): number => {
  const [a, b] = (s ?? '').split('/').map(Number);
  return b === undefined ? (a ?? NaN) : a! / b;
};

/**
 * What ffprobe says of a clip: size, frame rate, frame count, duration and audio. The clip is opened as a local file
 * with the allowed demuxers only (a playlist or list is refused, whatever its name), within the probe's time limit,
 * and refused when its frames are larger than an image may be (from the stream's header, before any decoding).
 */
export async function probeVideo(tools: VideoTools, file: string): Promise<VideoInfo> {
  let text: string;
  try {
    text = await output(tools.ffprobe, [
      '-v',
      'error',
      ...SAFE_INPUT,
      '-print_format',
      'json',
      '-show_streams',
      '-show_format',
      fileArg(file),
    ]);
  } catch (e) {
    const message = (e as Error).message;
    const refused = /\[([\w,]+) @ [^\]]*\] Format not on whitelist/.exec(message);
    if (refused) {
      const name = refused[1]!.split(',')[0]!;
      throw new UsageError(
        `${file}: not read: it is ${DEMUXER_WORDS[name] ?? `a "${name}" file`}, which can name other files or addresses; ` +
          `a video must be one self-contained file (${VIDEO_DEMUXERS.join(', ')}). If you trust it, make one with: ffmpeg -i LIST -c copy clip.mkv`,
      );
    }
    throw new UsageError(`cannot read the video ${file}: ${message}`);
  }
  const j = JSON.parse(text) as { streams?: ProbeStream[]; format?: { duration?: string; format_name?: string } };
  const format = (j.format?.format_name ?? '').split(',')[0]!;
  if (!(VIDEO_DEMUXERS as readonly string[]).includes(format))
    throw new UsageError(`${file}: not read: ffprobe read it as "${format}", which is not an allowed container`);
  const video = j.streams?.find((s) => s.codec_type === 'video');
  if (!video?.width || !video.height) throw new UsageError(`${file} has no video stream`);
  const { pixels } = videoLimits();
  if (video.width * video.height > pixels)
    throw new UsageError(
      `${file}: its frames are ${video.width} x ${video.height} px (${((video.width * video.height) / 1e6).toFixed(1)} MP); the limit is ` +
        `${pixels / 1e6} MP, as for images (scale it down first)`,
    );
  const audio = j.streams?.find((s) => s.codec_type === 'audio');
  // A VFR clip's nominal rate (r_frame_rate) can be a timebase like 90000: the average is the honest one when sane.
  const avg = rational(video.avg_frame_rate);
  const rate = avg > 0 && avg < 1000 ? video.avg_frame_rate! : (video.r_frame_rate ?? '25/1');
  const fps = rational(rate);
  const duration = Number(video.duration ?? j.format?.duration ?? NaN);
  const rotation =
    Math.abs(Number(video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? video.tags?.rotate ?? 0)) %
    180;
  const counted = Number(video.nb_frames);
  return {
    width: rotation === 90 ? video.height : video.width,
    height: rotation === 90 ? video.width : video.height,
    rate,
    fps,
    frames: Number.isInteger(counted) && counted > 0 ? counted : Math.max(1, Math.round(duration * fps)),
    duration,
    audio: audio?.codec_name ?? null,
    counted: Number.isInteger(counted) && counted > 0,
    format,
  };
}

/** `--frames A..B`: frames A to B inclusive, counted from 0; `A..` to the end, `..B` from the start. */
export interface FrameRange {
  from: number;
  to?: number;
}

export function parseFrameRange(text: string): FrameRange {
  const m = /^\s*(\d*)\s*\.\.\s*(\d*)\s*$/.exec(text);
  const from = m?.[1] ? Number(m[1]) : 0;
  const to = m?.[2] ? Number(m[2]) : undefined;
  if (!m || (!m[1] && !m[2]) || (to !== undefined && to < from))
    throw new UsageError(
      `--frames must be A..B (frames A to B, counted from 0; A.. or ..B for open ends), got "${text}"`,
    );
  return { from, ...(to !== undefined ? { to } : {}) };
}

/** Frames of the clip a run sees: after --frames, then at --fps. */
export function frameCount(info: VideoInfo, range: FrameRange | undefined, fps: number | undefined): number {
  const last = Math.min(info.frames - 1, range?.to ?? Infinity);
  const source = Math.max(0, last - (range?.from ?? 0) + 1);
  return fps ? Math.max(1, Math.round((source * fps) / info.fps)) : source;
}

export interface DecodeOptions {
  /** The size frames arrive at (ffmpeg scales them; the graph then runs at this size without resampling). */
  width: number;
  height: number;
  range?: FrameRange;
  /** Resamples to this frame rate (ffmpeg's fps filter: frames dropped or repeated). */
  fps?: number;
  /** The source rate, the rate frames come out at without `fps`. */
  rate: string;
  /** The demuxer, from {@link probeVideo} (forced, so the clip is read as what was probed); else detected among the allowed ones. */
  format?: string;
  /** At most this many frames are decoded (the count announced: the fps filter cannot make more than were announced). */
  maxFrames?: number;
  /** Filled as frames come: how many, and the end of what ffmpeg said (a damaged file's complaints). */
  stats?: DecodeStats;
}

export interface DecodeStats {
  frames: number;
  errors: string;
}

/**
 * The frames of a clip as RGBA, one at a time: ffmpeg writes raw frames to a pipe and is read only as fast as frames
 * are asked for (the pipe's buffer fills and ffmpeg waits), so memory holds about one frame whatever the length.
 * Stopping early (a failed run, Ctrl+C) kills the decoder. The clip is opened as a local file with the allowed demuxers
 * only, frames larger than an image may be are refused by the decoder itself, and a decoder that delivers no frame
 * within the stall limit of being asked for one is stopped, with an error.
 */
export async function* decodeFrames(tools: VideoTools, file: string, o: DecodeOptions): AsyncGenerator<DecodedImage> {
  const limits = videoLimits();
  const filters = [
    ...(o.range
      ? [
          `trim=start_frame=${o.range.from}${o.range.to !== undefined ? `:end_frame=${o.range.to + 1}` : ''}`,
          'setpts=PTS-STARTPTS',
        ]
      : []),
    ...(o.fps ? [`fps=${o.fps}`] : []),
    `scale=${o.width}:${o.height}:flags=area`,
  ];
  const args = [
    '-v',
    'error',
    '-nostdin',
    ...SAFE_INPUT,
    ...(o.format ? ['-f', o.format] : []),
    '-max_pixels',
    String(limits.pixels),
    '-i',
    fileArg(file),
    '-an',
    '-sn',
    '-dn',
    '-vf',
    filters.join(','),
    '-r',
    String(o.fps ?? o.rate),
    ...(o.maxFrames ? ['-frames:v', String(o.maxFrames)] : []),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgba',
    'pipe:1',
  ];
  // Its own process group: Ctrl+C reaches stylegraph, which stops the run and then the decoder, not ffmpeg first.
  const p = spawn(tools.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  p.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
    if (o.stats) o.stats.errors = stderr;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => resolve(code));
  });
  // The stall watchdog runs only while a frame is asked for (a slow graph upstream is no stall: ffmpeg waits on the
  // pipe then). The first frame of a range may need the frames before it decoded: 20 ms more per frame skipped.
  let stalled = 0;
  let watchdog: NodeJS.Timeout | undefined;
  const waitFor = (seconds: number) => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => ((stalled = seconds), killGroup(p)), seconds * 1000);
  };
  waitFor(limits.stall + 0.02 * (o.range?.from ?? 0));
  const size = o.width * o.height * 4;
  let frame = new Uint8Array(size);
  let filled = 0;
  let count = 0;
  let done = false;
  try {
    for await (const chunk of p.stdout as AsyncIterable<Buffer>) {
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(size - filled, chunk.length - at);
        frame.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === size) {
          clearTimeout(watchdog);
          count++;
          if (o.stats) o.stats.frames = count;
          yield { width: o.width, height: o.height, data: frame };
          waitFor(limits.stall);
          frame = new Uint8Array(size);
          filled = 0;
        }
      }
    }
    const code = await exited;
    done = true;
    if (stalled)
      throw new VideoTimeout(
        `ffmpeg gave no frame of ${file} for ${stalled} s (after ${count} frames) and was stopped`,
      );
    if (code !== 0) throw new Error(`ffmpeg could not decode ${file}: ${stderr.trim() || `exit status ${code}`}`);
  } finally {
    clearTimeout(watchdog);
    if (!done) killGroup(p);
  }
}

/** The source's audio for the encoder: the clip (opened like the decoder opens it), its codec, and the cut. */
export interface AudioSource {
  file: string;
  codec: string;
  /** The demuxer probed, forced. */
  format?: string;
  start?: number;
  duration?: number;
}

export interface EncodeOptions {
  /** The file ffmpeg writes (a temporary name; the caller renames it into place). */
  file: string;
  /** The container, from the name the user gave (.mp4, .webm, ...). */
  format: string;
  width: number;
  height: number;
  /** Frames per second, as ffmpeg takes it (`25`, `30000/1001`). */
  rate: string;
  /** The source's audio, copied (or re-encoded when the container cannot hold its codec), cut to the frames run. */
  audio?: AudioSource;
  /** Video encoders this ffmpeg has (from {@link encoders}). */
  available: ReadonlySet<string>;
}

/** The encoders an ffmpeg was built with. */
export async function encoders(tools: VideoTools): Promise<Set<string>> {
  let text: string;
  try {
    text = await output(tools.ffmpeg, ['-hide_banner', '-encoders']);
  } catch (e) {
    throw new UsageError(`cannot list ffmpeg's encoders: ${(e as Error).message}`);
  }
  return new Set([...text.matchAll(/^\s*[VAS][A-Z.]{5}\s+(\S+)/gm)].map((m) => m[1]!));
}

/** Audio codecs each container takes as they are (others are re-encoded). */
const AUDIO_COPY: Record<string, ReadonlySet<string>> = {
  mp4: new Set(['aac', 'mp3', 'ac3', 'eac3', 'alac', 'opus']),
  mov: new Set(['aac', 'mp3', 'ac3', 'alac', 'pcm_s16le', 'pcm_s24le']),
  webm: new Set(['opus', 'vorbis']),
};

/** ffmpeg's codec arguments for a container: H.264 in yuv420p for mp4/mov/mkv, VP9 (else VP8) for webm. */
export function codecArgs(o: Pick<EncodeOptions, 'format' | 'audio' | 'available'>): string[] {
  const ext = o.format.toLowerCase();
  const muxer = MUXERS[ext];
  if (!muxer) throw new UsageError(`a video is written as ${VIDEO_OUTPUTS.join(', ')}; got "${ext || o.format}"`);
  let video: string[];
  if (muxer === 'webm') {
    const vp = ['libvpx-vp9', 'libvpx'].find((e) => o.available.has(e));
    if (!vp) throw new UsageError('this ffmpeg has no VP9 or VP8 encoder (libvpx) for .webm; write .mp4 instead');
    // VP9 at constant quality; VP8 takes its crf under a bitrate cap.
    const rate = vp === 'libvpx-vp9' ? ['-crf', '32', '-b:v', '0', '-row-mt', '1'] : ['-crf', '10', '-b:v', '4M'];
    video = ['-c:v', vp, '-pix_fmt', 'yuv420p', ...rate, '-deadline', 'good', '-cpu-used', '4'];
  } else {
    if (!o.available.has('libx264'))
      throw new UsageError(
        `this ffmpeg has no H.264 encoder (libx264) for ${ext}; write .webm or install a full ffmpeg`,
      );
    video = [
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-crf',
      '18',
      '-preset',
      'veryfast',
      ...(muxer === 'mp4' ? ['-movflags', '+faststart'] : []),
    ];
  }
  const copies = o.audio && (muxer === 'matroska' || AUDIO_COPY[muxer]?.has(o.audio.codec));
  const audio = !o.audio
    ? []
    : copies
      ? ['-c:a', 'copy']
      : muxer === 'webm'
        ? ['-c:a', 'libopus', '-b:a', '128k']
        : ['-c:a', 'aac', '-b:a', '160k'];
  return [...video, ...audio, '-f', muxer];
}

/**
 * An ffmpeg taking raw RGBA frames on its stdin. `write` resolves when the pipe has taken the frame (waiting for it
 * to drain when full), so a slow encoder slows the run rather than filling memory.
 */
export class VideoEncoder {
  private stderr = '';
  private readonly exited: Promise<number | null>;
  private failure: Error | null = null;
  frames = 0;

  private constructor(
    private readonly p: ChildProcessByStdio<Writable, null, Readable>,
    readonly options: EncodeOptions,
  ) {
    p.stderr.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
    // A closed pipe (ffmpeg died) is reported by write and finish, with ffmpeg's own words.
    p.stdin.on('error', (e) => (this.failure ??= e));
    this.exited = new Promise((resolve) => {
      p.on('error', (e) => ((this.failure ??= e), resolve(null)));
      p.on('close', (code) => resolve(code));
    });
  }

  static start(tools: VideoTools, o: EncodeOptions): VideoEncoder {
    const a = o.audio;
    const args = [
      '-v',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgba',
      '-s',
      `${o.width}x${o.height}`,
      '-framerate',
      o.rate,
      '-i',
      'pipe:0',
      ...(a
        ? [
            ...(a.start ? ['-ss', a.start.toFixed(6)] : []),
            ...(a.duration ? ['-t', a.duration.toFixed(6)] : []),
            ...SAFE_INPUT,
            ...(a.format ? ['-f', a.format] : []),
            '-i',
            fileArg(a.file),
          ]
        : []),
      '-map',
      '0:v:0',
      ...(a ? ['-map', '1:a:0?'] : []),
      // yuv420p needs even sides: an odd one loses its last row or column.
      ...(o.width % 2 || o.height % 2 ? ['-vf', 'crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0'] : []),
      ...codecArgs(o),
      o.file,
    ];
    // Its own process group, like the decoder: Ctrl+C stops the run, and stylegraph then stops the encoder.
    return new VideoEncoder(spawn(tools.ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true }), o);
  }

  private error(): Error {
    return new Error(
      `ffmpeg could not encode ${this.options.file}: ${this.stderr.trim() || this.failure?.message || 'it stopped'}`,
    );
  }

  async write(image: RGBAImage): Promise<void> {
    if (image.width !== this.options.width || image.height !== this.options.height)
      throw new Error(
        `frame ${this.frames} is ${image.width}x${image.height}, not ${this.options.width}x${this.options.height} like the first`,
      );
    if (this.failure) throw this.error();
    const ok = this.p.stdin.write(new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength));
    this.frames++;
    if (!ok) {
      // An encoder that takes no frame within the stall limit is stopped.
      const { stall } = videoLimits();
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve, reject) => {
        const done = () => (
          clearTimeout(timer),
          this.p.stdin.off('drain', done),
          this.p.off('close', closed),
          resolve()
        );
        const closed = () => (clearTimeout(timer), this.p.stdin.off('drain', done), reject(this.error()));
        timer = setTimeout(() => {
          this.p.stdin.off('drain', done);
          this.p.off('close', closed);
          killGroup(this.p);
          reject(
            new VideoTimeout(`ffmpeg took no frame for ${stall} s while encoding ${this.options.file} and was stopped`),
          );
        }, stall * 1000);
        this.p.stdin.once('drain', done);
        this.p.once('close', closed);
      });
    }
  }

  /** Closes the input and waits for ffmpeg to write the file (within the finish limit: else it is stopped). */
  async finish(): Promise<void> {
    this.p.stdin.end();
    const { finish } = videoLimits();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), finish * 1000)));
    const code = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (code === 'late') {
      killGroup(this.p);
      await this.exited;
      throw new VideoTimeout(
        `ffmpeg had not finished writing ${this.options.file} ${finish} s after the last frame and was stopped`,
      );
    }
    if (code !== 0 || this.failure) throw this.error();
  }

  abort(): Promise<unknown> {
    killGroup(this.p);
    return this.exited;
  }
}
