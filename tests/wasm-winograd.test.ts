import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, randomNormal } from '../src/models/random';
import {
  releaseWasmWinogradFilter,
  wasmWinogradConv,
  wasmWinogradEligible,
  wasmWinogradMemory,
  wasmWinogradSettings,
  wasmWinogradSupported,
} from '../src/ops/wasm-winograd';
import {
  WINOGRAD_TRANSFORMS,
  gamma,
  releaseWinogradFilters,
  winogradConv3x3,
  winogradInference,
  winogradRoundings,
  winogradSettings,
} from '../src/ops/winograd';
import { flipKernel } from '../src/models/conv';
import { tf, useWasm } from './helpers';

/**
 * The WebAssembly SIMD Winograd F(4x4,3x3) kernel (src/ops/kernels/winograd-f43.c via src/ops/wasm-winograd.ts)
 * against the exact correlation computed here in float64 from the same float32 inputs, within the float32 bound
 * src/ops/winograd.ts derives: |y - exact| <= γ_k S (S: the algorithm on absolute values). The bias adds one
 * rounding of |y| + |b| (γ_{k+1} (S + |b|) covers both) and ReLU is 1-Lipschitz, so the same bound holds after it.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const seeded = (n: number, seed: number) => Float32Array.from(randomNormal(n, 1, mulberry32(seed)));

interface Case {
  h: number;
  w: number;
  cin: number;
  cout: number;
  pad: 'same' | 'valid';
  relu: boolean;
}

/** Exact float64 output (bias and ReLU included) and the bound's magnitude S + |b| per output. */
function reference(x: Float32Array, g: Float32Array, bias: Float32Array, c: Case) {
  const { BT, G, AT } = WINOGRAD_TRANSFORMS[4];
  const e = c.pad === 'same' ? 1 : 0;
  const [H, W] = [c.h + 2 * e, c.w + 2 * e];
  const [ho, wo] = [H - 2, W - 2];
  // Tiles read past the padded input's bottom and right: zeros there, as in the kernel.
  const at = (i: number, j: number, k: number) =>
    i >= e && j >= e && i - e < c.h && j - e < c.w ? x[((i - e) * c.w + j - e) * c.cin + k]! : 0;
  const kern = (i: number, j: number, ci: number, co: number) => g[((i * 3 + j) * c.cin + ci) * c.cout + co]!;
  const exact = new Float64Array(ho * wo * c.cout);
  for (let i = 0; i < ho; i++)
    for (let j = 0; j < wo; j++)
      for (let co = 0; co < c.cout; co++) {
        let s = bias[co]!;
        for (let di = 0; di < 3; di++)
          for (let dj = 0; dj < 3; dj++)
            for (let ci = 0; ci < c.cin; ci++) s += at(i + di, j + dj, ci) * kern(di, dj, ci, co);
        exact[(i * wo + j) * c.cout + co] = c.relu ? Math.max(s, 0) : s;
      }
  const abs = (M: number[][]) => M.map((r) => r.map(Math.abs));
  const [bt, gg, aa] = [abs(BT), abs(G), abs(AT)];
  /** L X L^T. */
  const sandwich = (L: number[][], X: number[][]) =>
    L.map((lr) => L.map((lc) => lr.reduce((acc, l, r) => acc + l * lc.reduce((s, v, q) => s + v * X[r]![q]!, 0), 0)));
  const U = Array.from({ length: c.cin }, (_, ci) =>
    Array.from({ length: c.cout }, (_, co) =>
      sandwich(
        gg,
        [0, 1, 2].map((i) => [0, 1, 2].map((j) => Math.abs(kern(i, j, ci, co)))),
      ),
    ),
  );
  const magnitude = new Float64Array(exact.length);
  for (let ty = 0; ty * 4 < ho; ty++)
    for (let tx = 0; tx * 4 < wo; tx++) {
      const V = Array.from({ length: c.cin }, (_, ci) =>
        sandwich(
          bt,
          Array.from({ length: 6 }, (_, i) =>
            Array.from({ length: 6 }, (_, j) => Math.abs(at(ty * 4 + i, tx * 4 + j, ci))),
          ),
        ),
      );
      for (let co = 0; co < c.cout; co++) {
        const M = Array.from({ length: 6 }, (_, i) =>
          Array.from({ length: 6 }, (_, j) => V.reduce((s, v, ci) => s + v[i]![j]! * U[ci]![co]![i]![j]!, 0)),
        );
        const Y = sandwich(aa, M);
        for (let r = 0; r < 4; r++)
          for (let q = 0; q < 4; q++)
            if (ty * 4 + r < ho && tx * 4 + q < wo)
              magnitude[((ty * 4 + r) * wo + tx * 4 + q) * c.cout + co] = Y[r]![q]! + Math.abs(bias[co]!);
      }
    }
  return { exact, magnitude, shape: [1, ho, wo, c.cout] };
}

