import type * as tfjs from '@tensorflow/tfjs';
import { winogradInference } from '../ops/winograd';
import { blockKernel, blocksConvSame, depthToSpace } from './blocks';
import { mulberry32, randomNormal, seedFor } from './random';
import { describeDict, misfit, takeExpected, type StateDict } from './weights/state-dict';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;
type Tensor1D = tfjs.Tensor1D;

/**
 * Johnson et al.'s (2016) image transformation network in Engstrom's TensorFlow layout, as ml5 publishes and runs it
 * (ml5-library src/StyleTransfer/index.js): pixels in 0..255 ->
 *   conv 9x9 32 -> conv 3x3/2 64 -> conv 3x3/2 128 -> 5 residual blocks (two 3x3 128 convs each) ->
 *   transposed conv 3x3/2 64 -> transposed conv 3x3/2 32 -> conv 9x9 3 -> 150 tanh(x) + 127.5, clipped to 0..255.
 * Every conv has no bias and is followed by instance norm with a learnt shift and scale (eps 1e-3, the biased
 * variance), then ReLU except in a residual block's second conv and the last conv. Padding is TensorFlow's 'same'
 * (a stride-2 conv of an even side pads 0 before and 1 after; a transposed conv's output is exactly twice its input).
 *
 * The checkpoint's variables are numbered in that order: layer L (0..15) has its kernel in `Variable_{3L}` (`Variable`
 * for L = 0), its instance norm's shift in `Variable_{3L+1}` and its scale in `Variable_{3L+2}`. Kernels are
 * TensorFlow's [kh, kw, in, out] for convs and [kh, kw, out, in] for the two transposed convs (layers 13 and 14).
 */
export interface FastStyleLayer {
  /** A conv's [kh, kw, in, out] kernel; for a transposed conv, its four output phases as one 2x2 conv (see below). */
  kernel: Tensor4D;
  shift: Tensor1D;
  scale: Tensor1D;
}

export interface FastStyleWeights {
  source: string;
  layers: FastStyleLayer[];
  /**
   * The last conv (9x9, 32 -> 3) in its form on 2x2 blocks of pixels (`blocksConvSame`), used for inference while
   * `source` is that layer's kernel (a trainable copy has kernels of its own and runs the plain conv).
   */
  outBlocks?: { source: Tensor4D; kernel: Tensor4D };
  dispose(): void;
}

/** Block size of the last conv's block form: 2x2 timed faster than 3x3 and 4x4 (scripts/bench-fast-style.ts). */
const OUT_BLOCK = 2;

type Kind = 'conv' | 'res1' | 'res2' | 'up' | 'out';
/** The 16 layers: kernel size, input and output channels, stride, what they are. */
export const FAST_STYLE_LAYERS: { k: number; cin: number; cout: number; stride: number; kind: Kind }[] = [
  { k: 9, cin: 3, cout: 32, stride: 1, kind: 'conv' },
  { k: 3, cin: 32, cout: 64, stride: 2, kind: 'conv' },
  { k: 3, cin: 64, cout: 128, stride: 2, kind: 'conv' },
  ...Array.from({ length: 5 }, () => [
    { k: 3, cin: 128, cout: 128, stride: 1, kind: 'res1' as const },
    { k: 3, cin: 128, cout: 128, stride: 1, kind: 'res2' as const },
  ]).flat(),
  { k: 3, cin: 128, cout: 64, stride: 2, kind: 'up' },
  { k: 3, cin: 64, cout: 32, stride: 2, kind: 'up' },
  { k: 9, cin: 32, cout: 3, stride: 1, kind: 'out' },
];

/** The checkpoint's name of variable `id` (ml5's getVariable). */
export const variableName = (id: number): string => (id === 0 ? 'Variable' : `Variable_${id}`);

