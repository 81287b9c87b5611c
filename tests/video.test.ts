import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { main, type Io } from '../src/cli/main';
import { documentAccess } from '../src/cli/node/node-session';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { checkpointStore, loadWeights } from '../src/cli/node/node-weights';
import {
  codecArgs,
  decodeFrames,
  findVideoTools,
  parseFrameRange,
  probeVideo,
  type VideoTools,
} from '../src/cli/video/video';
import { blendFrames, flicker, frameDifference } from '../src/cli/video/video-flicker';
import { withSteps } from '../src/graph/edit';
import type { RGBAImage } from '../src/ops/image';
import { runSession, type RunHost } from '../src/runtime/session';
import type { DecodedImage } from '../src/runtime/sources';
import { loadPreset } from './helpers';
import { hasRedis, startRedis } from './redis';

/**
 * Video from the command line (issue 20): short clips made here with ffmpeg's test sources, run through AdaIN on the
 * tiny test checkpoints, in this process (main() with its own Io), at 32 px so the whole file stays quick.
 */

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-video-'));
process.env.STYLEGRAPH_CACHE = join(tmp, 'cache');
const registry = builtinRegistry();
const weights = [
  '--weights',
  'vgg_normalised=tests/fixtures/vgg_normalised-tiny.pth',
  '--weights',
  'adain-decoder=tests/fixtures/decoder-tiny.pth',
];

async function cli(...args: string[]): Promise<{ code: number; err: string }> {
  const lines: string[] = [];
  const io: Io = { out: () => {}, err: (l) => lines.push(l), isTTY: false, cwd: root };
  const code = await main(args, io);
  return { code, err: lines.join('\n') };
}

const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);

/** Frames counted by decoding (not the container's note), duration, and whether there is an audio stream. */
function streams(file: string): {
  frames: number;
  duration: number;
  audio: number | null;
  width: number;
  height: number;
} {
  const j = JSON.parse(
    execFileSync('ffprobe', [
      '-v',
      'error',
      '-count_frames',
      '-print_format',
      'json',
      '-show_streams',
      file,
    ]).toString(),
  ) as {
    streams: { codec_type: string; nb_read_frames?: string; duration?: string; width?: number; height?: number }[];
  };
  const v = j.streams.find((s) => s.codec_type === 'video')!;
  const a = j.streams.find((s) => s.codec_type === 'audio');
  return {
    frames: Number(v.nb_read_frames),
    duration: Number(v.duration),
    audio: a ? Number(a.duration) : null,
    width: v.width!,
    height: v.height!,
  };
}

let tools: VideoTools;
const clip = join(tmp, 'clip.mp4'); // 2 s at 8 frames/s, 64x48, a 440 Hz tone
const silent = join(tmp, 'silent.webm'); // 1 s at 6 frames/s, no audio
const still = join(tmp, 'still.mp4'); // a still picture with fresh noise in every frame: all change between frames is noise

beforeAll(async () => {
  tools = await findVideoTools();
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=64x48:rate=8:duration=2',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:duration=2',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-shortest',
    clip,
  );
  ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=48x48:rate=6:duration=1', '-c:v', 'libvpx', '-b:v', '1M', silent);
  // Lossless H.264 (qp 0): the noise reaches the frames as it is, not smoothed by the encoder.
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'smptebars=size=64x48:rate=8:duration=2,noise=alls=24:allf=t',
    '-c:v',
    'libx264',
    '-qp',
    '0',
    '-pix_fmt',
    'yuv444p',
    still,
  );
  await startNodeBackend('wasm');
});