const CASES: Case[] = [
  { h: 4, w: 4, cin: 4, cout: 4, pad: 'same', relu: false },
  { h: 7, w: 9, cin: 8, cout: 12, pad: 'same', relu: true },
  { h: 13, w: 11, cin: 12, cout: 20, pad: 'valid', relu: false },
  { h: 3, w: 5, cin: 4, cout: 8, pad: 'valid', relu: true },
  { h: 10, w: 6, cin: 16, cout: 4, pad: 'same', relu: false },
  { h: 9, w: 7, cin: 64, cout: 64, pad: 'same', relu: true },
  { h: 6, w: 10, cin: 32, cout: 36, pad: 'valid', relu: false },
  // Channels padded with zeros to multiples of 4 (VGG's conv1_1 and its input gradient).
  { h: 9, w: 11, cin: 3, cout: 8, pad: 'same', relu: true },
  { h: 7, w: 6, cin: 8, cout: 3, pad: 'valid', relu: false },
  { h: 5, w: 13, cin: 5, cout: 6, pad: 'same', relu: false },
];

describe.skipIf(!wasmWinogradSupported())('wasm Winograd F(4x4,3x3) kernel', () => {
  beforeAll(useWasm);

  it('is offered on wasm for batch 1 only, any channel count', () => {
    expect(wasmWinogradEligible(tf, [1, 8, 8, 64], 64)).toBe(true);
    expect(wasmWinogradEligible(tf, [2, 8, 8, 64], 64)).toBe(false);
    expect(wasmWinogradEligible(tf, [1, 8, 8, 3], 64)).toBe(true);
    expect(wasmWinogradEligible(tf, [1, 8, 8, 64], 6)).toBe(true);
  });

  // Several blocks of tiles, the last one partial, and one block holding every tile.
  for (const blockBytes of [6 * 1024, 384 * 1024])
    for (const c of CASES)
      it(`${c.h}x${c.w} ${c.cin}->${c.cout} ${c.pad}${c.relu ? ' relu' : ''}, ${blockBytes / 1024} KB blocks: within the float32 bound`, async () => {
        const saved = wasmWinogradSettings.blockBytes;
        wasmWinogradSettings.blockBytes = blockBytes;
        const seed = c.h * 31 + c.cin;
        const [xs, gs, bs] = [
          seeded(c.h * c.w * c.cin, seed),
          seeded(9 * c.cin * c.cout, seed + 1),
          seeded(c.cout, seed + 2),
        ];
        const x = tf.tensor4d(xs, [1, c.h, c.w, c.cin]);
        const k = tf.tensor4d(gs, [3, 3, c.cin, c.cout]);
        const b = tf.tensor1d(bs);
        const before = wasmWinogradMemory().inUse;
        try {
          const y = wasmWinogradConv(tf, x, k, { pad: c.pad, bias: b, relu: c.relu });
          // The filter stays (one block, 36 Cin Cout floats, channels rounded up to 4); the call's buffers are given back.
          const up4 = (n: number) => Math.ceil(n / 4) * 4;
          expect(wasmWinogradMemory().inUse - before).toBe(36 * up4(c.cin) * up4(c.cout) * 4);
          const ref = reference(xs, gs, bs, c);
          expect(y.shape).toEqual(ref.shape);
          const got = y.dataSync();
          const g = gamma(winogradRoundings(4, c.cin) + 1);
          let worst = 0;
          let negatives = 0;
          for (let i = 0; i < got.length; i++) {
            const err = Math.abs(got[i]! - ref.exact[i]!);
            expect(err, `output ${i}`).toBeLessThanOrEqual(g * ref.magnitude[i]!);
            worst = Math.max(worst, err / (g * ref.magnitude[i]!));
            if (got[i]! < 0) negatives++;
          }
          if (c.relu) expect(negatives).toBe(0);
          // The bound is not vacuous: the errors measured use a small part of it, and it is small against the values
          // (S grows with Cin faster than the outputs do: 1.1% of the largest output at 64 channels), so a wrong
          // coefficient, an O(1) error, fails it.
          expect(worst).toBeLessThan(0.5);
          const scale = ref.exact.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
          expect(Math.max(...ref.magnitude) * g).toBeLessThan(2e-2 * scale);
          y.dispose();
          // A second call reuses the transformed filter.
          const again = wasmWinogradConv(tf, x, k, { pad: c.pad, bias: b, relu: c.relu });
          expect(Array.from(again.dataSync())).toEqual(Array.from(got));
          again.dispose();
        } finally {
          releaseWasmWinogradFilter(k);
          wasmWinogradSettings.blockBytes = saved;
          tf.dispose([x, k, b]);
        }
        expect(wasmWinogradMemory().inUse).toBe(before);
      });

  it('without a bias, matches tf.conv2d within both bounds (same sums, different order)', () => {
    const x = tf.tensor4d(seeded(11 * 14 * 8, 5), [1, 11, 14, 8]);
    const k = tf.tensor4d(seeded(9 * 8 * 16, 6), [3, 3, 8, 16]);
    const y = wasmWinogradConv(tf, x, k, { pad: 'same' });
    const d = tf.conv2d(x, k, 1, 'same');
    expect(y.shape).toEqual(d.shape);
    const [a, b] = [y.dataSync() as Float32Array, d.dataSync() as Float32Array];
    const scale = b.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(1e-4 * scale);
    releaseWasmWinogradFilter(k);
    tf.dispose([x, k, y, d]);
  });
});

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => Math.max(s, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((s, v, i) => Math.max(s, Math.abs(v - b[i]!)), 0);

describe.skipIf(!wasmWinogradSupported())('src/ops/winograd.ts on the wasm kernel', () => {
  beforeAll(useWasm);

  for (const pad of ['same', 'valid'] as const)
    it(`winogradConv3x3 (${pad}): forward and input gradient run on the kernel, as tf.conv2d's within 1e-5 of their scale`, () => {
      const x = tf.tensor4d(seeded(10 * 13 * 8, 41), [1, 10, 13, 8]);
      const k = tf.tensor4d(seeded(9 * 8 * 12, 42), [3, 3, 8, 12]);
      const flipped = flipKernel(tf, k);
      const r = tf.tensor4d(
        seeded(pad === 'same' ? 10 * 13 * 12 : 8 * 11 * 12, 43),
        pad === 'same' ? [1, 10, 13, 12] : [1, 8, 11, 12],
      );
      const before = wasmWinogradMemory().inUse;
      const loss = (conv: (a: tf.Tensor4D) => tf.Tensor4D) => (a: tf.Tensor) =>
        tf.sum(tf.mul(conv(a as tf.Tensor4D), r));
      const y = winogradConv3x3(tf, x, { kernel: k, flipped }, pad, 4);
      const g = tf.grad(loss((a) => winogradConv3x3(tf, a, { kernel: k, flipped }, pad, 4)))(x);
      // Both transformed filters (kernel and flipped kernel, 36 x 8 x 12 floats each) are in the kernel's memory.
      expect(wasmWinogradMemory().inUse - before).toBe(2 * 36 * 8 * 12 * 4);
      const yd = tf.conv2d(x, k, 1, pad);
      const gd = tf.grad(loss((a) => tf.conv2d(a, k, 1, pad)))(x);
      for (const [a, b] of [
        [y, yd],
        [g, gd],
      ] as const) {
        expect(a.shape).toEqual(b.shape);
        const [av, bv] = [a.dataSync(), b.dataSync()];
        expect(maxDiff(av, bv)).toBeLessThan(1e-5 * maxAbs(bv));
      }
      releaseWinogradFilters(tf, k);
      releaseWinogradFilters(tf, flipped);
      expect(wasmWinogradMemory().inUse).toBe(before);
      tf.dispose([x, k, flipped, r, y, g, yd, gd]);
    });

  it('winogradInference: off and under a gradient tape, none; on, the kernel with bias and ReLU; auto, whichever it timed faster', () => {
    const saved = winogradSettings.networks;
    const x = tf.tensor4d(seeded(12 * 12 * 16, 51), [1, 12, 12, 16]);
    const k = tf.tensor4d(seeded(9 * 16 * 16, 52), [3, 3, 16, 16]);
    const b = tf.tensor1d(seeded(16, 53));
    const direct = tf.fused.conv2d({ x, filter: k, strides: 1, pad: 'valid', bias: b, activation: 'relu' });
    try {
      winogradSettings.networks = 'off';
      expect(winogradInference(tf, x, k, 'valid', { bias: b, relu: true })).toBeNull();
      winogradSettings.networks = 'on';
      let taped: tf.Tensor4D | null = null;
      tf.grad((a: tf.Tensor) => {
        taped = winogradInference(tf, a as tf.Tensor4D, k, 'valid');
        return tf.sum(a);
      })(x).dispose();
      expect(taped).toBeNull();
      expect(winogradInference(tf, x, tf.zeros([5, 5, 16, 16]) as tf.Tensor4D, 'valid')).toBeNull();
      const y = winogradInference(tf, x, k, 'valid', { bias: b, relu: true })!;
      expect(y.shape).toEqual(direct.shape);
      expect(maxDiff(y.dataSync(), direct.dataSync())).toBeLessThan(1e-5 * maxAbs(direct.dataSync()));
      expect(Math.min(...y.dataSync())).toBe(0);
      winogradSettings.networks = 'auto';
      const z = winogradInference(tf, x, k, 'valid', { bias: b, relu: true });
      // The choice is made once per shape: asked again, the same answer.
      const again = winogradInference(tf, x, k, 'valid', { bias: b, relu: true });
      expect(again === null).toBe(z === null);
      tf.dispose([y, ...(z ? [z] : []), ...(again ? [again] : [])]);
    } finally {
      winogradSettings.networks = saved;
      releaseWinogradFilters(tf, k);
      tf.dispose([x, k, b, direct]);
    }
  });
});

const clang = spawnSync('clang', ['--version']).status === 0;
describe('the committed kernel', () => {
  it.skipIf(!clang)('is what scripts/build-kernels.sh makes from winograd-f43.c (skipped without clang)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kernels-'));
    try {
      execFileSync('sh', [join(root, 'scripts/build-kernels.sh'), dir]);
      expect(readFileSync(join(dir, 'winograd-f43.ts'), 'utf8')).toBe(
        readFileSync(join(root, 'src/ops/kernels/winograd-f43.ts'), 'utf8'),
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
