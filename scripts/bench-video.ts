/**
 * Video from the command line (issue 20), measured in one run: `npx tsx scripts/bench-video.ts [--smoke]`.
 * Prints markdown for docs/benchmarks.md ("Video from the command line"); timings are reported, never asserted.
 *
 *   1. Throughput: AdaIN (presets/adain.json) on wasm at 128 and 256 px, from `stylegraph run --content clip.mp4`:
 *      the first frame (backend, weights, the style's encoding) and frames per second after it.
 *   2. Flicker: the mean absolute difference between consecutive output frames (RGB, 0-255) on a still picture with
 *      fresh noise in every frame, with and without the remedies (--blend K for AdaIN, --warm-start for Gatys), and
 *      what blending costs on a moving clip (how far each blended frame is from the unblended one).
 *   3. Memory over a long clip: the process's RSS early in the clip and at its end.
 *
 * Networks run on seeded random weights at full width (no trained checkpoints on this machine): frames per second do
 * not depend on the weights, but the flicker figures of random networks are only indicative.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, type Io } from '../src/cli/main';
import { decodeFrames, findVideoTools } from '../src/cli/video/video';
import { flicker, frameDifference } from '../src/cli/video/video-flicker';

const smoke = process.argv.includes('--smoke');
const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-bench-video-'));
// An empty weight cache: every run uses the same random weights whatever this machine has cached.
process.env.STYLEGRAPH_CACHE = join(tmp, 'cache');
const tools = await findVideoTools();
const ffmpeg = (...args: string[]) => execFileSync(tools.ffmpeg, ['-v', 'error', '-y', ...args]);
const tiny = [
  '--weights',
  'vgg_normalised=tests/fixtures/vgg_normalised-tiny.pth',
  '--weights',
  'adain-decoder=tests/fixtures/decoder-tiny.pth',
];

interface Report {
  frames: number;
  seconds: number;
  firstFrameSeconds: number;
  framesPerSecondAfterFirst: number | null;
}

let backendLine = '';
async function run(args: string[], onLine: (line: string) => void = () => {}): Promise<Report> {
  const report = join(tmp, `report-${Math.random().toString(36).slice(2)}.json`);
  const lines: string[] = [];
  const io: Io = { out: () => {}, err: (l) => (lines.push(l), onLine(l)), isTTY: false, cwd: root };
  const code = await main(['run', ...args, '--backend', 'wasm', '--report', report], io);
  if (code !== 0) throw new Error(`stylegraph run ${args.join(' ')}: exit ${code}\n${lines.join('\n')}`);
  backendLine = lines.find((l) => l.startsWith('backend ')) ?? backendLine;
  return JSON.parse(readFileSync(report, 'utf8')) as Report;
}

const clipFlicker = async (file: string, w: number, h: number) =>
  (await flicker(decodeFrames(tools, file, { width: w, height: h, rate: '8' }))).flicker;

/** Mean over frames of the difference between two clips of the same frames (how far a remedy moves each frame). */
async function clipDistance(a: string, b: string, w: number, h: number): Promise<number> {
  const others = decodeFrames(tools, b, { width: w, height: h, rate: '8' });
  let sum = 0;
  let n = 0;
  for await (const f of decodeFrames(tools, a, { width: w, height: h, rate: '8' })) {
    const g = await others.next();
    if (g.done) break;
    sum += frameDifference(f, g.value);
    n++;
  }
  await others.return(undefined);
  return sum / Math.max(1, n);
}

const out: string[] = [];
const say = (s = '') => {
  console.log(s);
  out.push(s);
};

// 1. Throughput.
const moving = join(tmp, 'moving.mp4');
ffmpeg(
  '-f',
  'lavfi',
  '-i',
  'testsrc=size=320x240:rate=24:duration=4',
  '-f',
  'lavfi',
  '-i',
  'sine=frequency=440:duration=4',
  '-c:v',
  'libx264',
  '-pix_fmt',
  'yuv420p',
  '-c:a',
  'aac',
  '-shortest',
  moving,
);
const sizes = smoke
  ? [[64, 3]]
  : [
      [128, 12],
      [256, 6],
    ];
const rows: string[] = [];
for (const [size, frames] of sizes) {
  const r = await run([
    'presets/adain.json',
    '--content',
    moving,
    '--out',
    join(tmp, `adain-${size}.mp4`),
    '--size',
    String(size),
    '--frames',
    `0..${frames! - 1}`,
  ]);
  rows.push(
    `| ${size} | ${r.frames} | ${r.firstFrameSeconds.toFixed(1)} s | ${r.framesPerSecondAfterFirst?.toFixed(2)} | ${(1000 / r.framesPerSecondAfterFirst!).toFixed(0)} ms |`,
  );
}
say(`### Throughput: AdaIN on wasm, a 320x240 clip (${backendLine})`);
say();
say('| size (longest side) | frames | first frame (backend, weights, style) | frames/s after it | ms per frame |');
say('|---|---|---|---|---|');
for (const r of rows) say(r);
say();

