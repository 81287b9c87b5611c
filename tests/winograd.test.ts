import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerNodeWebgpu } from '../src/cli/node/node-webgpu';
import { flipKernel } from '../src/models/conv';
import { mulberry32, randomNormal } from '../src/models/random';
import { randomVgg19Weights, vgg19Forward } from '../src/models/vgg19';
import {
  WINOGRAD_TRANSFORMS,
  calibrateWinograd,
  cachedWinogradFilter,
  gamma,
  releaseWinogradFilters,
  resetWinogradCalibration,
  useWinograd,
  winogradConv2d,
  winogradConv3x3,
  winogradFilter,
  disposeWinogradFilter,
  winogradRoundings,
  winogradSettings,
  winogradTimings,
  type WinogradTile,
} from '../src/ops/winograd';
import { formatPlan } from '../src/compiler/format';
import { loadPreset, planOf, tf, useWasm } from './helpers';

/**
 * Winograd's F(2x2,3x3) and F(4x4,3x3) (src/ops/winograd.ts) against tf.conv2d, forward and input gradient, at sizes
 * that are not multiples of the tile, within the float32 bound derived in `winogradRoundings`: the exact value is
 * computed here in float64 from the same float32 inputs, and the Winograd result must lie within γ_k · S of it (S:
 * the algorithm on absolute values), tf.conv2d within γ_{9 Cin} Σ |d| |g| of it, so they differ by at most the sum.
 */

type Pad = 'same' | 'valid';
interface Case {
  b: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
}

const seeded = (n: number, seed: number) => Float32Array.from(randomNormal(n, 1, mulberry32(seed)));

/** x [b, h, w, c] in float64, zero-padded by `p` on each side. */
function padded(x: Float32Array, c: Case, ch: number, p: number) {
  const [H, W] = [c.h + 2 * p, c.w + 2 * p];
  const out = new Float64Array(c.b * H * W * ch);
  for (let b = 0; b < c.b; b++)
    for (let i = 0; i < c.h; i++)
      for (let j = 0; j < c.w; j++)
        for (let k = 0; k < ch; k++)
          out[((b * H + i + p) * W + j + p) * ch + k] = x[((b * c.h + i) * c.w + j) * ch + k]!;
  return { data: out, H, W };
}

/**
 * The exact correlation (float64) of x by g, 'valid' on x padded by `p`, and the two bound magnitudes: the direct
 * sum Σ |d| |g| and Winograd's S (the algorithm on absolute values, tile by tile).
 */
function reference(x: Float32Array, g: Float32Array, c: Case, p: number, tile: WinogradTile) {
  const { m, n, BT, G, AT } = WINOGRAD_TRANSFORMS[tile];
  const { data, H, W } = padded(x, c, c.cin, p);
  const [ho, wo] = [H - 2, W - 2];
  const exact = new Float64Array(c.b * ho * wo * c.cout);
  const direct = new Float64Array(exact.length);
  const wino = new Float64Array(exact.length);
  const at = (b: number, i: number, j: number, k: number) =>
    i < H && j < W ? data[((b * H + i) * W + j) * c.cin + k]! : 0;
  const kern = (i: number, j: number, ci: number, co: number) => g[((i * 3 + j) * c.cin + ci) * c.cout + co]!;
  for (let b = 0; b < c.b; b++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let co = 0; co < c.cout; co++) {
          let [s, a] = [0, 0];
          for (let di = 0; di < 3; di++)
            for (let dj = 0; dj < 3; dj++)
              for (let ci = 0; ci < c.cin; ci++) {
                const t = at(b, i + di, j + dj, ci) * kern(di, dj, ci, co);
                s += t;
                a += Math.abs(t);
              }
          exact[((b * ho + i) * wo + j) * c.cout + co] = s;
          direct[((b * ho + i) * wo + j) * c.cout + co] = a;
        }
  // S: |A^T| Σ_c [(|G| |g_c| |G|^T) ⊙ (|B^T| |d_c| |B|)] |A| for every tile.
  const abs = (M: number[][]) => M.map((r) => r.map(Math.abs));
  const [bt, gg, a] = [abs(BT), abs(G), abs(AT)];
  const sandwich = (L: number[][], X: number[][]) =>
    L.map((lr) => L.map((lc) => lr.reduce((acc, l, r) => acc + l * lc.reduce((s2, v, q) => s2 + v * X[r]![q]!, 0), 0)));
  const U: number[][][][] = []; // [ci][co] n x n
  for (let ci = 0; ci < c.cin; ci++) {
    U.push([]);
    for (let co = 0; co < c.cout; co++)
      U[ci]!.push(
        sandwich(
          gg,
          [0, 1, 2].map((i) => [0, 1, 2].map((j) => Math.abs(kern(i, j, ci, co)))),
        ),
      );
  }
  for (let b = 0; b < c.b; b++)
    for (let ty = 0; ty * m < ho; ty++)
      for (let tx = 0; tx * m < wo; tx++) {
        const V = Array.from({ length: c.cin }, (_, ci) =>
          sandwich(
            bt,
            Array.from({ length: n }, (_, i) =>
              Array.from({ length: n }, (_, j) => Math.abs(at(b, ty * m + i, tx * m + j, ci))),
            ),
          ),
        );
        for (let co = 0; co < c.cout; co++) {
          const M = Array.from({ length: n }, (_, i) =>
            Array.from({ length: n }, (_, j) => V.reduce((s, v, ci) => s + v[i]![j]! * U[ci]![co]![i]![j]!, 0)),
          );
          const Y = sandwich(a, M);
          for (let r = 0; r < m; r++)
            for (let q = 0; q < m; q++)
              if (ty * m + r < ho && tx * m + q < wo)
                wino[((b * ho + ty * m + r) * wo + tx * m + q) * c.cout + co] = Y[r]![q]!;
        }
      }
  return { exact, direct, wino, shape: [c.b, ho, wo, c.cout] };
}

