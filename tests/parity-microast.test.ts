import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../src/cli/node/node-images';
import { registerNodeWebgpu } from '../src/cli/node/node-webgpu';
import {
  microDecodeHead,
  microDecoderFromStateDict,
  microEncode,
  microEncoderFromStateDict,
  modulate,
  modulatedResidual,
  modulatorFromStateDict,
  randomMicroDecoder,
  randomMicroEncoder,
  randomModulator,
  type MicroDecoderWeights,
  type MicroEncoderWeights,
  type ModulatorWeights,
} from '../src/models/microast';
import { adain } from '../src/models/adain';
import { readCheckpoint } from '../src/models/weights/read';
import { CheckpointError, type StateDict } from '../src/models/weights/state-dict';
import type { LoadedCheckpoint } from '../src/plugin/types';
import { fixture } from './parity';
import { loadPreset, run, tf, useWasm, withParams } from './helpers';

/**
 * MicroAST against the official network: scripts/make-microast-fixtures.py ran EndyWon/MicroAST's own
 * net_microAST.py with its trained checkpoints on a 70 x 46 photo and a 70 x 70 painting and wrote the inputs it was
 * given and what it computed (tests/fixtures/microast-parity.*). Here the same checkpoints (../shared/fixtures/microast)
 * and the same floats go through src/models/microast.ts and through presets/microast.json: every stage close to the
 * official one, the pictures within 2/255, on wasm and on tfjs's webgpu backend in Node (Dawn on SwiftShader).
 */
const shared = new URL('../../shared/fixtures/microast/', import.meta.url).pathname;
const FILES = {
  content: 'content_encoder',
  style: 'style_encoder',
  modulator: 'modulator',
  decoder: 'decoder',
} as const;
const path = (part: keyof typeof FILES) => join(shared, `${FILES[part]}_iter_160000.pth.tar`);
const missing = Object.keys(FILES).filter((p) => !existsSync(path(p as keyof typeof FILES)));
if (missing.length)
  console.warn(
    `MicroAST parity skipped: the official checkpoints are not in ${shared} (the shared test fixtures sit beside the repository in CI)`,
  );

