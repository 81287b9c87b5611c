import type * as tfjs from '@tensorflow/tfjs';
import { WINOGRAD_F43_WASM } from './kernels/winograd-f43';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;
type Tensor1D = tfjs.Tensor1D;

/**
 * StyleGraph's own WebAssembly SIMD kernel for stride-1 3x3 convolutions by Winograd's F(4x4,3x3)
 * (src/ops/kernels/winograd-f43.c, built by scripts/build-kernels.sh): the input transform, 36 register-blocked
 * products and the output transform in one pass over blocks of tiles, with the bias and ReLU fused, in a module of
 * its own (its own memory, single-threaded). Used on the wasm backend for batch 1 (channel counts that are not
 * multiples of 4 padded with zeros to the next one): the input is copied out of tfjs's heap into the kernel's memory (zero padding for 'same' made in
 * the copy), the output copied back into a new tensor. Not differentiable by itself (`winogradConv3x3` is).
 */
interface KernelExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  wf43_conv(
    input: number,
    h2: number,
    w2: number,
    cin: number,
    u: number,
    cout: number,
    bias: number,
    out: number,
    relu: number,
    scratch: number,
    tb: number,
  ): number;
  wf43_filter(g: number, cin: number, cout: number, u: number): void;
  wf43_scratch(cin: number, cout: number, tb: number): number;
  wf43_mr(): number;
}

const PAGE = 65536;
const ALIGN = 16;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** A first-fit allocator over the kernel's memory (grown as needed, never shrunk), freed blocks merged. */
class Heap {
  private free: { at: number; size: number }[] = [];
  private sizes = new Map<number, number>();
  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
  ) {
    const start = align(base);
    if (memory.buffer.byteLength > start) this.free.push({ at: start, size: memory.buffer.byteLength - start });
  }

  alloc(bytes: number): number {
    const size = align(Math.max(bytes, ALIGN));
    let i = this.free.findIndex((b) => b.size >= size);
    if (i < 0) {
      // Grow: the last free block, when it ends where memory does, is extended; else a new one starts there.
      const top = this.memory.buffer.byteLength;
      const last = this.free[this.free.length - 1];
      const have = last && last.at + last.size === top ? last.size : 0;
      const pages = Math.ceil((size - have) / PAGE);
      this.memory.grow(pages);
      if (last && have) last.size += pages * PAGE;
      else this.free.push({ at: top, size: pages * PAGE });
      i = this.free.length - 1;
    }
    const b = this.free[i]!;
    const at = b.at;
    if (b.size === size) this.free.splice(i, 1);
    else {
      b.at += size;
      b.size -= size;
    }
    this.sizes.set(at, size);
    return at;
  }

  release(at: number): void {
    const size = this.sizes.get(at);
    if (size === undefined) throw new Error(`wasm Winograd: ${at} is not allocated`);
    this.sizes.delete(at);
    let i = this.free.findIndex((b) => b.at > at);
    if (i < 0) i = this.free.length;
    this.free.splice(i, 0, { at, size });
    // Merge with the next, then the previous.
    const next = this.free[i + 1];
    if (next && at + size === next.at) {
      this.free[i]!.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.at + prev.size === at) {
      prev.size += this.free[i]!.size;
      this.free.splice(i, 1);
    }
  }

  /** Bytes handed out now (tests check that a call gives back what it took). */
  inUse(): number {
    let n = 0;
    for (const s of this.sizes.values()) n += s;
    return n;
  }

  floats(at: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, n);
  }
}

interface Kernel {
  exports: KernelExports;
  heap: Heap;
  mr: number;
}

/** undefined: not tried yet; null: this engine cannot compile it (no WebAssembly SIMD). */
let loaded: Kernel | null | undefined;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const text = atob(s);
  const bytes = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function kernelModule(): Kernel | null {
  if (loaded !== undefined) return loaded;
  try {
    // A few KB: synchronous compilation is allowed on every engine's main thread and in workers.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(decodeBase64(WINOGRAD_F43_WASM)), {});
    const exports = instance.exports as unknown as KernelExports;
    loaded = { exports, heap: new Heap(exports.memory, exports.__heap_base.value as number), mr: exports.wf43_mr() };
  } catch {
    loaded = null;
  }
  return loaded;
}

/** Whether this engine runs the kernel (WebAssembly with SIMD128). */
export function wasmWinogradSupported(): boolean {
  return kernelModule() !== null;
}