/** Checks a Winograd result and tf.conv2d's against the exact values within their bounds; returns the worst use of the bound. */
function checkBound(
  got: ArrayLike<number>,
  conv: ArrayLike<number>,
  ref: ReturnType<typeof reference>,
  tile: WinogradTile,
  cin: number,
): number {
  const [gw, gd] = [gamma(winogradRoundings(tile, cin)), gamma(9 * cin)];
  expect(got.length).toBe(ref.exact.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const bound = gw * ref.wino[i]!;
    const err = Math.abs(got[i]! - ref.exact[i]!);
    worst = Math.max(worst, err / bound);
    expect(err, `Winograd F(${tile}) output ${i}`).toBeLessThanOrEqual(bound);
    expect(Math.abs(conv[i]! - ref.exact[i]!), `tf.conv2d output ${i}`).toBeLessThanOrEqual(gd * ref.direct[i]!);
    expect(Math.abs(got[i]! - conv[i]!)).toBeLessThanOrEqual(bound + gd * ref.direct[i]!);
  }
  return worst;
}

const CASES: Case[] = [
  { b: 2, h: 13, w: 11, cin: 5, cout: 7 },
  { b: 1, h: 7, w: 9, cin: 3, cout: 4 },
];

async function forwardCase(c: Case, pad: Pad, tile: WinogradTile) {
  const xs = seeded(c.b * c.h * c.w * c.cin, 11 + c.h);
  const gs = seeded(9 * c.cin * c.cout, 17 + c.w);
  const x = tf.tensor4d(xs, [c.b, c.h, c.w, c.cin]);
  const k = tf.tensor4d(gs, [3, 3, c.cin, c.cout]);
  const f = winogradFilter(tf, k, tile);
  const y = winogradConv2d(tf, x, f, pad);
  const direct = tf.conv2d(x, k, 1, pad);
  const ref = reference(xs, gs, c, pad === 'same' ? 1 : 0, tile);
  expect(y.shape).toEqual(ref.shape);
  const worst = checkBound(await y.data(), await direct.data(), ref, tile, c.cin);
  // The bound is tight enough to catch a wrong coefficient (an O(1) error): here at most 5e-5 (F(2x2)) and 2.4e-3
  // (F(4x4)) of the outputs' scale; the errors measured use at most 1.2% of it.
  const scale = ref.exact.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
  const widest = ref.wino.reduce((s, v) => Math.max(s, v), 0) * gamma(winogradRoundings(tile, c.cin));
  if (process.env.WINOGRAD_BOUNDS)
    console.log(
      `F(${tile}) ${pad} ${c.h}x${c.w}: bound/scale ${(widest / scale).toExponential(1)}, error/bound at most ${worst.toFixed(3)}`,
    );
  expect(widest / scale).toBeLessThan(1e-2);
  disposeWinogradFilter(tf, f);
  tf.dispose([x, k, y, direct]);
  return worst;
}

