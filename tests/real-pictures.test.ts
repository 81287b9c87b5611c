import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { main, type Io } from '../src/cli/main';
import { colourDistance, edgeCorrelation, resizeNearest, type Rgba } from './picture-stats';

/**
 * Real pictures from the command line with the real small networks (../shared/fixtures): MicroAST with any painting
 * and the fast style networks, on a photo and on a video clip (the camera presets, whose camera is the content slot).
 * A real picture is told from a random-weights one by what it keeps of the photo (its edges) and what it takes from
 * the painting (its colour statistics). Skipped with a message where the fixtures are absent.
 */
const root = new URL('..', import.meta.url).pathname;
const fixtures = join(root, '../shared/fixtures');
const present = existsSync(join(fixtures, 'microast')) && existsSync(join(fixtures, 'fast-style-wave'));
if (!present)
  console.warn(`real-pictures tests skipped: ${fixtures} is absent (clone the project with shared/ beside it)`);
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-real-'));
process.env.STYLEGRAPH_CACHE = join(tmp, 'cache');

const micro = (part: string) => join(fixtures, 'microast', `${part}_iter_160000.pth.tar`);
const MICROAST = ['content_encoder', 'style_encoder', 'modulator', 'decoder'].flatMap((p) => [
  '--weights',
  `microast-${p.replace('_', '-')}=${micro(p)}`,
]);
const photo = join(fixtures, 'photos/golden_gate.jpg');
const painting = join(fixtures, 'photos/udnie.jpg');

async function cli(...args: string[]): Promise<{ code: number; err: string }> {
  const lines: string[] = [];
  const io: Io = { out: () => {}, err: (l) => lines.push(l), isTTY: false, cwd: root };
  const code = await main(args, io);
  return { code, err: lines.join('\n') };
}

const readJpeg = (file: string): Rgba => {
  const d = jpeg.decode(readFileSync(file), { useTArray: true });
  return { data: d.data, width: d.width, height: d.height };
};
const readPng = (file: string): Rgba => {
  const p = PNG.sync.read(readFileSync(file));
  return { data: p.data, width: p.width, height: p.height };
};

/** The picture's colour distance to the painting against the photo's, and its edge correlation with the photo. */
function judge(out: Rgba, style: Rgba) {
  const content = resizeNearest(readJpeg(photo), out.width, out.height);
  return {
    towardStyle: colourDistance(out, style) / colourDistance(content, style),
    edges: edgeCorrelation(out, content),
  };
}

describe.runIf(present)('real pictures from the real small networks (CLI)', () => {
  it("MicroAST paints a photo in a painting's colours and keeps its edges; random weights do not", async () => {
    const out = join(tmp, 'microast.png');
    const r = await cli(
      'run',
      'presets/microast.json',
      '--content',
      photo,
      '--style',
      painting,
      '--size',
      '128',
      '--backend',
      'wasm',
      ...MICROAST,
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/random weights/);
    const real = judge(readPng(out), readJpeg(painting));
    const randomOut = join(tmp, 'microast-random.png');
    expect(
      (
        await cli(
          'run',
          'presets/microast.json',
          '--content',
          photo,
          '--style',
          painting,
          '--size',
          '128',
          '--backend',
          'wasm',
          '--out',
          randomOut,
        )
      ).code,
    ).toBe(0);
    const random = judge(readPng(randomOut), readJpeg(painting));
    console.log(
      `MicroAST: colour distance ratio ${real.towardStyle.toFixed(2)}, edges ${real.edges.toFixed(2)}; random weights: ${random.towardStyle.toFixed(2)}, ${random.edges.toFixed(2)}`,
    );
    expect(real.towardStyle).toBeLessThan(0.7);
    expect(real.edges).toBeGreaterThan(0.4);
    expect(real.edges).toBeGreaterThan(random.edges + 0.1);
  });

  it("a fast style network keeps the photo's edges; another network gives another picture", async () => {
    const wave = join(tmp, 'wave.png');
    const udnie = join(tmp, 'udnie.png');
    const args = ['presets/fast-style.json', '--content', photo, '--size', '128', '--backend', 'wasm'];
    expect(
      (await cli('run', ...args, '--weights', `fast-style-wave=${join(fixtures, 'fast-style-wave')}`, '--out', wave))
        .code,
    ).toBe(0);
    const u = await cli(
      'run',
      ...args,
      '--set',
      'network.network=udnie',
      '--weights',
      `fast-style-udnie=${join(fixtures, 'fast-style-udnie')}`,
      '--out',
      udnie,
    );
    expect(u.code, u.err).toBe(0);
    const [w, d] = [readPng(wave), readPng(udnie)];
    const content = resizeNearest(readJpeg(photo), w.width, w.height);
    expect(edgeCorrelation(w, content)).toBeGreaterThan(0.4);
    expect(edgeCorrelation(d, content)).toBeGreaterThan(0.3);
    // The udnie network's picture is nearer the Udnie painting's colours than the wave network's is.
    expect(colourDistance(d, readJpeg(painting))).toBeLessThan(colourDistance(w, readJpeg(painting)));
  });

  it('styles every frame of a clip through the camera presets (MicroAST and a fast style network)', async () => {
    const clip = join(tmp, 'clip.mp4');
    // Eight frames panning across the photo.
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-loop',
      '1',
      '-i',
      photo,
      '-vf',
      "scale=96:96,crop=64:64:x='t*32':y=16",
      '-t',
      '1',
      '-r',
      '8',
      '-pix_fmt',
      'yuv420p',
      clip,
    ]);
    for (const [preset, weights] of [
      ['presets/microast-camera.json', [...MICROAST, '--style', painting]],
      ['presets/fast-style-camera.json', ['--weights', `fast-style-wave=${join(fixtures, 'fast-style-wave')}`]],
    ] as const) {
      const out = join(tmp, `${preset.split('/').at(-1)}.mp4`);
      const r = await cli(
        'run',
        preset,
        '--content',
        clip,
        '--size',
        '64',
        '--backend',
        'wasm',
        ...weights,
        '--out',
        out,
      );
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/wrote .*\(8 frames/);
      // The middle frame, decoded: the photo's edges are still there under the style.
      const frame = join(tmp, `${preset.split('/').at(-1)}-4.png`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', out, '-vf', 'select=eq(n\\,4)', '-vframes', '1', frame]);
      const f = readPng(frame);
      expect(f.width).toBe(64);
      const src = join(tmp, 'src-4.png');
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', clip, '-vf', 'select=eq(n\\,4)', '-vframes', '1', src]);
      expect(edgeCorrelation(f, readPng(src))).toBeGreaterThan(0.3);
    }
  });
});