/**
 * Whether a 3x3 stride-1 conv of this input [B, H, W, Cin] to `cout` channels can run on the kernel here: the wasm
 * backend, batch 1, an engine with WebAssembly SIMD. Channel counts that are not multiples of 4 are padded with zeros
 * to the next one (in the copies and the filter).
 */
export function wasmWinogradEligible(tf: TF, input: readonly number[], cout: number): boolean {
  return tf.getBackend() === 'wasm' && input.length === 4 && input[0] === 1 && cout > 0 && wasmWinogradSupported();
}

/** Channels rounded up to the kernel's multiple of 4 (the extra ones are zeros, in and out). */
const up4 = (c: number) => Math.ceil(c / 4) * 4;

/** A kernel's filter transformed (U = G g G^T, packed for the products) in the module's memory, channels up4. */
interface WasmFilter {
  at: number;
  cin: number;
  cout: number;
}

const filters = new Map<Tensor4D, WasmFilter>();

/** The float32 values of a tensor: a view of tfjs-wasm's heap where the backend offers one (no copy), else a copy. */
function valuesOf(tf: TF, t: tfjs.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tfjs.Tensor) => Float32Array };
  return t.dtype === 'float32' && typeof backend.typedArrayFromHeap === 'function'
    ? backend.typedArrayFromHeap(t)
    : (t.dataSync() as Float32Array);
}

function wasmFilter(tf: TF, k: Kernel, kernel: Tensor4D): WasmFilter {
  const cached = filters.get(kernel);
  if (cached) return cached;
  for (const t of [...filters.keys()]) if (t.isDisposed) releaseWasmWinogradFilter(t);
  const [kh, kw, cin, cout] = kernel.shape;
  if (kh !== 3 || kw !== 3) throw new Error(`wasm Winograd takes 3x3 kernels, not ${kh}x${kw}`);
  const [ci4, co4] = [up4(cin), up4(cout)];
  const g = k.heap.alloc(9 * ci4 * co4 * 4);
  try {
    const values = valuesOf(tf, kernel);
    const dst = k.heap.floats(g, 9 * ci4 * co4);
    if (ci4 === cin && co4 === cout) dst.set(values);
    else {
      // Zero rows and columns for the extra channels (VGG's conv1_1 has 3 inputs, its input gradient 3 outputs).
      dst.fill(0);
      for (let t = 0; t < 9; t++)
        for (let i = 0; i < cin; i++)
          dst.set(values.subarray((t * cin + i) * cout, (t * cin + i + 1) * cout), (t * ci4 + i) * co4);
    }
    const at = k.heap.alloc(36 * ci4 * co4 * 4);
    k.exports.wf43_filter(g, ci4, co4, at);
    const f = { at, cin: ci4, cout: co4 };
    filters.set(kernel, f);
    return f;
  } finally {
    k.heap.release(g);
  }
}

/** Frees the transformed filter kept for a kernel (with the tfjs ones: `releaseWinogradFilters`). */
export function releaseWasmWinogradFilter(kernel: Tensor4D): void {
  const f = filters.get(kernel);
  if (!f || !loaded) return;
  loaded.heap.release(f.at);
  filters.delete(kernel);
}

/** Bytes the kernel's memory holds for filters and (during a call) buffers; the memory's size. */
export function wasmWinogradMemory(): { inUse: number; size: number } {
  return loaded ? { inUse: loaded.heap.inUse(), size: loaded.exports.memory.buffer.byteLength } : { inUse: 0, size: 0 };
}

/** Tiles per block: the block's transformed tiles and products ([36][tb][Cin + Cout]) in about 384 KB. */
export const wasmWinogradSettings = { blockBytes: 384 * 1024 };

function tilesPerBlock(mr: number, cin: number, cout: number, tiles: number): number {
  const fit = Math.floor(wasmWinogradSettings.blockBytes / (36 * 4 * (cin + cout)) / mr) * mr;
  return Math.max(mr, Math.min(fit, Math.ceil(tiles / mr) * mr));
}

/**
 * Copies x [1, H, W, C] into the kernel's memory as [H + 2e, W + 2e, C4] with e rows and columns of zeros around
 * (and zeros in channels C..C4).
 */
function copyInput(src: Float32Array, dst: Float32Array, h: number, w: number, c0: number, e: number): void {
  const c = up4(c0);
  const w2 = w + 2 * e;
  if (c !== c0) {
    dst.fill(0);
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        dst.set(src.subarray((i * w + j) * c0, (i * w + j + 1) * c0), ((i + e) * w2 + j + e) * c);
    return;
  }
  if (e) {
    dst.fill(0, 0, e * w2 * c);
    dst.fill(0, (h + e) * w2 * c);
  }
  for (let i = 0; i < h; i++) {
    const row = (i + e) * w2 * c;
    if (e) {
      dst.fill(0, row, row + e * c);
      dst.fill(0, row + (w + e) * c, row + w2 * c);
    }
    dst.set(src.subarray(i * w * c, (i + 1) * w * c), row + e * c);
  }
}

