import type * as tfjs from '@tensorflow/tfjs';
import { releaseWasmWinogradFilter, wasmWinogradConv, wasmWinogradEligible } from './wasm-winograd';

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;
type Tensor2D = tfjs.Tensor2D;
type Tensor3D = tfjs.Tensor3D;
type Tensor4D = tfjs.Tensor4D;

/**
 * Winograd's minimal filtering for stride-1 3x3 convolutions (Lavin and Gray 2016, "Fast Algorithms for
 * Convolutional Neural Networks"): F(m x m, 3 x 3) computes an m x m block of outputs from an n x n input tile
 * (n = m + 2) as Y = A^T [(G g G^T) ⊙ (B^T d B)] A. Summed over input channels, the elementwise product becomes one
 * matrix product per tile position p (n² of them): M_p = V_p U_p, [tiles x Cin] x [Cin x Cout]. F(2x2,3x3) needs
 * 16 multiplications per 4 outputs instead of 36 (2.25x fewer), F(4x4,3x3) 36 per 16 instead of 144 (4x fewer),
 * paid for by larger transform coefficients and so larger float32 rounding errors (see `winogradErrorBound`).
 * Like tf.conv2d, this is a correlation (no kernel flip).
 */
export type WinogradTile = 2 | 4;
export const WINOGRAD_TILES: readonly WinogradTile[] = [2, 4];

interface Transforms {
  m: number;
  n: number;
  BT: number[][];
  G: number[][];
  AT: number[][];
}

/** The transforms of Lavin and Gray (interpolation points 0, ±1 for F(2,3); 0, ±1, ±2 for F(4,3)). */
export const WINOGRAD_TRANSFORMS: Record<WinogradTile, Transforms> = {
  2: {
    m: 2,
    n: 4,
    BT: [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ],
    G: [
      [1, 0, 0],
      [0.5, 0.5, 0.5],
      [0.5, -0.5, 0.5],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ],
  },
  4: {
    m: 4,
    n: 6,
    BT: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    G: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -2, 0],
      [0, 1, 1, 4, 4, 0],
      [0, 1, -1, 8, -8, 1],
    ],
  },
};

/** kron(M, M), row-major: entry [a*r + b][i*c + j] = M[a][i] M[b][j] (the 2-D transform of a row-major tile). */
export function kron2(M: readonly (readonly number[])[]): number[] {
  const r = M.length;
  const c = M[0]!.length;
  const out: number[] = [];
  for (let a = 0; a < r; a++)
    for (let b = 0; b < r; b++) for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) out.push(M[a]![i]! * M[b]![j]!);
  return out;
}

/** A filter in the Winograd domain: U = G g G^T for every (Cin, Cout) pair. */
export interface WinogradFilter {
  tile: WinogradTile;
  cin: number;
  cout: number;
  /** The [3, 3, Cin, Cout] kernel it was made from (the wasm kernel of src/ops/wasm-winograd.ts transforms it itself). */
  kernel: Tensor4D;
  /** [n², Cin, Cout]: one matrix per tile position. */
  u: Tensor3D;
  /** The same matrices as n² tensors of their own (wasm caches a packed product operator per right operand). */
  parts: Tensor2D[] | null;
}

/** The tensors a filter made: its u and parts (made only on first use where the wasm kernel serves it). */
const made = new WeakMap<WinogradFilter, () => Tensor[]>();
const disposedFilters = new WeakSet<WinogradFilter>();

/**
 * Transforms a [3, 3, Cin, Cout] kernel (tensors kept: the caller disposes them with `disposeWinogradFilter`).
 * Where the wasm kernel runs F(4x4,3x3) (the wasm backend), U is made by tfjs only if a
 * call needs it (a batch of more than one): the wasm kernel keeps its own.
 */
