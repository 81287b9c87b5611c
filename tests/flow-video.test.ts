import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, beforeAll } from 'vitest';
import { main, type Io } from '../src/cli/main';
import { withSteps } from '../src/graph/edit';
import type { RGBAImage } from '../src/ops/image';
import { runSession, type SessionEvent } from '../src/runtime/session';
import type { DecodedImage } from '../src/runtime/sources';
import { blendFrames } from '../src/cli/video/video-flicker';
import { graph, loadPreset, registry, tf, useWasm } from './helpers';

/**
 * Flow-guided video through the run session (Ruder et al. 2016; src/ops/flow.ts): a synthetic clip of a textured
 * square moving 3 px right and 2 px down a frame over a still textured background.
 */

beforeAll(useWasm);

const [H, W, S] = [48, 48, 16];
function texture(h: number, w: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const waves = Array.from({ length: 10 }, () => [rand() * 0.9 + 0.1, rand() * 6.28, rand() * 6.28, rand()] as const);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      out[y * w + x] = waves.reduce(
        (v, [f, a, p, amp]) => v + amp * Math.sin(f * (Math.cos(a) * x + Math.sin(a) * y) + p),
        0,
      );
  const lo = Math.min(...out);
  const hi = Math.max(...out);
  return out.map((v) => (v - lo) / (hi - lo));
}
const background = texture(H, W, 3);
const square = texture(S, S, 4);
function clip(n: number): DecodedImage[] {
  return Array.from({ length: n }, (_, t) => {
    const data = new Uint8ClampedArray(H * W * 4);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const [sx, sy] = [x - 8 - 3 * t, y - 8 - 2 * t];
        const v = sx >= 0 && sx < S && sy >= 0 && sy < S ? square[sy * S + sx]! : background[y * W + x]!;
        data.set([v * 255, 255 - v * 200, v * 120, 255], (y * W + x) * 4);
      }
    return { width: W, height: H, data };
  });
}
async function* feed(frames: DecodedImage[]) {
  yield* frames;
}
const meanDifference = (a: DecodedImage, b: DecodedImage) => {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) if ((i & 3) !== 3) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / ((a.data.length / 4) * 3);
};

describe('flow-guided stream (frames.flow)', () => {
  it('blends a feed-forward graph with the carried previous result, without the ghost of a plain blend', async () => {
    // The simplest feed-forward graph: the frame itself. A carried previous result lands on the moved square, so the
    // blend stays close to the frame; a plain blend (--blend) leaves a ghost of the square where it was.
    const identity = graph(
      [
        ['content', 'image', { source: 'images/astronaut.jpg', slot: 'content' }],
        ['out', 'output'],
      ],
      [['content.image', 'out.image']],
    );
    const frames = clip(5);
    const written: RGBAImage[] = [];
    const tensors: number[] = [];
    const r = await runSession(
      identity,
      registry,
      { size: W, seed: 0, frames: { flow: { blend: 0.5 } } },
      {
        tf,
        readImage: async () => frames[0]!,
        frames: feed(frames),
        write: async (o) => (o.kind === 'run' && written.push(Object.values(o.images)[0]!), []),
        onEvent: (e) => e.type === 'run-done' && tensors.push(tf.memory().numTensors),
      },
    );
    expect(r.status, r.error).toBe('done');
    expect(written).toHaveLength(5);
    // The flows leave no tensor behind: the count after each frame from the second on is the same.
    expect(tensors.slice(1).every((n) => n === tensors[1])).toBe(true);
    let plain: RGBAImage = { ...frames[0]!, data: Uint8ClampedArray.from(frames[0]!.data) };
    for (let t = 1; t < 5; t++) {
      plain = blendFrames(plain, { ...frames[t]!, data: Uint8ClampedArray.from(frames[t]!.data) }, 0.5);
      const guided = meanDifference(written[t]!, frames[t]!);
      expect(guided).toBeLessThan(1.5);
      expect(meanDifference(plain, frames[t]!)).toBeGreaterThan(3 * guided);
    }
    // The first frame has nothing to carry: itself.
    expect(meanDifference(written[0]!, frames[0]!)).toBeLessThan(0.5);
  });

  it('starts an optimisation graph from the carried result and adds the temporal loss from the second frame', async () => {
    const gatys = withSteps(loadPreset('gatys.json'), registry, 2);
    const frames = clip(3);
    const events: { frame: number; e: SessionEvent }[] = [];
    let frame = -1;
    const r = await runSession(
      gatys,
      registry,
      { size: 32, seed: 0, frames: { flow: { weight: 1000 } } },
      {
        tf,
        readImage: async (source) => (source.includes('swirls') ? frames[2]! : frames[0]!),
        frames: feed(frames),
        onEvent: (e) => {
          if (e.type === 'frame') frame = e.index;
          events.push({ frame, e });
        },
      },
    );
    expect(r.status, r.error).toBe('done');
    const steps = (i: number) => events.flatMap(({ frame, e }) => (frame === i && e.type === 'step' ? [e.terms] : []));
    expect(steps(0).length).toBeGreaterThan(0);
    expect(steps(0).every((t) => t.temporal === undefined)).toBe(true);
    for (const i of [1, 2]) {
      // Step 0 is the start: the carried result itself, so the temporal term is 0 there; the style pulls it away after.
      expect(steps(i)[0]!.temporal).toBeCloseTo(0, 6);
      expect(steps(i).at(-1)!.temporal).toBeGreaterThan(0);
    }
  });

  it('refuses a blend outside 0 to 0.95', async () => {
    const r = await runSession(
      loadPreset('adain.json'),
      registry,
      { size: 32, seed: 0, frames: { flow: { blend: 2 } } },
      { tf, readImage: async () => ({ width: 1, height: 1, data: new Uint8Array(4) }), frames: feed([]) },
    );
    expect(r.status).toBe('invalid');
  });
});

describe('stylegraph run --content CLIP --flow', () => {
  const root = new URL('..', import.meta.url).pathname;
  const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-flow-'));
  const cli = async (...args: string[]) => {
    const lines: string[] = [];
    const io: Io = { out: () => {}, err: (l) => lines.push(l), isTTY: false, cwd: root };
    return { code: await main(args, io), err: lines.join('\n') };
  };
  const weights = [
    '--weights',
    'vgg_normalised=tests/fixtures/vgg_normalised-tiny.pth',
    '--weights',
    'adain-decoder=tests/fixtures/decoder-tiny.pth',
  ];

  it('runs a feed-forward graph along the flow, and says so; refuses --flow with --redis', async () => {
    const clip = join(tmp, 'moving.mp4');
    // ffmpeg's test pattern scrolling: 6 frames of 64x48.
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=64x48:rate=6:duration=1,scroll=h=0.02',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      clip,
    ]);
    const out = join(tmp, 'styled.mp4');
    const r = await cli(
      'run',
      'presets/adain.json',
      '--content',
      clip,
      '--size',
      '32',
      '--flow',
      '--out',
      out,
      ...weights,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/optical flow/);
    expect(r.err).toMatch(/wrote .*styled\.mp4 \(6 frames/);
    const q = await cli(
      'run',
      'presets/adain.json',
      '--content',
      clip,
      '--flow',
      '--redis',
      'redis://localhost:6379',
      '--out',
      out,
    );
    expect(q.code).toBe(2);
    expect(q.err).toMatch(/--flow runs in this process/);
  });
});