describe('video helpers', () => {
  it('reads frame ranges as inclusive, from 0, with open ends', () => {
    expect(parseFrameRange('3..8')).toEqual({ from: 3, to: 8 });
    expect(parseFrameRange('5..')).toEqual({ from: 5 });
    expect(parseFrameRange('..4')).toEqual({ from: 0, to: 4 });
    for (const bad of ['..', '8..3', '3-8', 'a..b'])
      expect(() => parseFrameRange(bad)).toThrow(/--frames must be A\.\.B/);
  });

  it('blends each output with the previous one, byte by byte, and measures flicker as the mean RGB difference', async () => {
    const img = (rgba: number[]): RGBAImage => ({ width: 1, height: 1, data: new Uint8ClampedArray(rgba) });
    // 0.75 * 200 + 0.25 * 100 = 175; 0.75 * 0 + 0.25 * 255 = 63.75 -> 64; 0.75 * 10 + 0.25 * 30 = 15; alpha from the new frame.
    expect([...blendFrames(img([100, 255, 30, 7]), img([200, 0, 10, 9]), 0.25).data]).toEqual([175, 64, 15, 9]);
    // |200-100| + |0-255| + |10-30| = 375 over 3 channels (alpha ignored).
    expect(frameDifference(img([100, 255, 30, 0]), img([200, 0, 10, 255]))).toBe(125);
    async function* frames() {
      yield img([0, 0, 0, 255]);
      yield img([30, 0, 0, 255]); // 10
      yield img([30, 60, 0, 255]); // 20
    }
    expect(await flicker(frames())).toEqual({ flicker: 15, frames: 3 });
  });

  it('probes a clip, and picks codecs by container: H.264 for mp4, VP9 for webm, audio copied when the container takes it', async () => {
    expect(await probeVideo(tools, clip)).toMatchObject({
      width: 64,
      height: 48,
      fps: 8,
      frames: 16,
      audio: 'aac',
      format: 'mov',
      counted: true,
    });
    // A WebM says no frame count: it is estimated from the duration.
    expect(await probeVideo(tools, silent)).toMatchObject({
      audio: null,
      format: 'matroska',
      frames: 6,
      counted: false,
    });
    const available = new Set(['libx264', 'libvpx-vp9', 'libvpx']);
    const audio = { file: clip, codec: 'aac' };
    expect(codecArgs({ format: '.mp4', available, audio }).join(' ')).toMatch(
      /-c:v libx264 -pix_fmt yuv420p .*-c:a copy -f mp4$/,
    );
    expect(codecArgs({ format: '.webm', available, audio }).join(' ')).toMatch(
      /-c:v libvpx-vp9 .*-c:a libopus .*-f webm$/,
    );
    expect(codecArgs({ format: '.webm', available: new Set(['libvpx']) }).join(' ')).toMatch(/-c:v libvpx /);
    expect(() => codecArgs({ format: '.gif', available })).toThrow(/\.mp4, \.m4v, \.mov, \.mkv, \.webm/);
  });
});