export function winogradFilter(tf: TF, kernel: Tensor4D, tile: WinogradTile): WinogradFilter {
  const [kh, kw, cin, cout] = kernel.shape;
  if (kh !== 3 || kw !== 3) throw new Error(`Winograd F(${tile}x${tile},3x3) takes 3x3 kernels, not ${kh}x${kw}`);
  if (!(tile === 4 && wasmWinogradEligible(tf, [1, 1, 1, cin], cout))) {
    const t = transformFilter(tf, kernel, tile);
    const f = { tile, cin, cout, kernel, ...t };
    made.set(f, () => [t.u, ...(t.parts ?? [])]);
    return f;
  }
  let t: { u: Tensor3D; parts: Tensor2D[] | null } | null = null;
  const lazy = () => (t ??= transformFilter(tf, kernel, tile));
  const f: WinogradFilter = {
    tile,
    cin,
    cout,
    kernel,
    get u() {
      return lazy().u;
    },
    get parts() {
      return lazy().parts;
    },
  };
  made.set(f, () => (t ? [t.u, ...(t.parts ?? [])] : []));
  return f;
}

function transformFilter(tf: TF, kernel: Tensor4D, tile: WinogradTile): { u: Tensor3D; parts: Tensor2D[] | null } {
  const { n, G } = WINOGRAD_TRANSFORMS[tile];
  const [, , cin, cout] = kernel.shape;
  const u = tf.tidy(() =>
    tf.reshape(tf.matMul(tf.tensor2d(kron2(G), [n * n, 9]), tf.reshape(kernel, [9, cin * cout])), [n * n, cin, cout]),
  ) as Tensor3D;
  // By gather, as the tiles (unstack copies the whole tensor out of wasm's heap once per part).
  const parts = splitProducts(tf)
    ? tf.tidy(() => {
        const rows = tf.reshape(u, [n * n, cin * cout]);
        return Array.from({ length: n * n }, (_, p) =>
          tf.keep(tf.reshape(tf.gather(rows, positionIndex(tf, p)), [cin, cout]) as Tensor2D),
        );
      })
    : null;
  return { u: tf.keep(u), parts };
}

export function disposeWinogradFilter(tf: TF, f: WinogradFilter): void {
  tf.dispose(made.get(f)?.() ?? []);
  if (f.tile === 4) releaseWasmWinogradFilter(f.kernel);
  disposedFilters.add(f);
}

/**
 * tfjs-wasm runs a batched product (batch > 1) with a naive loop, about 10x slower than XNNPACK's 2-D product:
 * there the n² products are made one by one.
 */
const splitProducts = (tf: TF) => tf.getBackend() === 'wasm';

/** Small constant tensors (transform matrices), per backend instance (a backend re-registered, as wasm with another thread count, is a new one). */
const constants = new WeakMap<object, Map<string, Tensor>>();
function constant(tf: TF, key: string, make: () => Tensor): Tensor {
  const backend = tf.backend();
  let byKey = constants.get(backend);
  if (!byKey) constants.set(backend, (byKey = new Map()));
  let t = byKey.get(key);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.tidy(make));
    byKey.set(key, t);
  }
  return t;
}

const positionIndex = (tf: TF, p: number) =>
  constant(tf, `winograd-position-${p}`, () => tf.tensor1d([p], 'int32')) as tfjs.Tensor1D;

/**
 * The input transform as one depthwise convolution: an n x n window at stride m with n² outputs per channel,
 * output p = kron(B^T, B^T) row p. Its kernel is [n, n, C, n²].
 */
function inputTransformKernel(tf: TF, tile: WinogradTile, c: number): Tensor4D {
  return constant(tf, `winograd-input-${tile}-${c}`, () => {
    const { n } = WINOGRAD_TRANSFORMS[tile];
    const K = kron2(WINOGRAD_TRANSFORMS[tile].BT);
    const P = n * n;
    const data = new Float32Array(n * n * c * P);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        for (let ch = 0; ch < c; ch++)
          for (let p = 0; p < P; p++) data[((i * n + j) * c + ch) * P + p] = K[p * P + i * n + j]!;
    return tf.tensor4d(data, [n, n, c, P]);
  }) as Tensor4D;
}

/** What follows a convolution: a bias added, then a ReLU. */
export interface ConvEpilogue {
  bias?: tfjs.Tensor1D | null;
  relu?: boolean;
}

/**
 * A stride-1 3x3 convolution by Winograd's F(m x m, 3 x 3): x [B, H, W, Cin] -> [B, H, W, Cout] ('same', zero
 * padding) or [B, H-2, W-2, Cout] ('valid'), then the epilogue's bias and ReLU if given. On the wasm backend F(4x4)
 * with a batch of one runs on StyleGraph's own kernel (src/ops/wasm-winograd.ts), the
 * bias and ReLU fused; otherwise on tfjs ops: sizes that are not multiples of m are padded with zeros to whole
 * tiles and the extra outputs cut off. Not differentiable by itself (see `winogradConv3x3`).
 */