/** Every variable with the shape it must have, in the network's order. */
export function fastStyleShapes(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  FAST_STYLE_LAYERS.forEach(({ k, cin, cout, kind }, l) => {
    out.set(variableName(3 * l), kind === 'up' ? [k, k, cout, cin] : [k, k, cin, cout]);
    out.set(variableName(3 * l + 1), [cout]);
    out.set(variableName(3 * l + 2), [cout]);
  });
  return out;
}

/** The multiply-adds of one forward pass for an H x W image (for the compiler's estimates). */
export function fastStyleMacs(h: number, w: number): number {
  let [y, x] = [h, w];
  let macs = 0;
  for (const { k, cin, cout, stride, kind } of FAST_STYLE_LAYERS) {
    if (kind === 'up') {
      // A transposed conv touches each input position with every kernel tap once.
      macs += y * x * k * k * cin * cout;
      [y, x] = [y * 2, x * 2];
    } else {
      [y, x] = [Math.ceil(y / stride), Math.ceil(x / stride)];
      macs += y * x * k * k * cin * cout;
    }
  }
  return macs;
}

/** The output size: the input's, rounded so that two stride-2 convs and two 2x upsamplings give it back. */
export function fastStyleOutputSize(h: number, w: number): [number, number] {
  return [Math.ceil(Math.ceil(h / 2) / 2) * 4, Math.ceil(Math.ceil(w / 2) / 2) * 4];
}

/**
 * A stride-2 'same' transposed conv with a 3x3 kernel, as one stride-1 2x2 conv and a depth-to-space. TensorFlow
 * places input i's contribution at output 2i + t (t = 0, 1, 2; nothing is cropped before), so output 2m gets
 * W[0] x[m] + W[2] x[m-1] and output 2m+1 gets W[1] x[m], in each axis. Over x padded by one row and column
 * before, a 2x2 window at m holds (x[m-1], x[m]); the kernel's four output phases (row phase a, column phase b)
 * take the taps they need, and depth-to-space puts phase (a, b) at (2m+a, 2n+b). tfjs-wasm runs this faster than
 * tf.conv2dTranspose (its Conv2DBackpropInput: scripts/bench-fast-style.ts --transposed), with the same numbers.
 * `w` is TensorFlow's transposed-conv kernel [3, 3, out, in]; the result is [2, 2, in, 4 out].
 */
export function phaseKernel(tf: TF, w: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [, , cout, cin] = w.shape;
    const tap = (r: number, c: number) =>
      tf.transpose(tf.slice(w, [r, c, 0, 0], [1, 1, cout, cin]).reshape([cout, cin]), [1, 0]); // [in, out]
    const zero = tf.zeros([cin, cout]);
    // Which kernel tap a window row (0: x[m-1], 1: x[m]) gives output phase a, per axis.
    const taps = (phase: number, pos: number): number | null =>
      phase === 0 ? (pos === 0 ? 2 : 0) : pos === 1 ? 1 : null;
    const rows: tfjs.Tensor[] = [];
    for (let r = 0; r < 2; r++) {
      const cols: tfjs.Tensor[] = [];
      for (let c = 0; c < 2; c++) {
        const phases: tfjs.Tensor[] = [];
        for (let a = 0; a < 2; a++)
          for (let b = 0; b < 2; b++) {
            const [tr, tc] = [taps(a, r), taps(b, c)];
            phases.push(tr === null || tc === null ? zero : tap(tr, tc));
          }
        cols.push(tf.concat(phases, 1)); // [in, 4 out], phase-major as depthToSpace reads it
      }
      rows.push(tf.stack(cols)); // [2, in, 4 out]
    }
    return tf.stack(rows) as Tensor4D; // [2, 2, in, 4 out]
  });
}

/**
 * tf.depthToSpace(y, 2) as a reshape and a transpose: the same numbers, about 15x faster on tfjs-wasm (whose
 * DepthToSpace is an element-by-element loop), and no slower elsewhere. Channel (a, b, c) of input (m, n) goes to
 * output (2m + a, 2n + b), channel c.
 */
