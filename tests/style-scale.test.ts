import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as tfjs from '@tensorflow/tfjs';
import { randomVgg19Weights, VGG19_LAYERS } from '../src/models/vgg19';
import { applyRequest, parseRunRequest } from '../src/runtime/request';
import { loadPreset, registry, run, tf, useWasm, withParams } from './helpers';
import { ownCache, runCli } from './run-cli';

beforeAll(useWasm);

const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-style-scale-'));

/** A style picture 80 px wide and 60 high of smooth, unequal channels (so every Gram entry differs). */
const W = 80;
const H = 60;
const pixels = new Uint8Array(W * H * 4);
for (let y = 0; y < H; y++)
  for (let x = 0; x < W; x++) {
    const i = (y * W + x) * 4;
    pixels[i] = Math.round(127 + 120 * Math.sin(x / 5 + y / 9));
    pixels[i + 1] = Math.round(127 + 120 * Math.cos(x / 7 - y / 4));
    pixels[i + 2] = (x * 3 + y * 5) % 256;
    pixels[i + 3] = 255;
  }
const stylePath = join(tmp, 'style.png');
const png = new PNG({ width: W, height: H });
png.data = Buffer.from(pixels);
writeFileSync(stylePath, PNG.sync.write(png));
// The run reads the picture as a data: URL (a document reads files only in its own folder).
const styleUrl = `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;

const TAPS = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];

/** The Gatys preset with its style replaced by the 80x60 picture, the request's style size applied. */
function gatys(style: { styleSize?: number; styleScale?: number }) {
  const base = withParams(loadPreset('gatys.json'), {
    'optim.previewEvery': 0,
    'optim.method': 'adam',
    'optim.steps': 1,
  });
  const applied = applyRequest(base, registry, { inputs: { style: [styleUrl] }, ...style });
  expect(applied.problems).toEqual([]);
  return applied.model;
}

async function probed(style: { styleSize?: number; styleScale?: number }, size: number) {
  const keys = new Set([
    'style.image',
    ...TAPS.map((t) => `enc_style.${t}`),
    ...TAPS.map((t) => `style_${t}.target:prepared`),
  ]);
  const seen = new Map<string, { shape: number[]; data: Float32Array }>();
  const r = await run(gatys(style), size, {
    probe: { keys, read: (key, shape, data) => seen.set(key, { shape: [...shape], data: Float32Array.from(data) }) },
  });
  expect(r.status).toBe('done');
  return seen;
}

/**
 * VGG19 to relu5_1 written here with plain tf ops (torchvision input normalisation, 3x3 convs with zero padding,
 * ReLU, 2x2 average pools with stride 2 that drop an odd row or column: the preset's pooling) over the encoder's
 * seeded weights.
 */
function directTaps(image: tfjs.Tensor4D): Map<string, tfjs.Tensor4D> {
  const weights = randomVgg19Weights(tf, 'torchvision', 0);
  const out = new Map<string, tfjs.Tensor4D>();
  let x = tf.div(
    tf.sub(image, tf.tensor1d([0.485, 0.456, 0.406])),
    tf.tensor1d([0.229, 0.224, 0.225]),
  ) as tfjs.Tensor4D;
  for (const l of VGG19_LAYERS) {
    if (l.kind === 'conv') {
      const { kernel, bias } = weights.conv(l.name);
      x = tf.add(tf.conv2d(x, kernel, 1, 'same'), bias) as tfjs.Tensor4D;
    } else if (l.kind === 'relu') x = tf.relu(x);
    else x = tf.avgPool(x, 2, 2, 'valid');
    if (TAPS.includes(l.name)) out.set(l.name, tf.keep(x));
    if (l.name === 'relu5_1') break;
  }
  weights.dispose();
  return out;
}

/** The largest difference between two arrays, relative to the largest magnitude of the reference. */
function relError(a: Float32Array, ref: Float32Array): number {
  expect(a.length).toBe(ref.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - ref[i]!));
    m = Math.max(m, Math.abs(ref[i]!));
  }
  return d / m;
}

describe('style scale: the style picture sized apart from the output', () => {
  it('a 40 px style at a 32 px run: the style image, its VGG taps (pools halve, floor) and its Grams', async () => {
    const seen = await probed({ styleSize: 40 }, 32);
    // The picture itself: 80x60 to a longest side of 40 is one 2x2 average, computed here directly.
    const resized = tf.tidy(() => {
      const rgb = tf.div(tf.slice(tf.tensor3d(Float32Array.from(pixels), [H, W, 4]), [0, 0, 0], [H, W, 3]), 255);
      return tf.avgPool(rgb.expandDims(0) as tfjs.Tensor4D, 2, 2, 'valid');
    });
    const img = seen.get('style.image')!;
    expect(img.shape).toEqual([1, 30, 40, 3]);
    expect(relError(img.data, resized.dataSync() as Float32Array)).toBeLessThan(1e-5);
    // relu1_1 at 30x40; each pool halves, rounding down: 15x20, 7x10, 3x5, 1x2.
    const expected: [number, number][] = [];
    for (let h = 30, w = 40, i = 0; i < TAPS.length; i++, h = Math.floor(h / 2), w = Math.floor(w / 2))
      expected.push([h, w]);
    expect(expected).toEqual([
      [30, 40],
      [15, 20],
      [7, 10],
      [3, 5],
      [1, 2],
    ]);
    // The run's Grams (the style losses' prepared targets, normalisation "gatys": F^T F) against F^T F of VGG19
    // computed here on the picture resized here.
    const direct = [...directTaps(resized).values()];
    resized.dispose();
    for (const [i, tap] of TAPS.entries()) {
      const f = seen.get(`enc_style.${tap}`)!;
      const c = f.shape[3]!;
      expect(f.shape.slice(0, 3)).toEqual([1, ...expected[i]!]);
      expect(direct[i]!.shape).toEqual(f.shape);
      const gram = tf.tidy(() => {
        const m = tf.reshape(direct[i]!, [-1, c]) as tfjs.Tensor2D;
        return tf.matMul(m, m, true, false);
      });
      const target = seen.get(`style_${tap}.target:prepared`)!;
      expect(target.shape).toEqual([c, c]);
      expect(relError(target.data, gram.dataSync() as Float32Array)).toBeLessThan(1e-4);
      gram.dispose();
    }
    tf.dispose(direct);
  });

  it('the style follows its own size, not the run size: a scale of 0.5 at 64 px equals a size of 32 px', async () => {
    const bySize = await probed({ styleSize: 32 }, 32);
    const byScale = await probed({ styleScale: 0.5 }, 64);
    const atRun = await probed({}, 64);
    expect(byScale.get('enc_style.relu1_1')!.shape).toEqual([1, 24, 32, 64]);
    expect(atRun.get('enc_style.relu1_1')!.shape).toEqual([1, 48, 64, 64]);
    for (const tap of TAPS) {
      const key = `style_${tap}.target:prepared`;
      expect(relError(byScale.get(key)!.data, bySize.get(key)!.data)).toBeLessThan(1e-5);
    }
    // Another style size, another Gram (the sum over twice the positions, and other features).
    expect(
      relError(atRun.get('style_relu1_1.target:prepared')!.data, byScale.get('style_relu1_1.target:prepared')!.data),
    ).toBeGreaterThan(0.1);
  });

  it('the request refuses a size and a scale together, and a graph without a style slot', () => {
    expect(parseRunRequest({ size: 32, seed: 0, styleSize: 40, styleScale: 0.5 }).problems?.[0]?.message).toMatch(
      /not both/,
    );
    const fast = loadPreset('fast-style.json');
    const r = applyRequest(fast, registry, { styleSize: 40 });
    expect(r.problems.map((p) => p.message).join()).toMatch(
      /styleSize: this graph has no image node with slot "style"/,
    );
  });
});

const cli = (...args: string[]) => runCli(args, { env: ownCache(tmp) });

describe('stylegraph plan --style-size / --style-scale', () => {
  it('prints the style picture at its own size for Gatys, AdaIN and SANet, and refuses bad values', async () => {
    const gatys = await cli('plan', 'presets/gatys.json', '--size', '64', '--style', stylePath, '--style-size', '48');
    expect(gatys.code).toBe(0);
    expect(gatys.stdout).toMatch(/style \(image\)\s+image 1x36x48x3/);
    expect(gatys.stdout).toMatch(/content \(image\)\s+image 1x64x/);
    expect(gatys.stdout).toMatch(/relu1_1 1x36x48x64, relu2_1 1x18x24x128/);
    for (const preset of ['adain.json', 'sanet.json']) {
      const p = await cli('plan', `presets/${preset}`, '--size', '64', '--style', stylePath, '--style-scale', '0.5');
      expect(p.code).toBe(0);
      expect(p.stdout).toMatch(/style \(image\)\s+image 1x24x32x3/);
    }
    const both = await cli('plan', 'presets/gatys.json', '--size', '64', '--style-size', '48', '--style-scale', '2');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--style-size and --style-scale/);
    const bad = await cli('plan', 'presets/gatys.json', '--style-scale', '0');
    expect(bad.stderr).toMatch(/--style-scale must be/);
  }, 60_000);
});