export function winogradConv2d(
  tf: TF,
  x: Tensor4D,
  f: WinogradFilter,
  pad: 'same' | 'valid',
  epilogue?: ConvEpilogue,
): Tensor4D {
  if (x.shape[3] !== f.cin) throw new Error(`Winograd: input has ${x.shape[3]} channels, the filter ${f.cin}`);
  if (f.tile === 4 && wasmWinogradEligible(tf, x.shape, f.cout))
    try {
      return wasmWinogradConv(tf, x, f.kernel, { pad, bias: epilogue?.bias, relu: epilogue?.relu });
    } catch (e) {
      // The kernel's memory could not grow (a RangeError): the same conv by tfjs's ops.
      if (!(e instanceof RangeError)) throw e;
    }
  const y = tfjsWinogradConv2d(tf, x, f, pad);
  if (!epilogue?.bias && !epilogue?.relu) return y;
  const out = tf.tidy(() => {
    const biased = epilogue.bias ? tf.add(y, epilogue.bias) : y;
    return (epilogue.relu ? tf.relu(biased) : biased) as Tensor4D;
  });
  y.dispose();
  return out;
}

function tfjsWinogradConv2d(tf: TF, x: Tensor4D, f: WinogradFilter, pad: 'same' | 'valid'): Tensor4D {
  const { m, n, AT } = WINOGRAD_TRANSFORMS[f.tile];
  const P = n * n;
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const edge = pad === 'same' ? 1 : 0;
    const [ho, wo] = [h + 2 * edge - 2, w + 2 * edge - 2];
    const [th, tw] = [Math.ceil(ho / m), Math.ceil(wo / m)];
    const T = b * th * tw;
    // Zeros around for 'same', and on the bottom and right up to whole tiles: (t-1)m + n input rows for t tiles.
    const bottom = (th - 1) * m + n - h - edge;
    const right = (tw - 1) * m + n - w - edge;
    const xp =
      edge || bottom || right
        ? tf.pad(x, [
            [0, 0],
            [edge, bottom],
            [edge, right],
            [0, 0],
          ])
        : x;
    // V = B^T d B for every tile and channel: [b, th, tw, c * n²] (channel-major), then [n², T, c].
    const d = tf.depthwiseConv2d(xp as Tensor4D, inputTransformKernel(tf, f.tile, c), m, 'valid');
    const V = tf.transpose(tf.reshape(d, [T, c, P]), [2, 0, 1]) as Tensor3D;
    // M_p = V_p U_p: one product per tile position.
    let M: Tensor;
    if (f.parts) {
      // Rows by gather: tfjs-wasm's slice (and unstack) copies the whole tensor out of the heap for every slice.
      const rows = tf.reshape(V, [P, T * c]) as Tensor2D;
      const Vs = f.parts.map((_, p) => tf.reshape(tf.gather(rows, positionIndex(tf, p)), [T, c]) as Tensor2D);
      M = tf.stack(Vs.map((v, p) => tf.matMul(v, f.parts![p]!)));
    } else M = tf.matMul(V, f.u);
    // Y = A^T M A as one product with kron(A^T, A^T): [m², T * Cout], rows (r, c) of the output block.
    const at = constant(tf, `winograd-output-${f.tile}`, () => tf.tensor2d(kron2(AT), [m * m, P])) as Tensor2D;
    const Y = tf.matMul(at, tf.reshape(M, [P, T * f.cout]) as Tensor2D);
    // [r, c, (b th tw), Cout] -> [r, (b th tw), c, Cout] -> [(b th), r, (tw c Cout)] = [b, th m, tw m, Cout].
    const rows = tf.transpose(tf.reshape(Y, [m, m, T, f.cout]), [0, 2, 1, 3]);
    const y = tf.reshape(tf.transpose(tf.reshape(rows, [m, b * th, tw * m * f.cout]), [1, 0, 2]), [
      b,
      th * m,
      tw * m,
      f.cout,
    ]) as Tensor4D;
    return th * m === ho && tw * m === wo ? y : (tf.slice(y, [0, 0, 0, 0], [b, ho, wo, f.cout]) as Tensor4D);
  });
}