export function depthToSpace2(tf: TF, y: Tensor4D): Tensor4D {
  return tf.tidy(() => depthToSpace(tf, y, 2));
}

/** Instance norm with a learnt shift and scale (eps 1e-3, biased variance), then ReLU where asked; one multiply-add. */
function instanceNorm(tf: TF, x: Tensor4D, l: FastStyleLayer, relu: boolean): Tensor4D {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  const a = tf.mul(l.scale, tf.rsqrt(tf.add(variance, 1e-3)));
  const y = tf.add(tf.mul(x, a), tf.sub(l.shift, tf.mul(mean, a))) as Tensor4D;
  return relu ? tf.relu(y) : y;
}

/** The per-channel mean over positions of [1, H, W, C] as one average pool over the whole image: [1, 1, 1, C]. */
const channelMean = (tf: TF, x: Tensor4D): Tensor4D => tf.avgPool(x, [x.shape[1], x.shape[2]], 1, 'valid');

/**
 * The same instance norm for inference on one image, in fewer passes over the activations (tfjs-wasm: see
 * docs/benchmarks.md): the means of x and x^2 as average pools over the whole image (tf.moments transposes the
 * tensor for each of its two means, and subtracts the mean by a broadcast), variance E[x^2] - mean^2, and the scale,
 * shift and ReLU in one pass as a fused 1x1 depthwise conv with a bias. No gradient (tfjs-wasm has none for it).
 */
function instanceNormInference(tf: TF, x: Tensor4D, l: FastStyleLayer, relu: boolean): Tensor4D {
  const c = x.shape[3];
  const mean = tf.reshape(channelMean(tf, x), [c]);
  const variance = tf.relu(tf.sub(tf.reshape(channelMean(tf, tf.square(x)), [c]), tf.square(mean)));
  const a = tf.mul(l.scale, tf.rsqrt(tf.add(variance, 1e-3))) as Tensor1D;
  // A new rank-1 tensor: tfjs-wasm's fused kernels read the bias's shape from its storage, which a reshape shares.
  const bias = tf.sub(l.shift, tf.mul(mean, a)) as Tensor1D;
  const filter = tf.reshape(a, [1, 1, c, 1]) as Tensor4D;
  return tf.fused.depthwiseConv2d({ x, filter, strides: 1, pad: 'valid', bias, activation: relu ? 'relu' : 'linear' });
}

/**
 * Image [B, H, W, 3] in [0, 1] -> the stylised image in [0, 1]. The network's own output has H and W rounded up to
 * multiples of 4 (what ml5 returns); `crop` (the default) cuts it back to the input's size, from the top left.
 */
export function fastStyle(tf: TF, image: Tensor4D, weights: FastStyleWeights, crop = true): Tensor4D {
  return tf.tidy(() => {
    const L = weights.layers;
    // The inference forms where nothing is being differentiated and the batch is one image.
    const fast = !tf.engine().isTapeOn() && image.shape[0] === 1;
    const norm = fast ? instanceNormInference : instanceNorm;
    let x = tf.mul(image, 255) as Tensor4D;
    let skip: Tensor4D | null = null;
    FAST_STYLE_LAYERS.forEach(({ stride, kind }, i) => {
      const l = L[i]!;
      if (kind === 'up') {
        const [b, h, w] = x.shape;
        const y = tf.conv2d(
          tf.pad(x, [
            [0, 0],
            [1, 0],
            [1, 0],
            [0, 0],
          ]),
          l.kernel,
          1,
          'valid',
        );
        x = norm(tf, depthToSpace2(tf, y), l, true);
        if (x.shape[1] !== 2 * h || x.shape[2] !== 2 * w || x.shape[0] !== b)
          throw new Error('fast style: transposed conv has the wrong shape');
        return;
      }
      if (kind === 'res1') skip = x;
      const blocks = fast && kind === 'out' && weights.outBlocks?.source === l.kernel ? weights.outBlocks : null;
      const conv = blocks
        ? blocksConvSame(tf, x, blocks.kernel, l.kernel.shape[0], OUT_BLOCK)
        : (fast && stride === 1 && winogradInference(tf, x, l.kernel, 'same')) ||
          tf.conv2d(x, l.kernel, stride, 'same');
      const y = norm(tf, conv, l, kind === 'conv' || kind === 'res1');
      x = kind === 'res2' ? (tf.add(y, skip!) as Tensor4D) : y;
    });
    const out = tf.div(tf.clipByValue(tf.add(tf.mul(tf.tanh(x), 150), 255 / 2), 0, 255), 255) as Tensor4D;
    const [b, h, w, c] = image.shape;
    return crop && (out.shape[1] !== h || out.shape[2] !== w) ? tf.slice(out, [0, 0, 0, 0], [b, h, w, c]) : out;
  });
}