/** The input gradient: dL/dx of sum(conv(x) * r) is the 'same' conv of r with the flipped kernel ('valid': of r padded by 2). */
async function gradientCase(c: Case, pad: Pad, tile: WinogradTile) {
  const xs = seeded(c.b * c.h * c.w * c.cin, 23 + c.h);
  const gs = seeded(9 * c.cin * c.cout, 29 + c.w);
  const x = tf.tensor4d(xs, [c.b, c.h, c.w, c.cin]);
  const k = tf.tensor4d(gs, [3, 3, c.cin, c.cout]);
  const flipped = flipKernel(tf, k);
  const out: Case =
    pad === 'same' ? { ...c, cin: c.cout, cout: c.cin } : { ...c, h: c.h - 2, w: c.w - 2, cin: c.cout, cout: c.cin };
  const rs = seeded(out.b * out.h * out.w * out.cin, 31);
  const r = tf.tensor4d(rs, [out.b, out.h, out.w, out.cin]);
  const loss = (conv: (a: tf.Tensor4D) => tf.Tensor4D) => (a: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D), r));
  const gw = tf.grad(loss((a) => winogradConv3x3(tf, a, { kernel: k, flipped }, pad, tile)))(x);
  const gd = tf.grad(loss((a) => tf.conv2d(a, k, 1, pad)))(x);
  const fs = (await flipped.data()) as Float32Array;
  const ref = reference(rs, fs, out, pad === 'same' ? 1 : 2, tile);
  expect(gw.shape).toEqual(ref.shape);
  const worst = checkBound(await gw.data(), await gd.data(), ref, tile, out.cin);
  releaseWinogradFilters(tf, k);
  releaseWinogradFilters(tf, flipped);
  tf.dispose([x, k, flipped, r, gw, gd]);
  return worst;
}

const grid = CASES.flatMap((c) =>
  (['same', 'valid'] as const).flatMap((pad) =>
    ([2, 4] as const).map(
      (tile) => [`${c.h}x${c.w}, ${c.cin}->${c.cout}, ${pad}, F(${tile}x${tile},3x3)`, c, pad, tile] as const,
    ),
  ),
);