/** Transformed filters, per kernel tensor and tile size, made on first use. */
const filters = new Map<Tensor4D, Map<WinogradTile, WinogradFilter>>();

/** The kernel's transformed filter for this tile size, made once and kept until `releaseWinogradFilters`. */
export function cachedWinogradFilter(tf: TF, kernel: Tensor4D, tile: WinogradTile): WinogradFilter {
  let byTile = filters.get(kernel);
  let f = byTile?.get(tile);
  if (
    f &&
    !disposedFilters.has(f) &&
    !made
      .get(f)?.()
      .some((t) => t.isDisposed)
  )
    return f;
  // A kernel disposed without a release: drop what was made for it.
  for (const k of [...filters.keys()]) if (k.isDisposed) releaseWinogradFilters(tf, k);
  if (!byTile) filters.set(kernel, (byTile = new Map()));
  f = winogradFilter(tf, kernel, tile);
  byTile.set(tile, f);
  return f;
}

/** Frees the transformed filters made for a kernel (weights call it when they are disposed). */
export function releaseWinogradFilters(tf: TF, kernel: Tensor4D): void {
  const byTile = filters.get(kernel);
  if (!byTile) return;
  for (const f of byTile.values()) disposeWinogradFilter(tf, f);
  filters.delete(kernel);
}

/**
 * A differentiable stride-1 3x3 convolution by Winograd (input gradient only: the kernel is a constant). 'same':
 * zero padding, whose input gradient is the 'same' convolution of dy with the flipped kernel; 'valid': the input
 * gradient is the 'valid' convolution of dy padded by 2 with the flipped kernel. Both gradients run by Winograd
 * with `flipped` transformed once. `winograd` says, per direction, whether to use it (else tf.conv2d).
 */
export function winogradConv3x3(
  tf: TF,
  x: Tensor4D,
  w: { kernel: Tensor4D; flipped: Tensor4D },
  pad: 'same' | 'valid',
  tile: WinogradTile,
  winograd: { forward: boolean; backward: boolean } = { forward: true, backward: true },
): Tensor4D {
  const conv = (input: Tensor4D, kernel: Tensor4D, p: 'same' | 'valid', use: boolean): Tensor4D =>
    use ? winogradConv2d(tf, input, cachedWinogradFilter(tf, kernel, tile), p) : tf.conv2d(input, kernel, 1, p);
  const f = tf.customGrad((xIn) => ({
    value: conv(xIn as Tensor4D, w.kernel, pad, winograd.forward),
    gradFunc: (dy) =>
      pad === 'same'
        ? conv(dy as Tensor4D, w.flipped, 'same', winograd.backward)
        : tf.tidy(() =>
            conv(
              tf.pad(dy as Tensor4D, [
                [0, 0],
                [2, 2],
                [2, 2],
                [0, 0],
              ]),
              w.flipped,
              'valid',
              winograd.backward,
            ),
          ),
  }));
  return f(x) as Tensor4D;
}

/**
 * The float32 error bound of `winogradConv2d`, per output, against the exact convolution of its (float32) inputs:
 * |computed - exact| <= γ_k · S, where S is the same algorithm run on absolute values,
 * S = Σ_c |A^T| [(|G| |g_c| |G|^T) ⊙ (|B^T| |d_c| |B|)] |A|, and γ_k = k u / (1 - k u), u = 2^-24. This is the
 * classical bound for sums of products in any order (Higham, Accuracy and Stability of Numerical Algorithms, ch. 3)
 * carried through each stage: each stage's relative errors multiply, so k adds up the longest chain of roundings:
 * the filter transform (9 terms, plus the rounding of G's coefficients such as 1/6), the input transform (n² terms,
 * exact integer coefficients), the product and its sum over Cin, the output transform (n² terms). S is what makes
 * F(4x4,3x3) less accurate than F(2x2,3x3): its A^T has entries up to 8 and B^T up to 5 (kron: 64 and 25), against
 * 1 for F(2x2,3x3), so S grows far beyond the direct convolution's Σ |d| |g| (whose bound is γ_{9 Cin} Σ |d| |g|).
 * tests/winograd.test.ts checks this bound.
 */
export function winogradRoundings(tile: WinogradTile, cin: number): number {
  const { n } = WINOGRAD_TRANSFORMS[tile];
  return 9 + 1 + n * n + 1 + cin + n * n;
}