function build(
  tf: TF,
  source: string,
  raw: (name: string) => { shape: number[]; data: Float32Array },
): FastStyleWeights {
  const layers = FAST_STYLE_LAYERS.map(({ kind }, l): FastStyleLayer => {
    const k = raw(variableName(3 * l));
    const kernel4 = tf.tensor4d(k.data, k.shape as [number, number, number, number]);
    const kernel = kind === 'up' ? tf.tidy(() => phaseKernel(tf, kernel4)) : kernel4;
    if (kernel !== kernel4) kernel4.dispose();
    return {
      kernel: tf.keep(kernel),
      shift: tf.keep(tf.tensor1d(raw(variableName(3 * l + 1)).data)),
      scale: tf.keep(tf.tensor1d(raw(variableName(3 * l + 2)).data)),
    };
  });
  const last = FAST_STYLE_LAYERS.length - 1;
  const { k, cin, cout } = FAST_STYLE_LAYERS[last]!;
  const blocks = blockKernel(raw(variableName(3 * last)).data, k, cin, cout, OUT_BLOCK);
  const outBlocks = { source: layers[last]!.kernel, kernel: tf.keep(tf.tensor4d(blocks.data, blocks.shape)) };
  return {
    source,
    layers,
    outBlocks,
    dispose: () => {
      layers.forEach((l) => tf.dispose([l.kernel, l.shift, l.scale]));
      outBlocks.kernel.dispose();
    },
  };
}

/** The network from a deeplearn.js checkpoint (ml5's `models/style-transfer/NAME/`), its shapes checked first. */
export function fastStyleFromStateDict(tf: TF, dict: StateDict, source: string): FastStyleWeights {
  if (!dict.has('Variable'))
    throw misfit(`fast style network from ${source}`, [
      `layer "Variable": expected [9, 9, 3, 32], found no such tensor; the file holds ${describeDict(dict)}`,
    ]);
  const taken = takeExpected(dict, fastStyleShapes(), `fast style network from ${source}`);
  return build(tf, source, (name) => taken.get(name)!);
}

/**
 * Seeded random weights in the checkpoint's layout (He-normal kernels, shift 0, scale 1): the offline fallback,
 * clearly labelled. The picture is a texture of the photo's edges, not a painting.
 */
export function randomFastStyle(tf: TF, seed: number): FastStyleWeights {
  const shapes = fastStyleShapes();
  return build(tf, `random (seed ${seed})`, (name) => {
    const shape = shapes.get(name)!;
    const n = shape.reduce((a, b) => a * b, 1);
    // Variable_{3L+1} is a shift (0), Variable_{3L+2} a scale (1).
    if (shape.length === 1)
      return { shape, data: new Float32Array(n).fill(Number(name.split('_')[1]) % 3 === 2 ? 1 : 0) };
    const fanIn = shape[0]! * shape[1]! * shape[2]!;
    return { shape, data: randomNormal(n, Math.sqrt(2 / fanIn), mulberry32(seedFor(seed, `fast-style.${name}`))) };
  });
}