describe('Winograd on wasm', () => {
  beforeAll(useWasm);

  it.each(grid)('forward %s within the float32 bound', async (_name, c, pad, tile) => {
    expect(await tf.getBackend()).toBe('wasm');
    await forwardCase(c, pad, tile);
  });

  it.each(grid)('input gradient %s within the float32 bound', async (_name, c, pad, tile) => {
    await gradientCase(c, pad, tile);
  });

  it('F(4x4,3x3) is less accurate than F(2x2,3x3): its bound and its error are larger on the same data', async () => {
    const c = CASES[0]!;
    const xs = seeded(c.b * c.h * c.w * c.cin, 5);
    const gs = seeded(9 * c.cin * c.cout, 6);
    const [r2, r4] = [reference(xs, gs, c, 1, 2), reference(xs, gs, c, 1, 4)];
    const max = (a: Float64Array) => a.reduce((s, v) => Math.max(s, v), 0);
    expect(max(r4.wino)).toBeGreaterThan(4 * max(r2.wino));
    const x = tf.tensor4d(xs, [c.b, c.h, c.w, c.cin]);
    const k = tf.tensor4d(gs, [3, 3, c.cin, c.cout]);
    const err = async (tile: WinogradTile) => {
      const f = winogradFilter(tf, k, tile);
      const y = (await winogradConv2d(tf, x, f, 'same').data()) as Float32Array;
      disposeWinogradFilter(tf, f);
      return y.reduce((s, v, i) => Math.max(s, Math.abs(v - r2.exact[i]!)), 0);
    };
    expect(await err(4)).toBeGreaterThan(await err(2));
    tf.dispose([x, k]);
  });

  it('a 1x1 image and a single tile', async () => {
    await forwardCase({ b: 1, h: 1, w: 1, cin: 2, cout: 3 }, 'same', 4);
    await forwardCase({ b: 1, h: 4, w: 4, cin: 2, cout: 3 }, 'same', 4);
  });

  it('keeps one transformed filter per kernel and tile, and frees them with the kernel', () => {
    const k = tf.randomNormal([3, 3, 4, 6]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const f = cachedWinogradFilter(tf, k, 4);
    expect(cachedWinogradFilter(tf, k, 4)).toBe(f);
    expect(f.u.shape).toEqual([36, 4, 6]);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    releaseWinogradFilters(tf, k);
    expect(tf.memory().numTensors).toBe(before);
    k.dispose();
  });
});

describe('Winograd in VGG19', () => {
  beforeAll(useWasm);
  afterEach(() => {
    winogradSettings.mode = 'off';
    resetWinogradCalibration();
  });

  it('on: the taps and the input gradient of a pass match the direct convolutions (relative 1e-4), and weights free what it made', async () => {
    const image = tf.randomUniform([1, 21, 19, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    for (const variant of ['torchvision', 'normalised'] as const) {
      const w = randomVgg19Weights(tf, variant, 1);
      const run = (mode: 'on' | 'off') => {
        winogradSettings.mode = mode;
        const taps = ['conv2_2', 'relu2_1', 'relu3_1'];
        const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => {
          const f = vgg19Forward(tf, x as tf.Tensor4D, taps, w, 'avg');
          return tf.addN(taps.map((t) => tf.mean(tf.square(f[t]!)))) as tf.Scalar;
        })(image);
        return { value: value.dataSync()[0]!, grad: grad.dataSync() as Float32Array };
      };
      const off = run('off');
      const countOff = tf.memory().numTensors;
      const on = run('on');
      expect(Math.abs(on.value - off.value) / off.value).toBeLessThan(1e-4);
      const scale = off.grad.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
      const err = on.grad.reduce((s, v, i) => Math.max(s, Math.abs(v - off.grad[i]!)), 0);
      expect(scale).toBeGreaterThan(0);
      expect(err / scale, variant).toBeLessThan(1e-4);
      // The transformed filters (forward and flipped, per conv) live with the weights.
      expect(tf.memory().numTensors).toBeGreaterThan(countOff);
      w.dispose();
    }
    image.dispose();
  });

  it('auto: a shape runs direct until measured, then as measured', async () => {
    winogradSettings.mode = 'auto';
    const shape = { input: [1, 12, 12, 8], cout: 8, pad: 'same' as const };
    expect(useWinograd(tf, shape)).toBe(false);
    const timings = await calibrateWinograd(tf, 1);
    expect(timings).toHaveLength(1);
    const t = timings[0]!;
    expect(t.shape).toEqual(shape);
    expect(t.directMs).toBeGreaterThan(0);
    expect(t.winogradMs).toBeGreaterThan(0);
    expect(t.chosen).toBe(t.winogradMs < 0.95 * t.directMs);
    expect(useWinograd(tf, shape)).toBe(t.chosen);
    expect(winogradTimings()).toEqual([t]);
    winogradSettings.mode = 'off';
    expect(useWinograd(tf, shape)).toBe(false);
  });
});

describe("the plan's estimate", () => {
  it("counts the loop's VGG convs, forward and input gradient, at F(4x4,3x3)'s multiplications", async () => {
    const { plan } = await planOf(loadPreset('gatys.json'), 64);
    const passes = plan.steps.filter((s) => s.phase === 'loop' && s.kind === 'pass');
    expect(passes.length).toBeGreaterThan(0);
    // VGG19's every conv is 3x3 at stride 1: all of a pass's FLOPs can go to Winograd.
    for (const s of passes) expect(s.winogradFlops).toBe(s.flops);
    const conv = passes.reduce((a, s) => a + s.flops, 0);
    const e = plan.estimate;
    // Forward and input gradient: 2 conv FLOPs per forward one, each 4x fewer multiplications (36 per 16 outputs, not 144).
    expect(e.winograd!.flopsPerIteration).toBeCloseTo(e.flopsPerIteration - 2 * conv * (1 - 36 / 144), -3);
    expect(e.winograd!.flopsPerIteration).toBeLessThan(0.6 * e.flopsPerIteration);
    expect(formatPlan(plan)).toMatch(/with Winograd: +[\d.]+ [GM]FLOP per iteration/);
  });

  it('has no Winograd figure where the loop has no 3x3 conv to run by it', async () => {
    const { plan } = await planOf(loadPreset('adain.json'), 64);
    expect(plan.estimate.winograd).toBeUndefined();
  });
});

/**
 * WebGPU in Node (Dawn's binding, the optional `webgpu` package) on SwiftShader's Vulkan driver where this machine has
 * it (Debian's chromium): tiny sizes, it is software. Skipped with the reason without an adapter, except on CI.
 */
const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
const vulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(
  existsSync,
);
if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
if (!process.env.XDG_RUNTIME_DIR) {
  const xdg = join(mkdtempSync(join(tmpdir(), 'stylegraph-winograd-')), 'xdg');
  mkdirSync(xdg, { mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = xdg;
}
const why = !process.env.VK_ICD_FILENAMES
  ? "no Vulkan driver (SwiftShader comes with Debian's chromium)"
  : !vulkan
    ? 'no Vulkan loader (libvulkan1)'
    : null;
if (why && process.env.CI) throw new Error(`${why}: .ci/run installs it`);
if (why) console.warn(`Winograd on webgpu skipped: ${why}`);

describe.skipIf(why)('Winograd on webgpu', () => {
  beforeAll(async () => {
    await useWasm();
    const gpu = await registerNodeWebgpu(true);
    if ('reason' in gpu) throw new Error(`webgpu: ${gpu.reason}`);
    expect(await tf.setBackend('webgpu')).toBe(true);
  }, 120_000);
  afterAll(() => tf.setBackend('wasm'));

  const tiny = grid.filter(([, c]) => c.h === 7);
  it.each(tiny)(
    'forward %s within the float32 bound',
    async (_name, c, pad, tile) => {
      expect(tf.getBackend()).toBe('webgpu');
      await forwardCase(c, pad, tile);
    },
    120_000,
  );

  it.each(tiny)(
    'input gradient %s within the float32 bound',
    async (_name, c, pad, tile) => {
      await gradientCase(c, pad, tile);
    },
    120_000,
  );
});