export const FLOAT32_UNIT_ROUNDOFF = 2 ** -24;

export function gamma(k: number): number {
  return (k * FLOAT32_UNIT_ROUNDOFF) / (1 - k * FLOAT32_UNIT_ROUNDOFF);
}

/** Multiplications of a 3x3 'same' convolution (per output: 9 Cin Cout) over those of Winograd's product. */
export function winogradMultiplyReduction(tile: WinogradTile): number {
  const { m, n } = WINOGRAD_TRANSFORMS[tile];
  return (9 * m * m) / (n * n);
}

/**
 * off: never; on: every eligible convolution (our wasm kernel on wasm, the tfjs-op form elsewhere); auto: where it
 * measured faster on this backend (see below); kernel (the default): exactly where our wasm kernel runs it (the wasm
 * backend, a batch of one), which measured faster than XNNPACK at every VGG shape on 1 and 2 threads, and never the
 * tfjs-op form (slower than the direct conv on every backend measured).
 */
export type WinogradMode = 'off' | 'on' | 'auto' | 'kernel';
export const WINOGRAD_MODES: readonly WinogradMode[] = ['off', 'on', 'auto', 'kernel'];

/**
 * The process's choice (a run sets `mode` from its options; module state, as a run owns the backend while it runs).
 * `mode` and `tile`: VGG's convs (Gatys), forward and input gradient. `networks`: the feed-forward networks' 3x3
 * stride-1 convs (MicroAST, fast style: inference only) on the wasm kernel of src/ops/wasm-winograd.ts, wasm backend
 * only: on by default there (0.24 to 0.35x tf.conv2d's time on one thread, docs/benchmarks.md), auto (per shape where
 * timed faster, once per backend instance) or off.
 */
export const winogradSettings: { mode: WinogradMode; tile: WinogradTile; networks: WinogradMode } = {
  mode: 'kernel',
  tile: 4,
  networks: 'on',
};

export interface WinogradShape {
  /** The convolution's input [B, H, W, Cin] and its output channels. */
  input: readonly number[];
  cout: number;
  pad: 'same' | 'valid';
}

export interface WinogradTiming {
  backend: string;
  tile: WinogradTile;
  shape: WinogradShape;
  directMs: number;
  winogradMs: number;
  chosen: boolean;
}

const keyOf = (backend: string, tile: WinogradTile, s: WinogradShape) =>
  `${backend}|F${tile}|${s.pad}|${s.input.join('x')}->${s.cout}`;
/** auto's measured choices, per backend, tile and shape, for the process. */
const decisions = new Map<string, WinogradTiming>();
/** Shapes auto met without a measurement yet: they run direct until `calibrateWinograd` times them. */
const pending = new Map<string, { backend: string; tile: WinogradTile; shape: WinogradShape }>();

/** Whether this convolution runs by Winograd now (auto: only once measured faster; unmeasured shapes are noted). */
export function useWinograd(tf: TF, shape: WinogradShape): boolean {
  const { mode, tile } = winogradSettings;
  if (mode === 'off') return false;
  if (mode === 'on') return true;
  if (mode === 'kernel') return tile === 4 && wasmWinogradEligible(tf, shape.input, shape.cout);
  const backend = tf.getBackend();
  const key = keyOf(backend, tile, shape);
  const d = decisions.get(key);
  if (d) return d.chosen;
  if (!pending.has(key)) pending.set(key, { backend, tile, shape: { ...shape, input: [...shape.input] } });
  return false;
}

/** Whether auto has shapes to measure on the current backend. */
export function winogradPending(tf: TF): boolean {
  const backend = tf.getBackend();
  return [...pending.values()].some((p) => p.backend === backend);
}

/** Every measurement made in this process (the bench and the report print them). */
export function winogradTimings(): WinogradTiming[] {
  return [...decisions.values()];
}

async function timeOnce(f: () => Tensor): Promise<number> {
  const t0 = performance.now();
  const y = f();
  await y.data();
  const ms = performance.now() - t0;
  y.dispose();
  return ms;
}

/**
 * Times every pending shape on the current backend, direct (tf.conv2d) against Winograd, each once to warm up and
 * then `reps` times interleaved (the best of each counts), on seeded random data; Winograd is chosen only where it
 * is at least 5% faster. Asynchronous (a GPU's time needs a read back), so a run calls it between steps.
 */