const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
const vulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(
  existsSync,
);
if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-microast-'));
if (!process.env.XDG_RUNTIME_DIR) {
  mkdirSync(join(tmp, 'xdg'), { mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = join(tmp, 'xdg');
}
const noGpu =
  !existsSync(icd) && !process.env.VK_ICD_FILENAMES
    ? "no Vulkan driver (SwiftShader comes with Debian's chromium)"
    : !vulkan
      ? 'no Vulkan loader (libvulkan1)'
      : null;
if (noGpu && process.env.CI && !missing.length) throw new Error(`${noGpu}: .ci/run installs it`);
if (noGpu) console.warn(`MicroAST parity on webgpu skipped: ${noGpu}`);

/** The fixture: NHWC float32 arrays laid end to end in the .bin, indexed by the .json. */
const index = JSON.parse(readFileSync(fixture('microast-parity.json'), 'utf8')) as {
  arrays: Record<string, { shape: number[]; offset: number }>;
};
const floats = new Float32Array(new Uint8Array(readFileSync(fixture('microast-parity.bin'))).buffer);
function want(name: string): { shape: number[]; data: Float32Array } {
  const a = index.arrays[name];
  if (!a) throw new Error(`no array "${name}" in the fixture`);
  const n = a.shape.reduce((x, y) => x * y, 1);
  return { shape: a.shape, data: floats.subarray(a.offset, a.offset + n) };
}
const input = (name: string) => {
  const w = want(name);
  return tf.tensor4d(w.data, w.shape as [number, number, number, number]);
};

/** Largest |a - b| over the largest |b|. */
async function relErr(t: tf.Tensor, name: string): Promise<number> {
  const w = want(name);
  expect(t.shape).toEqual(w.shape);
  const got = await t.data();
  let [err, scale] = [0, 0];
  w.data.forEach((v, i) => {
    err = Math.max(err, Math.abs(got[i]! - v));
    scale = Math.max(scale, Math.abs(v));
  });
  return err / scale;
}

/** The largest difference, in 1/255 steps, between a picture (floats or 8-bit RGBA) and the official one clamped to [0, 1]. */
function worst255(got: ArrayLike<number>, name: string, rgba = false): number {
  const w = want(name);
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  let m = 0;
  w.data.forEach((v, i) => {
    const g = rgba ? got[Math.floor(i / 3) * 4 + (i % 3)]! / 255 : clamp(got[i]!);
    m = Math.max(m, Math.abs(g - clamp(v)) * 255);
  });
  return m;
}

const dict = (part: keyof typeof FILES): StateDict =>
  readCheckpoint(new Uint8Array(readFileSync(path(part))), path(part));
let nets:
  | {
      content: MicroEncoderWeights;
      style: MicroEncoderWeights;
      modulator: ModulatorWeights;
      decoder: MicroDecoderWeights;
    }
  | undefined;

beforeAll(async () => {
  await useWasm();
  if (missing.length) return;
  nets = {
    content: microEncoderFromStateDict(tf, dict('content'), 'content encoder'),
    style: microEncoderFromStateDict(tf, dict('style'), 'style encoder'),
    modulator: modulatorFromStateDict(tf, dict('modulator'), 'modulator'),
    decoder: microDecoderFromStateDict(tf, dict('decoder'), 'decoder'),
  };
}, 60_000);
afterAll(async () => {
  if (nets) Object.values(nets).forEach((n) => n.dispose());
  await tf.setBackend('wasm');
});

describe.skipIf(missing.length)('MicroAST against the official net_microAST.py', () => {
  it('every stage on wasm: encoders, modulator, dec1 within 1e-4 relative; the picture within 2/255 at alpha 1, 0.5 and 0', async () => {
    const n = nets!;
    const c = microEncode(tf, input('content'), n.content);
    const s = microEncode(tf, input('style'), n.style);
    const errors: Record<string, number> = {
      content_level1: await relErr(c.level1, 'content_level1'),
      content_level2: await relErr(c.level2, 'content_level2'),
      style_level1: await relErr(s.level1, 'style_level1'),
      style_level2: await relErr(s.level2, 'style_level2'),
    };
    const m = modulate(tf, s.level1, s.level2, n.modulator);
    for (const k of ['weight1', 'bias1', 'weight2', 'bias2'] as const) errors[k] = await relErr(m[k], k);
    const dec1 = modulatedResidual(tf, adain(tf, c.level2, s.level2), n.decoder.dec1, m.weight2, m.bias2);
    errors.dec1 = await relErr(dec1, 'dec1');
    console.log(
      'MicroAST relative errors, wasm:',
      Object.entries(errors)
        .map(([k, e]) => `${k} ${e.toExponential(1)}`)
        .join(', '),
    );
    for (const e of Object.values(errors)) expect(e).toBeLessThan(1e-4);

    for (const alpha of [1, 0.5, 0]) {
      const mix = (t: tf.Tensor4D, f: tf.Tensor4D) => tf.add(tf.mul(t, alpha), tf.mul(f, 1 - alpha)) as tf.Tensor4D;
      const x2 = modulatedResidual(
        tf,
        mix(adain(tf, c.level2, s.level2), c.level2),
        n.decoder.dec1,
        m.weight2,
        m.bias2,
      );
      const x4 = modulatedResidual(tf, mix(adain(tf, x2, s.level1), x2), n.decoder.dec2, m.weight1, m.bias1);
      const out = microDecodeHead(tf, x4, n.decoder);
      // The floats before clamping (at alpha 0.5 the official weights saturate: most of the picture is out of [0, 1]).
      const e = await relErr(out, `output_alpha${alpha}`);
      const w = worst255(await out.data(), `output_alpha${alpha}`);
      console.log(
        `MicroAST output at alpha ${alpha}, wasm: ${e.toExponential(1)} relative, picture ${w.toFixed(3)}/255`,
      );
      expect(e).toBeLessThan(1e-4);
      expect(w).toBeLessThanOrEqual(2);
      tf.dispose([x2, x4, out]);
    }
    // The official picture is a real one, not flat: the comparison means something.
    const d = want('output_alpha1').data;
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    expect(Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length)).toBeGreaterThan(0.05);
    tf.dispose([c.level1, c.level2, s.level1, s.level2, dec1, ...Object.values(m)]);
  }, 60_000);

  /** presets/microast.json on the fixture's inputs (8-bit already: as PNG data: URLs they load as the same floats). */
  async function presetPicture(alpha: number) {
    const png = (name: string) => {
      const w = want(name);
      const [, h, wd] = w.shape as [number, number, number];
      const data = new Uint8ClampedArray(h * wd * 4);
      for (let i = 0; i < h * wd; i++) {
        for (let ch = 0; ch < 3; ch++) data[i * 4 + ch] = Math.round(w.data[i * 3 + ch]! * 255);
        data[i * 4 + 3] = 255;
      }
      return `data:image/png;base64,${encodePng({ width: wd, height: h, data }).toString('base64')}`;
    };
    const model = withParams(loadPreset('microast.json'), {
      'content.source': png('content'),
      'style.source': png('style'),
      'adain2.alpha': alpha,
      'adain1.alpha': alpha,
    });
    const ckpts: LoadedCheckpoint[] = (Object.keys(FILES) as (keyof typeof FILES)[]).map((p) => ({
      name: `microast-${p === 'content' || p === 'style' ? `${p}-encoder` : p}`,
      source: path(p),
      tensors: dict(p),
    }));
    const r = await run(model, 70, {}, undefined, ckpts);
    expect(r.status).toBe('done');
    expect(r.weights.join('\n')).not.toMatch(/random/);
    const out = Object.values(r.outputs)[0]!;
    expect([out.height, out.width]).toEqual(want(`output_alpha${alpha}`).shape.slice(1, 3));
    return worst255(out.data, `output_alpha${alpha}`, true);
  }

  it.each([1, 0])(
    'presets/microast.json on wasm at alpha %s (both AdaIN nodes): within 2/255 of the official picture',
    async (alpha) => {
      const w = await presetPicture(alpha);
      console.log(`presets/microast.json at alpha ${alpha}, wasm: ${w.toFixed(3)}/255`);
      expect(w).toBeLessThanOrEqual(2);
    },
    60_000,
  );

  it.skipIf(noGpu)(
    'presets/microast.json on webgpu (Dawn, SwiftShader) at 70 px: within 2/255 of the official picture',
    async () => {
      const gpu = await registerNodeWebgpu(true);
      if ('reason' in gpu) throw new Error(`webgpu: ${gpu.reason}`);
      expect(await tf.setBackend('webgpu')).toBe(true);
      try {
        const w = await presetPicture(1);
        console.log(`presets/microast.json, webgpu (${gpu.adapter}): ${w.toFixed(3)}/255`);
        expect(w).toBeLessThanOrEqual(2);
      } finally {
        await tf.setBackend('wasm');
      }
    },
    300_000,
  );

  it('a checkpoint given to the wrong part is refused, naming the layer', () => {
    expect(() => microEncoderFromStateDict(tf, dict('decoder'), 'decoder_iter_160000.pth.tar')).toThrow(
      /MicroAST encoder from decoder_iter_160000\.pth\.tar does not fit the network: first mismatch at layer "enc1\.0\.conv_layer\.weight": expected \[16, 3, 9, 9\], found no such tensor/,
    );
    expect(() => microDecoderFromStateDict(tf, dict('modulator'), 'modulator.pth')).toThrow(
      /layer "dec1\.conv1\.conv_layer\.weight"/,
    );
  });
});

describe('MicroAST weights', () => {
  beforeAll(useWasm);

  /** A state dict of the decoder's shapes, from seeded random weights (no fixture needed). */
  function decoderDict(): StateDict {
    const shapes: [string, number[]][] = [];
    for (const b of ['dec1', 'dec2'])
      for (const c of ['conv1', 'conv2'])
        shapes.push([`${b}.${c}.conv_layer.weight`, [64, 64, 3, 3]], [`${b}.${c}.conv_layer.bias`, [64]]);
    shapes.push(
      ['dec3.1.conv_layer.weight', [32, 2, 3, 3]],
      ['dec3.1.conv_layer.bias', [32]],
      ['dec3.3.conv_layer.weight', [32, 32, 1, 1]],
      ['dec3.3.conv_layer.bias', [32]],
      ['dec3.6.conv_layer.weight', [16, 2, 3, 3]],
      ['dec3.6.conv_layer.bias', [16]],
      ['dec3.8.conv_layer.weight', [16, 16, 1, 1]],
      ['dec3.8.conv_layer.bias', [16]],
      ['dec3.10.conv_layer.weight', [3, 16, 9, 9]],
      ['dec3.10.conv_layer.bias', [3]],
    );
    return new Map(
      shapes.map(([k, s]) => [k, { shape: s, data: new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.01) }]),
    );
  }

  it('reads a decoder state dict of the right shapes; a wrong shape or an extra tensor is an error naming the layer and both shapes', () => {
    const d = microDecoderFromStateDict(tf, decoderDict(), 'ok.pth');
    expect(d.head.map((c) => c.kind)).toEqual(['pairs', 'dense', 'pairs', 'dense', 'dense']);
    expect(d.head.map((c) => Boolean(c.blocks))).toEqual([false, false, false, false, true]);
    d.dispose();
    const wrong = decoderDict();
    wrong.set('dec3.6.conv_layer.weight', { shape: [16, 32, 3, 3], data: new Float32Array(16 * 32 * 9) });
    expect(() => microDecoderFromStateDict(tf, wrong, 'wide.pth')).toThrow(CheckpointError);
    expect(() => microDecoderFromStateDict(tf, wrong, 'wide.pth')).toThrow(
      /MicroAST decoder from wide\.pth does not fit the network: first mismatch at layer "dec3\.6\.conv_layer\.weight": expected \[16, 2, 3, 3\], found \[16, 32, 3, 3\]/,
    );
    const extra = decoderDict();
    extra.set('dec4.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => microDecoderFromStateDict(tf, extra, 'extra.pth')).toThrow(/unexpected tensor "dec4\.weight" \[1\]/);
  });

  it('a grouped conv with two inputs per output (dec3.1) is the PyTorch sum over each pair, bias included', async () => {
    // One 3x3 group conv by hand: out[g] = b[g] + sum_j sum_taps w[g, j] * x[2g + j] (reflection padding).
    const dict = decoderDict();
    const w = dict.get('dec3.1.conv_layer.weight')!;
    w.data.forEach((_, i) => (w.data[i] = Math.sin(i * 0.37)));
    dict.get('dec3.1.conv_layer.bias')!.data.forEach((_, i, a) => (a[i] = i * 0.1));
    const d = microDecoderFromStateDict(tf, dict, 'pairs.pth');
    const [h, wd] = [4, 5];
    const x = tf.tensor4d(
      Array.from({ length: h * wd * 64 }, (_, i) => Math.cos(i * 0.11)),
      [1, h, wd, 64],
    );
    const { microConv } = await import('../src/models/microast');
    const got = await microConv(tf, x, d.head[0]!, false).data();
    const xs = await x.data();
    const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
    for (const [y, xx, g] of [
      [0, 0, 0],
      [2, 3, 17],
      [3, 4, 31],
    ] as const) {
      let want = g * 0.1;
      for (let j = 0; j < 2; j++)
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++)
            want +=
              w.data[((g * 2 + j) * 3 + ky) * 3 + kx]! *
              xs[(refl(y + ky - 1, h) * wd + refl(xx + kx - 1, wd)) * 64 + g * 2 + j]!;
      expect(got[(y * wd + xx) * 32 + g]).toBeCloseTo(want, 4);
    }
    d.dispose();
    x.dispose();
  });

  it('the 9x9 conv to RGB on 2x2 blocks (space-to-depth) equals the plain conv, at sizes that are not whole blocks', async () => {
    const dict = decoderDict();
    const w = dict.get('dec3.10.conv_layer.weight')!;
    w.data.forEach((_, i) => (w.data[i] = Math.sin(i * 0.61) * 0.1));
    dict.get('dec3.10.conv_layer.bias')!.data.set([0.1, -0.2, 0.3]);
    const d = microDecoderFromStateDict(tf, dict, 'blocks.pth');
    const { microConv } = await import('../src/models/microast');
    const kernel = tf.transpose(tf.tensor4d(w.data, [3, 16, 9, 9]), [2, 3, 1, 0]) as tf.Tensor4D;
    for (const [h, wd] of [
      [13, 10],
      [16, 16],
      [9, 22],
    ] as const) {
      const x = tf.randomNormal([1, h, wd, 16], 0, 1, 'float32', h * wd) as tf.Tensor4D;
      const ref = tf.add(
        tf.conv2d(
          tf.mirrorPad(
            x,
            [
              [0, 0],
              [4, 4],
              [4, 4],
              [0, 0],
            ],
            'reflect',
          ),
          kernel,
          1,
          'valid',
        ),
        tf.tensor1d([0.1, -0.2, 0.3]),
      );
      const got = microConv(tf, x, d.head[4]!, false);
      expect(got.shape).toEqual([1, h, wd, 3]);
      expect(tf.max(tf.abs(tf.sub(got, ref))).dataSync()[0]).toBeLessThan(1e-4);
      // A copy with a kernel of its own (a trainable one) computes the plain conv with it, not the stale block form.
      const own = microConv(tf, x, { ...d.head[4]!, kernel: tf.mul(kernel, 2) as tf.Tensor4D }, false);
      const ownRef = tf.add(
        tf.conv2d(
          tf.mirrorPad(
            x,
            [
              [0, 0],
              [4, 4],
              [4, 4],
              [0, 0],
            ],
            'reflect',
          ),
          tf.mul(kernel, 2) as tf.Tensor4D,
          1,
          'valid',
        ),
        tf.tensor1d([0.1, -0.2, 0.3]),
      );
      expect(tf.max(tf.abs(tf.sub(own, ownRef))).dataSync()[0]).toBeLessThan(1e-4);
      tf.dispose([x, ref, got, own, ownRef]);
    }
    kernel.dispose();
    d.dispose();
  });

  it('seeded random fallbacks: the same weights for a seed, other weights for another seed or part', () => {
    const [a, b, c, s] = [
      randomMicroEncoder(tf, 1, 'content-encoder'),
      randomMicroEncoder(tf, 1, 'content-encoder'),
      randomMicroEncoder(tf, 2, 'content-encoder'),
      randomMicroEncoder(tf, 1, 'style-encoder'),
    ];
    const k = (e: MicroEncoderWeights) => Array.from(e.convs[0]!.kernel.dataSync());
    expect(k(a)).toEqual(k(b));
    expect(k(a)).not.toEqual(k(c));
    expect(k(a)).not.toEqual(k(s));
    expect(a.source).toBe('random (seed 1)');
    const [m, d] = [randomModulator(tf, 1), randomMicroDecoder(tf, 1)];
    const x = tf.randomUniform([1, 21, 30, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const f = microEncode(tf, x, a);
    expect(f.level2.shape).toEqual([1, 6, 8, 64]);
    const mod = modulate(tf, f.level1, f.level2, m);
    const out = microDecodeHead(tf, modulatedResidual(tf, f.level2, d.dec1, mod.weight2, mod.bias2), d);
    expect(out.shape).toEqual([1, 24, 32, 3]);
    [a, b, c, s, m, d].forEach((w) => w.dispose());
    tf.dispose([x, f.level1, f.level2, out, ...Object.values(mod)]);
  });
});
