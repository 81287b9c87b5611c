/**
 * Flow-guided video against a plain blend (issue 26; Ruder et al. 2016; src/ops/flow.ts): MicroAST (the official
 * weights from ../shared/fixtures/microast) styles a synthetic clip made from a photo with a known motion, through the
 * run session's frames mode as `stylegraph run --content CLIP` does, four ways: each frame alone, `--blend K` (each
 * output keeps K of the previous output), and `frames.flow` with blend K (the previous output warped onto the frame by
 * the estimated optical flow, kept K where the occlusion mask trusts it).
 *
 *   npx tsx scripts/bench-flow.ts [--frames 24] [--blend 0.5] [--threads 2]
 *
 * The clip: a 160x120 window panning 2 px right and 1 px down a frame across chicago.jpg (at 320 px), with a 40x40
 * patch of golden_gate.jpg moving 3 px left and 2 px down a frame over it; whole-pixel motion, so the true flow and the
 * true occlusions are known. Measures (RGB, 0-255):
 * - warped flicker: mean |out_t - out_(t-1) moved by the TRUE motion| over the pixels visible in both frames (the
 *   measure the flow remedy aims at; with the true flow, not the estimate the remedy used);
 * - flicker: mean |out_t - out_(t-1)| (the measure of the still-scene rows in docs/benchmarks.md);
 * - drift: mean |out_t - the frame styled alone| (what a remedy changes in each frame: ghosting and lag).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtinRegistry } from '../nodes';
import { decodeImage } from '../src/cli/node/node-images';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { blendFrames, frameDifference } from '../src/cli/video/video-flicker';
import { parseDocument } from '../src/graph/document';
import { withInput } from '../src/graph/edit';
import { imageToTensor, tensorToRGBA, type RGBAImage } from '../src/ops/image';
import { runSession } from '../src/runtime/session';
import type { DecodedImage } from '../src/runtime/sources';
import { microastCheckpoints } from './bench-microast';

const { values: v } = parseArgs({
  options: { frames: { type: 'string' }, blend: { type: 'string' }, threads: { type: 'string' } },
});
const count = Number(v.frames ?? 24);
const k = Number(v.blend ?? 0.5);
const root = new URL('..', import.meta.url).pathname;
const shared = join(root, '..', 'shared', 'fixtures');
const weightsDir = join(shared, 'microast');
if (!existsSync(weightsDir)) {
  console.log(`skipped: the MicroAST checkpoints are not in ${weightsDir}`);
  process.exit(0);
}
const choice = await startNodeBackend('wasm', { threads: Number(v.threads ?? 2) });

const photo = (name: string, size: number): Promise<RGBAImage> => {
  const path = join(shared, 'photos', name);
  const t = imageToTensor(tf, decodeImage(new Uint8Array(readFileSync(path)), path), size);
  return tensorToRGBA(t).finally(() => t.dispose());
};
const background = await photo('chicago.jpg', 320);
const patch = await photo('golden_gate.jpg', 40);
const [W, H, P] = [160, 120, 40];
const pan = (t: number) => [20 + 2 * t, 10 + t] as const; // the window's top-left on the background
const object = (t: number) => [100 - 3 * t, 20 + 2 * t] as const; // the patch's top-left in the frame
function frame(t: number): DecodedImage {
  const data = new Uint8ClampedArray(W * H * 4);
  const [bx, by] = pan(t);
  const [ox, oy] = object(t);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const inPatch = x >= ox && x < ox + P && y >= oy && y < oy + P;
      const src = inPatch ? patch : background;
      const i = inPatch ? ((y - oy) * patch.width + (x - ox)) * 4 : ((y + by) * background.width + (x + bx)) * 4;
      data.set(src.data.subarray(i, i + 4), (y * W + x) * 4);
    }
  return { width: W, height: H, data };
}
const frames = Array.from({ length: count }, (_, t) => frame(t));

/** Where pixel (x, y) of frame t was in frame t - 1, or null where it was not visible there (true motion). */
function source(t: number, x: number, y: number): [number, number] | null {
  const [ox, oy] = object(t);
  const [px, py] = object(t - 1);
  if (x >= ox && x < ox + P && y >= oy && y < oy + P) {
    const [sx, sy] = [x - ox + px, y - oy + py];
    return sx >= 0 && sx < W && sy >= 0 && sy < H ? [sx, sy] : null;
  }
  const [sx, sy] = [x + 2, y + 1]; // the window moved 2 right, 1 down: the scene moves 2 left, 1 up
  if (sx >= W || sy >= H) return null;
  if (sx >= px && sx < px + P && sy >= py && sy < py + P) return null; // behind the patch in frame t - 1
  return [sx, sy];
}
function warpedFlicker(outs: DecodedImage[]): number {
  let [sum, n] = [0, 0];
  for (let t = 1; t < outs.length; t++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const s = source(t, x, y);
        if (!s) continue;
        for (let c = 0; c < 3; c++)
          sum += Math.abs(outs[t]!.data[(y * W + x) * 4 + c]! - outs[t - 1]!.data[(s[1] * W + s[0]) * 4 + c]!);
        n += 3;
      }
  return sum / n;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const flicker = (outs: DecodedImage[]) => mean(outs.slice(1).map((o, t) => frameDifference(outs[t]!, o)));

const registry = builtinRegistry();
const docPath = join(root, 'presets', 'microast.json');
const stylePath = join(shared, 'photos', 'udnie.jpg');
const model = withInput(parseDocument(readFileSync(docPath, 'utf8')).model!, registry, 'style', stylePath);
const style = decodeImage(new Uint8Array(readFileSync(stylePath)), stylePath);
const store = microastCheckpoints();

async function run(flow: boolean): Promise<{ outs: RGBAImage[]; seconds: number }> {
  const outs: RGBAImage[] = [];
  async function* feed() {
    yield* frames;
  }
  const t0 = performance.now();
  const r = await runSession(
    model,
    registry,
    { size: W, seed: 0, frames: flow ? { flow: { blend: k } } : {} },
    {
      tf,
      readImage: async () => style,
      readWeights: async () => store,
      frames: feed(),
      write: async (o) => (o.kind === 'run' && outs.push(Object.values(o.images)[0]!), []),
    },
  );
  if (r.status !== 'done') throw new Error(`${r.status}: ${r.error}`);
  return { outs, seconds: (performance.now() - t0) / 1000 };
}

const alone = await run(false);
const blended: RGBAImage[] = [];
for (const o of alone.outs) blended.push(blended.length ? blendFrames(blended.at(-1)!, o, k) : o);
const guided = await run(true);
const drift = (outs: DecodedImage[]) => mean(outs.map((o, t) => frameDifference(o, alone.outs[t]!)));
const input = { warped: warpedFlicker(frames), flicker: flicker(frames) };
console.log(
  `MicroAST (official weights), udnie.jpg, ${count} frames ${W}x${H}, ${choice.backend}${choice.threads ? ` ${choice.threads} threads` : ''}; ` +
    `the clip itself: warped ${input.warped.toFixed(2)}, flicker ${input.flicker.toFixed(2)}`,
);
console.log('| remedy | warped flicker | flicker | drift from the frame styled alone | s per frame |');
console.log('|---|---|---|---|---|');
for (const [name, outs, s] of [
  ['none', alone.outs, alone.seconds],
  [`--blend ${k}`, blended, alone.seconds],
  [`--blend ${k} --flow`, guided.outs, guided.seconds],
] as const)
  console.log(
    `| ${name} | ${warpedFlicker(outs).toFixed(2)} | ${flicker(outs).toFixed(2)} | ${drift(outs).toFixed(2)} | ${(s / count).toFixed(2)} |`,
  );