describe('a stream of frames through the run session', () => {
  it('computes the style side once, keeps tensors flat over the frames, and warm-starts from the previous result', async () => {
    const settings = { dir: join(tmp, 'cache'), mirror: null };
    const read = (name: string, file: string) =>
      loadWeights(tf, { name, source: join(root, 'tests/fixtures', file) }, root, settings);
    const store = checkpointStore([
      await read('vgg_normalised', 'vgg_normalised-tiny.pth'),
      await read('adain-decoder', 'decoder-tiny.pth'),
    ]);
    const access = documentAccess(join(root, 'presets/adain.json'));
    const clipFrames: DecodedImage[] = [];
    for await (const f of decodeFrames(tools, clip, { width: 32, height: 24, rate: '8', range: { from: 0, to: 5 } }))
      clipFrames.push(f);
    expect(clipFrames).toHaveLength(6);
    async function* feed() {
      yield* clipFrames;
    }
    const tensors: number[] = [];
    const written: RGBAImage[] = [];
    const host: RunHost = {
      tf,
      readImage: access.decode,
      readWeights: async () => store,
      frames: feed(),
      write: async (o) => (o.kind === 'run' && written.push(Object.values(o.images)[0]!), []),
      onEvent: (e) => e.type === 'run-done' && tensors.push(tf.memory().numTensors),
    };
    const r = await runSession(loadPreset('adain.json'), registry, { size: 32, seed: 0, frames: {} }, host);
    expect(r.status, r.error).toBe('done');
    expect(written).toHaveLength(6);
    expect([written[0]!.width, written[0]!.height]).toEqual([32, 24]);
    // Every frame after the first takes the style's encoding and statistics from the memo.
    expect(r.reused.hits).toBeGreaterThanOrEqual(5);
    expect(r.runs).toHaveLength(1);
    // No tensor is left behind per frame: the count after the second frame is the count after the last.
    expect(tensors.slice(1).every((n) => n === tensors[1])).toBe(true);
    // Different frames, different pictures.
    expect(frameDifference(written[0]!, written[5]!)).toBeGreaterThan(1);

    // Warm start: with no optimiser steps, each frame is exactly where it started, so a warm start repeats the first
    // frame's result; a cold start (the variable starts from its own frame) does not.
    const gatys = withSteps(
      {
        ...loadPreset('gatys.json'),
        nodes: loadPreset('gatys.json').nodes.map((n) => (n.id === 'x' ? { ...n, params: { init: 'content' } } : n)),
      },
      registry,
      0,
    );
    const runGatys = async (warmStart: boolean) => {
      const out: RGBAImage[] = [];
      async function* three() {
        yield* clipFrames.slice(0, 3);
      }
      const g = await runSession(
        gatys,
        registry,
        { size: 32, seed: 0, frames: { warmStart } },
        {
          tf,
          readImage: access.decode,
          frames: three(),
          write: async (o) => (o.kind === 'run' && out.push(Object.values(o.images)[0]!), []),
        },
      );
      expect(g.status, g.error).toBe('done');
      return out;
    };
    const warm = await runGatys(true);
    const cold = await runGatys(false);
    expect(frameDifference(warm[0]!, warm[2]!)).toBe(0);
    expect(frameDifference(cold[0]!, cold[2]!)).toBeGreaterThan(1);
    expect(frameDifference(warm[0]!, cold[0]!)).toBe(0);
  });

  it('refuses a stream mixed with another mode, or without a content slot', async () => {
    const r = await runSession(
      loadPreset('adain.json'),
      registry,
      { size: 32, seed: 0, frames: {}, scales: [0.5, 1] },
      { tf, readImage: async () => ({ width: 1, height: 1, data: new Uint8Array(4) }) },
    );
    expect(r.status).toBe('invalid');
    expect(r.error).toMatch(/a stream of frames runs alone/);
  });
});