export async function calibrateWinograd(tf: TF, reps = 2): Promise<WinogradTiming[]> {
  const backend = tf.getBackend();
  const out: WinogradTiming[] = [];
  for (const [key, p] of [...pending]) {
    if (p.backend !== backend) continue;
    pending.delete(key);
    const { input, cout, pad } = p.shape;
    const [b, h, w, cin] = input as [number, number, number, number];
    const x = tf.randomUniform([b, h, w, cin], -1, 1, 'float32', 1) as Tensor4D;
    const k = tf.randomUniform([3, 3, cin, cout], -1, 1, 'float32', 2) as Tensor4D;
    const f = winogradFilter(tf, k, p.tile);
    try {
      const direct = () => tf.conv2d(x, k, 1, pad);
      const wino = () => winogradConv2d(tf, x, f, pad);
      let [bestDirect, bestWino] = [await timeOnce(direct), await timeOnce(wino)];
      for (let i = 0; i < reps; i++) {
        bestDirect = Math.min(bestDirect, await timeOnce(direct));
        // Far slower once already: no need to confirm it.
        if (bestWino > 3 * bestDirect) break;
        bestWino = Math.min(bestWino, await timeOnce(wino));
      }
      const t: WinogradTiming = {
        backend,
        tile: p.tile,
        shape: p.shape,
        directMs: bestDirect,
        winogradMs: bestWino,
        chosen: bestWino < 0.95 * bestDirect,
      };
      decisions.set(key, t);
      out.push(t);
    } finally {
      disposeWinogradFilter(tf, f);
      tf.dispose([x, k]);
    }
  }
  return out;
}

/** Forgets auto's measurements and pending shapes (tests, and a bench that measures afresh). */
export function resetWinogradCalibration(): void {
  decisions.clear();
  pending.clear();
}

/** networks: auto's choices, per backend instance (wasm re-registered with another thread count is a new one). */
const networkChoices = new WeakMap<object, Map<string, boolean>>();

function networkChoice(tf: TF, key: string, direct: () => Tensor, wino: () => Tensor): boolean {
  const backend = tf.backend();
  let byKey = networkChoices.get(backend);
  if (!byKey) networkChoices.set(backend, (byKey = new Map()));
  let chosen = byKey.get(key);
  if (chosen === undefined) {
    // wasm runs synchronously: each timed at once, once to warm up and twice more interleaved, the best counting.
    const time = (f: () => Tensor) => {
      const t0 = performance.now();
      f().dispose();
      return performance.now() - t0;
    };
    let [d, w] = [time(direct), time(wino)];
    for (let i = 0; i < 2; i++) [d, w] = [Math.min(d, time(direct)), Math.min(w, time(wino))];
    chosen = w < 0.95 * d;
    byKey.set(key, chosen);
  }
  return chosen;
}

/**
 * An inference conv (nothing being differentiated) of a feed-forward network on the wasm Winograd kernel, where it
 * applies (a 3x3 stride-1 kernel, the wasm backend, batch 1) and `winogradSettings.networks`
 * chooses it for this shape; null where not, for the caller's own conv (tf.conv2d or tf.fused.conv2d).
 */
export function winogradInference(
  tf: TF,
  x: Tensor4D,
  kernel: Tensor4D,
  pad: 'same' | 'valid',
  epilogue?: ConvEpilogue,
): Tensor4D | null {
  const [kh, kw, , cout] = kernel.shape;
  const mode = winogradSettings.networks;
  if (mode === 'off' || kh !== 3 || kw !== 3 || tf.engine().isTapeOn()) return null;
  if (!wasmWinogradEligible(tf, x.shape, cout)) return null;
  const f = cachedWinogradFilter(tf, kernel, 4);
  const wino = () => winogradConv2d(tf, x, f, pad, epilogue);
  if (mode === 'auto') {
    const activation = epilogue?.relu ? 'relu' : 'linear';
    const direct = () =>
      tf.fused.conv2d({ x, filter: kernel, strides: 1, pad, bias: epilogue?.bias ?? undefined, activation });
    const key = `${pad}|${x.shape.join('x')}->${cout}|${activation}`;
    if (!networkChoice(tf, key, direct, wino)) return null;
  }
  return wino();
}