// 2. Flicker on a still, noisy picture.
const still = join(tmp, 'still.mp4');
ffmpeg(
  '-f',
  'lavfi',
  '-i',
  `smptebars=size=160x120:rate=8:duration=${smoke ? 0.5 : 2}`,
  '-vf',
  'noise=alls=24:allf=t',
  '-c:v',
  'libx264',
  '-qp',
  '0',
  '-pix_fmt',
  'yuv444p',
  still,
);
const fs = smoke ? 64 : 128;
const [fw, fh] = [fs, (fs * 3) / 4];
say(
  `### Flicker: a still picture with fresh noise in each frame (ffmpeg smptebars + noise=alls=24:allf=t, ${smoke ? 4 : 16} frames)`,
);
say();
say(
  `Mean absolute difference between consecutive frames, RGB 0-255; the input clip itself at ${fw}x${fh}: ${(await clipFlicker(still, fw, fh)).toFixed(2)}.`,
);
say();
say('| graph | remedy | flicker | / without |');
say('|---|---|---|---|');
let base = 0;
for (const blend of [0, 0.5, 0.8]) {
  const file = join(tmp, `still-adain-${blend}.mp4`);
  await run([
    'presets/adain.json',
    '--content',
    still,
    '--out',
    file,
    '--size',
    String(fs),
    ...tiny,
    ...(blend ? ['--blend', String(blend)] : []),
  ]);
  const f = await clipFlicker(file, fw, fh);
  if (!blend) base = f;
  say(
    `| AdaIN (tiny test checkpoints), ${fs} px | ${blend ? `--blend ${blend}` : 'none'} | ${f.toFixed(2)} | ${(f / base).toFixed(2)} |`,
  );
}
// The preset as it is (a cold frame starts from the same seeded noise each time), 40 L-BFGS steps a frame: with only a
// few steps a warm start flickers more, not less (each frame carries on optimising and the picture keeps moving).
const gs = 32;
const gatysSteps = smoke ? 2 : 40;
const gatysArgs = [
  'presets/gatys.json',
  '--content',
  still,
  '--size',
  String(gs),
  '--steps',
  String(gatysSteps),
  '--frames',
  smoke ? '0..2' : '0..5',
];
let gatysBase = 0;
for (const warm of [false, true]) {
  const file = join(tmp, `still-gatys-${warm}.mp4`);
  await run([...gatysArgs, '--out', file, ...(warm ? ['--warm-start'] : [])]);
  const f = await clipFlicker(file, gs, (gs * 3) / 4);
  if (!warm) gatysBase = f;
  say(
    `| Gatys (L-BFGS, ${gatysSteps} steps a frame, ${smoke ? 3 : 6} frames), ${gs} px | ${warm ? '--warm-start' : 'none'} | ${f.toFixed(2)} | ${(f / gatysBase).toFixed(2)} |`,
  );
}
say();
// What blending costs on motion: each blended frame's distance from the unblended one (ghosting, lag).
const plainMoving = join(tmp, 'moving-plain.mp4');
const blendMoving = join(tmp, 'moving-blend.mp4');
const movingFrames = smoke ? '0..3' : '0..23';
await run([
  'presets/adain.json',
  '--content',
  moving,
  '--out',
  plainMoving,
  '--size',
  String(fs),
  '--frames',
  movingFrames,
  ...tiny,
]);
await run([
  'presets/adain.json',
  '--content',
  moving,
  '--out',
  blendMoving,
  '--size',
  String(fs),
  '--frames',
  movingFrames,
  '--blend',
  '0.5',
  ...tiny,
]);
say(
  `On the moving 320x240 clip (testsrc, tiny checkpoints, ${smoke ? 4 : 24} frames at ${fs} px), --blend 0.5 moves each frame by ${(await clipDistance(plainMoving, blendMoving, fw, fh)).toFixed(2)} ` +
    `on average from the unblended frame (its ghosting), where consecutive unblended frames differ by ${(await clipFlicker(plainMoving, fw, fh)).toFixed(2)}.`,
);
say();

// 3. Memory over a long clip.
const long = join(tmp, 'long.mp4');
const longFrames = smoke ? 40 : 600;
ffmpeg(
  '-f',
  'lavfi',
  '-i',
  `testsrc=size=64x48:rate=24:duration=${longFrames / 24}`,
  '-c:v',
  'libx264',
  '-pix_fmt',
  'yuv420p',
  long,
);
const { tf } = await import('../src/cli/node/node-tf');
// Sampled at each progress line (a log gets one every tenth of the frames), after that frame was written.
const samples: { frame: string; rss: number; tensors: number; bytes: number }[] = [];
const t0 = performance.now();
const lr = await run(
  ['presets/adain.json', '--content', long, '--out', join(tmp, 'long-out.mp4'), '--size', '32', ...tiny],
  (line) => {
    const frame = /^frame (\d+)\//.exec(line)?.[1];
    const m = tf.memory();
    if (frame) samples.push({ frame, rss: process.memoryUsage().rss, tensors: m.numTensors, bytes: m.numBytes });
  },
);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
say(
  `### Memory over a long clip: ${lr.frames} frames of 64x48 through AdaIN at 32 px (tiny test checkpoints), ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
say();
say('| after frame | process RSS | tfjs tensors | tfjs bytes |');
say('|---|---|---|---|');
for (const x of samples) say(`| ${x.frame} | ${mib(x.rss)} | ${x.tensors} | ${(x.bytes / 2 ** 20).toFixed(2)} MiB |`);
say();
say(
  `Machine: ${cpus().length} cores, node ${process.version}, ffmpeg ${execFileSync(tools.ffmpeg, ['-version']).toString().split(' ')[2]}.`,
);