describe('stylegraph run with a video', () => {
  it('keeps frame count, duration and audio; --frames and --fps are honoured', async () => {
    const out = join(tmp, 'styled.mp4');
    const r = await cli(
      'run',
      'presets/adain.json',
      '--content',
      clip,
      '--out',
      out,
      '--size',
      '32',
      '--backend',
      'wasm',
      ...weights,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/frame 16\/16 +[\d.]+ frames\/s +\d+ s left/);
    const s = streams(out);
    expect(s).toMatchObject({ frames: 16, width: 32, height: 24 });
    expect(s.duration).toBeCloseTo(2, 1);
    expect(s.audio).not.toBeNull();
    expect(s.audio!).toBeCloseTo(2, 1);
    // The temporary file was renamed into place: nothing else is left beside it.
    expect(readdirSync(tmp).filter((n) => n.startsWith('.styled'))).toEqual([]);

    // Frames 3 to 8 (from 0): six frames, 0.75 s, and the audio cut to match.
    const part = join(tmp, 'part.mp4');
    const p = await cli(
      'run',
      'presets/adain.json',
      '--content',
      clip,
      '--out',
      part,
      '--frames',
      '3..8',
      '--size',
      '32',
      '--backend',
      'wasm',
      ...weights,
    );
    expect(p.code, p.err).toBe(0);
    const ps = streams(part);
    expect(ps.frames).toBe(6);
    expect(ps.duration).toBeCloseTo(0.75, 1);
    expect(ps.audio!).toBeLessThan(1);

    // No audio in, none out; --fps 3 on a 6 frames/s second gives 3 frames; webm in and out.
    const quiet = join(tmp, 'quiet.webm');
    const q = await cli(
      'run',
      'presets/adain.json',
      '--content',
      silent,
      '--out',
      quiet,
      '--fps',
      '3',
      '--size',
      '32',
      '--backend',
      'wasm',
      ...weights,
    );
    expect(q.code, q.err).toBe(0);
    const qs = streams(quiet);
    expect(qs.audio).toBeNull();
    expect(qs.frames).toBe(3);
  });

  it('says clearly when ffmpeg is missing (exit status 2), and refuses a picture name for a video result', async () => {
    const given = await cli(
      'run',
      'presets/adain.json',
      '--content',
      clip,
      '--out',
      join(tmp, 'x.mp4'),
      '--ffmpeg',
      join(tmp, 'no-ffmpeg'),
    );
    expect(given.code).toBe(2);
    expect(given.err).toMatch(/--ffmpeg .*no-ffmpeg: no such program .*apt-get install ffmpeg/);
    const path = process.env.PATH;
    process.env.PATH = tmp;
    try {
      const none = await cli('run', 'presets/adain.json', '--content', clip, '--out', join(tmp, 'x.mp4'));
      expect(none.code).toBe(2);
      expect(none.err).toMatch(
        /video needs ffmpeg and ffprobe, and ffmpeg is not on PATH; install ffmpeg .* or name the program with --ffmpeg PATH/,
      );
    } finally {
      process.env.PATH = path;
    }
    expect(existsSync(join(tmp, 'x.mp4'))).toBe(false);
    const png = await cli('run', 'presets/adain.json', '--content', clip, '--out', join(tmp, 'x.png'));
    expect(png.code).toBe(2);
    expect(png.err).toMatch(/a video's result is a video/);
    const stray = await cli('run', 'presets/adain.json', '--blend', '0.5');
    expect(stray.code).toBe(2);
    expect(stray.err).toMatch(/--blend is for a video/);
  });

  it('stops when asked (Ctrl+C): exit 130, no result, the frames finished kept in NAME.partial.mp4, no temporary file left', async () => {
    const out = join(tmp, 'stopped.mp4');
    const controller = new AbortController();
    const lines: string[] = [];
    const io: Io = {
      out: () => {},
      err: (l) => (lines.push(l), l.startsWith('frame 2/') && controller.abort()),
      isTTY: false,
      cwd: root,
    };
    const code = await main(
      ['run', 'presets/adain.json', '--content', clip, '--out', out, '--size', '32', '--backend', 'wasm', ...weights],
      io,
      controller.signal,
    );
    expect(code, lines.join('\n')).toBe(130);
    expect(lines.some((l) => l.startsWith('frame 16/'))).toBe(false);
    expect(existsSync(out)).toBe(false);
    // The frames encoded before the stop, in a file that says it is partial (tests/hostile/video.test.ts sends a real SIGINT).
    const kept = lines.map((l) => /kept the (\d+) frames finished in (\S+)/.exec(l)).find(Boolean);
    expect(kept?.[2], lines.join('\n')).toBe(join(tmp, 'stopped.partial.mp4'));
    expect(streams(kept![2]!).frames).toBe(Number(kept![1]));
    expect(Number(kept![1])).toBeGreaterThanOrEqual(2);
    expect(Number(kept![1])).toBeLessThan(16);
    expect(readdirSync(tmp).filter((n) => n.startsWith('.stopped'))).toEqual([]);
  });

  it('flickers less with --blend on a still, noisy clip', async () => {
    const measure = async (...extra: string[]) => {
      const out = join(tmp, `still-${extra.join('') || 'plain'}.mp4`);
      const r = await cli(
        'run',
        'presets/adain.json',
        '--content',
        still,
        '--out',
        out,
        '--size',
        '32',
        '--backend',
        'wasm',
        ...weights,
        ...extra,
      );
      expect(r.code, r.err).toBe(0);
      return (await flicker(decodeFrames(tools, out, { width: 32, height: 24, rate: '8' }))).flicker;
    };
    const input = (await flicker(decodeFrames(tools, still, { width: 32, height: 24, rate: '8' }))).flicker;
    const plain = await measure();
    const blended = await measure('--blend', '0.7');
    // The noise reaches the styled frames (there is flicker to remove), and blending removes much of it.
    expect(input).toBeGreaterThan(1);
    expect(plain).toBeGreaterThan(0.2);
    expect(blended).toBeLessThan(plain * 0.8);
  });
});

if (!hasRedis && process.env.CI)
  throw new Error('redis-server is missing: .ci/run installs it (apt-get install redis-server)');

describe.skipIf(!hasRedis)('a video through the queue workers (--redis)', () => {
  it('sends batches of frames to a worker and gets the same pictures back, in order, with the audio', async () => {
    const { server: redis, url } = await startRedis(tmp);
    let stop = () => {};
    try {
      const { workerCommand } = await import('../src/cli/queue/worker');
      const workerLog: string[] = [];
      const worker = workerCommand(
        { out: () => {}, err: (l) => workerLog.push(l), isTTY: false, cwd: root },
        {
          redis: url,
          queue: 'video-test',
          concurrency: 1,
          lockSeconds: 30,
          registry,
          backend: 'wasm',
          weights: [
            { name: 'vgg_normalised', source: 'tests/fixtures/vgg_normalised-tiny.pth' },
            { name: 'adain-decoder', source: 'tests/fixtures/decoder-tiny.pth' },
          ],
          stop: new Promise<void>((resolve) => (stop = resolve)),
        },
      );
      const queued = join(tmp, 'queued.mp4');
      const r = await cli(
        'run',
        'presets/adain.json',
        '--content',
        clip,
        '--out',
        queued,
        '--size',
        '32',
        '--redis',
        url,
        '--queue',
        'video-test',
      );
      expect(r.code, `${r.err}\n${workerLog.join('\n')}`).toBe(0);
      expect(r.err).toMatch(/in batches of 8/);
      expect(
        workerLog.filter((l) => / frames 0\+8: done -> 8 frames| frames 8\+8: done -> 8 frames/.test(l)),
      ).toHaveLength(2);
      const s = streams(queued);
      expect(s).toMatchObject({ frames: 16, width: 32, height: 24 });
      expect(s.audio).not.toBeNull();
      // The same pictures as a run in this process (styled.mp4, made above with the same graph, size and weights;
      // made here when this test runs alone).
      const localOut = join(tmp, 'styled.mp4');
      if (!existsSync(localOut)) {
        const l = await cli(
          'run',
          'presets/adain.json',
          '--content',
          clip,
          '--out',
          localOut,
          '--size',
          '32',
          '--backend',
          'wasm',
          ...weights,
        );
        expect(l.code, l.err).toBe(0);
      }
      const local = decodeFrames(tools, localOut, { width: 32, height: 24, rate: '8' });
      let n = 0;
      for await (const f of decodeFrames(tools, queued, { width: 32, height: 24, rate: '8' })) {
        const g = await local.next();
        expect(frameDifference(f, g.value as DecodedImage)).toBeLessThan(0.5);
        n++;
      }
      expect(n).toBe(16);
      stop();
      expect(await worker).toBe(0);
    } finally {
      stop();
      redis.kill('SIGKILL');
    }
  });
});