/** Where a call's time goes, added up while `enabled` (scripts/bench-wasm-winograd.ts). */
export const wasmWinogradProfile = { enabled: false, calls: 0, copyInMs: 0, kernelMs: 0, copyOutMs: 0 };

export interface WasmWinogradOptions {
  /** 'valid': x is already padded; 'same': zeros around (made while copying). */
  pad: 'same' | 'valid';
  bias?: Tensor1D | null;
  relu?: boolean;
}

/**
 * A stride-1 3x3 convolution (correlation, like tf.conv2d) of x [1, H, W, Cin] with kernel [3, 3, Cin, Cout] on the
 * kernel module, plus a bias and a ReLU if given. The transformed filter is made on first use and kept per kernel
 * tensor (`releaseWasmWinogradFilter`). Throws where `wasmWinogradEligible` is false.
 */
export function wasmWinogradConv(tf: TF, x: Tensor4D, kernel: Tensor4D, options: WasmWinogradOptions): Tensor4D {
  const k = kernelModule();
  const [b, h, w, cin] = x.shape;
  const cout = kernel.shape[3];
  if (!k || b !== 1 || kernel.shape[2] !== cin)
    throw new Error(`wasm Winograd: cannot run [${x.shape.join(', ')}] -> ${cout} channels here`);
  const f = wasmFilter(tf, k, kernel);
  const [ci4, co4] = [f.cin, f.cout];
  const e = options.pad === 'same' ? 1 : 0;
  const [h2, w2] = [h + 2 * e, w + 2 * e];
  const [ho, wo] = [h2 - 2, w2 - 2];
  if (ho < 1 || wo < 1) throw new Error(`wasm Winograd: a ${h}x${w} input has no 'valid' 3x3 output`);
  const tb = tilesPerBlock(k.mr, ci4, co4, Math.ceil(ho / 4) * Math.ceil(wo / 4));
  const { heap, exports: ex } = k;
  const p = wasmWinogradProfile;
  const taken: number[] = [];
  const take = (bytes: number) => {
    const at = heap.alloc(bytes);
    taken.push(at);
    return at;
  };
  try {
    // A memory that cannot grow throws a RangeError here (winogradConv2d then uses tfjs's ops).
    const input = take(h2 * w2 * ci4 * 4);
    const bias = take(co4 * 4);
    const out = take(ho * wo * co4 * 4);
    const scratch = take(ex.wf43_scratch(ci4, co4, tb) * 4);
    const t0 = p.enabled ? performance.now() : 0;
    // Views made after every alloc (a grown memory detaches the old buffer).
    copyInput(valuesOf(tf, x), heap.floats(input, h2 * w2 * ci4), h, w, cin, e);
    const biasView = heap.floats(bias, co4);
    biasView.fill(0);
    if (options.bias) biasView.set(valuesOf(tf, options.bias));
    const t1 = p.enabled ? performance.now() : 0;
    const rc = ex.wf43_conv(input, h2, w2, ci4, f.at, co4, bias, out, options.relu ? 1 : 0, scratch, tb);
    if (rc !== 0) throw new Error(`wasm Winograd: the kernel refused ${h2}x${w2}x${ci4} -> ${co4} (${rc})`);
    const t2 = p.enabled ? performance.now() : 0;
    const result = heap.floats(out, ho * wo * co4);
    // tfjs-wasm copies the values into its own heap at once; extra output channels are left out first.
    const y = tf.tensor4d(co4 === cout ? result : dropChannels(result, co4, cout), [1, ho, wo, cout]);
    if (p.enabled) {
      const t3 = performance.now();
      p.calls++;
      p.copyInMs += t1 - t0;
      p.kernelMs += t2 - t1;
      p.copyOutMs += t3 - t2;
    }
    return y;
  } finally {
    for (const at of taken) heap.release(at);
  }
}

/** [N, c4] -> [N, c]: the first c channels of every pixel. */
function dropChannels(src: Float32Array, c4: number, c: number): Float32Array {
  const n = src.length / c4;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) out.set(src.subarray(i * c4, i * c4 + c), i * c);
  return out;
}
