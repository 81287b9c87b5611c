import type * as tfjs from '@tensorflow/tfjs';
import { convValid, flipKernel } from './conv';
import { mulberry32, randomNormal, seedFor } from './random';
import { padSpatial, type Padding } from '../ops/pad';
import {
  cachedWinogradFilter,
  releaseWinogradFilters,
  useWinograd,
  winogradConv2d,
  winogradConv3x3,
  winogradSettings,
} from '../ops/winograd';

export { flipKernel };

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;
type Tensor4D = tfjs.Tensor4D;

export const VGG19_BLOCKS = [2, 2, 4, 4, 4] as const;
const CHANNELS = [64, 128, 256, 512, 512] as const;

export type LayerKind = 'conv' | 'relu' | 'pool';
export interface VggLayer {
  name: string;
  kind: LayerKind;
  block: number;
  cin: number;
  cout: number;
  /** Spatial downsampling factor of this layer's output relative to the input image. */
  stride: number;
}

/** conv1_1, relu1_1, conv1_2, relu1_2, pool1, ... pool5: every tap point of VGG19's feature extractor. */
export const VGG19_LAYERS: readonly VggLayer[] = (() => {
  const layers: VggLayer[] = [];
  let cin = 3;
  VGG19_BLOCKS.forEach((convs, b) => {
    const block = b + 1;
    const cout = CHANNELS[b]!;
    const stride = 2 ** b;
    for (let n = 1; n <= convs; n++) {
      layers.push({ name: `conv${block}_${n}`, kind: 'conv', block, cin, cout, stride });
      layers.push({ name: `relu${block}_${n}`, kind: 'relu', block, cin: cout, cout, stride });
      cin = cout;
    }
    layers.push({ name: `pool${block}`, kind: 'pool', block, cin: cout, cout, stride: stride * 2 });
  });
  return layers;
})();

export const VGG19_LAYER_NAMES: readonly string[] = VGG19_LAYERS.map((l) => l.name);
export const VGG19_CONVS: readonly VggLayer[] = VGG19_LAYERS.filter((l) => l.kind === 'conv');
const layerIndex = new Map(VGG19_LAYERS.map((l, i) => [l.name, i]));

export const VGG19_VARIANTS = ['torchvision', 'caffe', 'normalised'] as const;
export type Vgg19Variant = (typeof VGG19_VARIANTS)[number];
export type Pooling = 'max' | 'avg';

export function vggLayer(name: string): VggLayer {
  const i = layerIndex.get(name);
  if (i === undefined) throw new Error(`VGG19 has no layer "${name}"`);
  return VGG19_LAYERS[i]!;
}

/** The deepest of the given taps (the forward pass stops there). */
export function deepestTap(taps: readonly string[]): string {
  return taps.reduce((a, b) => ((layerIndex.get(b) ?? -1) > (layerIndex.get(a) ?? -1) ? b : a));
}

/**
 * Tiling a pass: each tap's stride, and a halo that is a multiple of the deepest stride and covers the
 * deepest tap's receptive-field radius (relu5_1: 78 px, so 80), so a tile's taps inside its core are exact.
 */
export function vgg19Tiling(taps: readonly string[]): { strides: Record<string, number>; halo: number } {
  const stop = layerIndex.get(deepestTap(taps))!;
  let radius = 0;
  let stride = 1;
  for (const l of VGG19_LAYERS.slice(0, stop + 1)) {
    if (l.kind === 'conv') radius += stride; // a 3x3 conv reaches one position further at this stride
    if (l.kind === 'pool') {
      radius += stride / 2; // a 2x2 window spans one more input position
      stride *= 2;
    }
  }
  const align = Math.max(...taps.map((t) => vggLayer(t).stride));
  return {
    strides: Object.fromEntries(taps.map((t) => [t, vggLayer(t).stride])),
    halo: Math.ceil(radius / align) * align,
  };
}

/** Output size along one axis after `pools` 2x2 poolings: floor for zero-padded variants, ceil for `normalised`. */
function pooled(n: number, pools: number, variant: Vgg19Variant): number {
  for (let i = 0; i < pools; i++) n = variant === 'normalised' ? Math.ceil(n / 2) : Math.floor(n / 2);
  return n;
}

/** Shape of a tap for an input batch [B, H, W, 3]. */
export function tapShape(tap: string, image: readonly number[], variant: Vgg19Variant): number[] {
  const layer = vggLayer(tap);
  const pools = Math.log2(layer.stride);
  return [image[0]!, pooled(image[1]!, pools, variant), pooled(image[2]!, pools, variant), layer.cout];
}

/** Forward FLOPs (multiply-adds count 2) to compute everything up to and including `deepest`. */
export function forwardFlops(deepest: string, image: readonly number[], variant: Vgg19Variant): number {
  const end = layerIndex.get(deepest)!;
  let flops = 0;
  for (let i = 0; i <= end; i++) {
    const l = VGG19_LAYERS[i]!;
    if (l.kind !== 'conv') continue;
    const [b, h, w] = tapShape(l.name, image, variant);
    flops += 2 * 9 * l.cin * l.cout * b! * h! * w!;
  }
  return flops;
}

/** Weights in tfjs layouts: kernels [3, 3, in, out], biases [out]. */
export interface Vgg19Weights {
  variant: Vgg19Variant;
  /** Where the weights came from, shown in the UI and reports. */
  source: string;
  /** The `normalised` variant's leading 1x1 conv ([1, 1, 3, 3]) that holds its input normalisation. */
  preconv?: { kernel: Tensor4D; bias: Tensor };
  /** Returns the named conv's weights, creating them on first use when the source is lazy. */
  conv(name: string): { kernel: Tensor4D; bias: Tensor; flipped: Tensor4D };
  dispose(): void;
}

/**
 * Seeded random weights (He-normal kernels, zero biases), generated lazily per layer so a pass
 * that stops at relu3_1 never builds block 4 or 5. Random VGG features still synthesise textures.
 */
export function randomVgg19Weights(tf: TF, variant: Vgg19Variant, seed: number): Vgg19Weights {
  const cache = new Map<string, { kernel: Tensor4D; bias: Tensor; flipped: Tensor4D }>();
  const weights: Vgg19Weights = {
    variant,
    source: `random (seed ${seed})`,
    conv(name) {
      let w = cache.get(name);
      if (!w) {
        const l = vggLayer(name);
        const rand = mulberry32(seedFor(seed, name));
        const data = randomNormal(9 * l.cin * l.cout, Math.sqrt(2 / (9 * l.cin)), rand);
        // Kept: the first use may happen inside a tidy (a pass in the optimisation loop), and weights outlive it.
        const kernel = tf.keep(tf.tensor4d(data, [3, 3, l.cin, l.cout]));
        w = { kernel, bias: tf.keep(tf.zeros([l.cout])), flipped: tf.keep(flipKernel(tf, kernel)) };
        cache.set(name, w);
      }
      return w;
    },
    dispose() {
      for (const w of cache.values()) {
        releaseWinogradFilters(tf, w.kernel);
        releaseWinogradFilters(tf, w.flipped);
        tf.dispose([w.kernel, w.bias, w.flipped]);
      }
      cache.clear();
      if (weights.preconv) tf.dispose([weights.preconv.kernel, weights.preconv.bias]);
    },
  };
  if (variant === 'normalised') {
    // The published vgg_normalised's 1x1 conv maps RGB [0,1] to BGR [0,255] minus the Caffe mean.
    const k = [0, 0, 255, 0, 255, 0, 255, 0, 0]; // [in=RGB][out=BGR]
    weights.preconv = {
      kernel: tf.keep(tf.tensor4d(k, [1, 1, 3, 3])),
      bias: tf.keep(tf.tensor1d([-103.939, -116.779, -123.68])),
    };
  }
  return weights;
}

const NO_WINOGRAD = { forward: false, backward: false };

/**
 * Whether a VGG conv runs by Winograd (src/ops/winograd.ts, `winogradSettings`), forward and for its input
 * gradient, each decided for its own shape. `input` is what the conv reads: already reflection-padded for 'valid',
 * or, with `padsLater`, the unpadded input that will be padded by one on each side.
 */
function winogradUse(
  tf: TF,
  input: Tensor4D,
  kernel: Tensor4D,
  pad: 'same' | 'valid',
  padsLater = false,
): { forward: boolean; backward: boolean } {
  if (winogradSettings.mode === 'off' || kernel.shape[0] !== 3 || kernel.shape[1] !== 3) return NO_WINOGRAD;
  const [b, h, w, cin] = padsLater
    ? [input.shape[0], input.shape[1] + 2, input.shape[2] + 2, input.shape[3]]
    : input.shape;
  const cout = kernel.shape[3];
  // The input gradient: 'same' on dy [b, h, w, cout]; 'valid' on dy padded by 2, [b, h + 2, w + 2, cout].
  const grown = pad === 'same' ? 0 : 2;
  return {
    forward: useWinograd(tf, { input: [b, h, w, cin], cout, pad }),
    backward: useWinograd(tf, { input: [b, h + grown, w + grown, cout], cout: cin, pad }),
  };
}

/** Switches for measuring what each saves (tests and experiments): the flipped-kernel gradient of unfused convs, and conv+bias+relu as one op. */
export const convOptions = { flippedInputGradient: true, fuseBiasRelu: true };

/**
 * relu(conv(x) + bias) as one fused op (one kernel, one stored tensor instead of three), padded as `padding` says
 * (`true`: reflection, `false`: zeros), differentiated
 * with respect to x only: dx = conv(dy * [y > 0]) with the flipped kernel. VGG's weights are constants.
 */
export function convBiasRelu(
  tf: TF,
  x: Tensor4D,
  w: { kernel: Tensor4D; bias: Tensor; flipped: Tensor4D },
  padding: boolean | Padding,
): Tensor4D {
  const mode = paddingMode(padding);
  const reflect = mode !== 'zero'; // padded by hand, then a 'valid' conv
  const input = reflect ? padSpatial(tf, x, 1, mode) : x;
  const pad = reflect ? 'valid' : 'same';
  const winograd = winogradUse(tf, input, w.kernel, pad);
  const tile = winogradSettings.tile;
  const f = tf.customGrad((...args) => {
    const [xIn, save] = args as [Tensor4D, tfjs.GradSaveFunc];
    const y = winograd.forward
      ? winogradConv2d(tf, xIn, cachedWinogradFilter(tf, w.kernel, tile), pad, {
          bias: w.bias as tfjs.Tensor1D,
          relu: true,
        })
      : tf.fused.conv2d({ x: xIn, filter: w.kernel, strides: 1, bias: w.bias, activation: 'relu', pad });
    save([y]);
    const back = (g: Tensor4D, p: 'same' | 'valid') =>
      winograd.backward
        ? winogradConv2d(tf, g, cachedWinogradFilter(tf, w.flipped, tile), p)
        : tf.conv2d(g, w.flipped, 1, p);
    return {
      value: y as Tensor4D,
      gradFunc: (dy, [ys]) =>
        tf.tidy(() => {
          const g = tf.mul(dy, tf.step(ys!)) as Tensor4D;
          return reflect
            ? back(
                tf.pad(g, [
                  [0, 0],
                  [2, 2],
                  [2, 2],
                  [0, 0],
                ]),
                'valid',
              )
            : back(g, 'same');
        }),
    };
  });
  const y = f(input) as Tensor4D;
  if (input !== x) input.dispose();
  return y;
}

/**
 * A VGG conv: zero padding ('same'), or reflection or circular padding then 'valid' (`true`: reflection). Differentiated through
 * forward convs with the flipped kernel (see convValid); benchmarks can switch that off.
 */
export function conv3x3(
  tf: TF,
  x: Tensor4D,
  kernel: Tensor4D,
  flipped: Tensor4D,
  padding: boolean | Padding,
): Tensor4D {
  const mode = paddingMode(padding);
  const reflect = mode !== 'zero'; // padded by hand, then a 'valid' conv
  if (!convOptions.flippedInputGradient)
    return tf.conv2d(reflect ? padSpatial(tf, x, 1, mode) : x, kernel, 1, reflect ? 'valid' : 'same');
  const winograd = winogradUse(tf, x, kernel, reflect ? 'valid' : 'same', reflect);
  if (winograd.forward || winograd.backward) {
    const w = { kernel, flipped };
    if (!reflect) return winogradConv3x3(tf, x, w, 'same', winogradSettings.tile, winograd);
    return tf.tidy(() => winogradConv3x3(tf, padSpatial(tf, x, 1, mode), w, 'valid', winogradSettings.tile, winograd));
  }
  if (reflect) return tf.tidy(() => convValid(tf, padSpatial(tf, x, 1, mode), kernel, flipped));
  // Zero padding: a 'same' conv, whose input gradient is a 'same' conv of dy with the flipped kernel.
  const f = tf.customGrad((input) => ({
    value: tf.conv2d(input as Tensor4D, kernel, 1, 'same'),
    gradFunc: (dy) => tf.conv2d(dy as Tensor4D, flipped, 1, 'same'),
  }));
  return f(x) as Tensor4D;
}

const TORCH_MEAN = [0.485, 0.456, 0.406];
const TORCH_STD = [0.229, 0.224, 0.225];
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];

/** RGB [0,1] -> what the variant's first conv expects. */
export function preprocess(tf: TF, image: Tensor4D, weights: Vgg19Weights): Tensor4D {
  return tf.tidy(() => {
    switch (weights.variant) {
      case 'torchvision':
        return tf.div(tf.sub(image, tf.tensor1d(TORCH_MEAN)), tf.tensor1d(TORCH_STD)) as Tensor4D;
      case 'caffe': {
        const bgr = tf.reverse(image, -1);
        return tf.sub(tf.mul(bgr, 255), tf.tensor1d(CAFFE_MEAN_BGR)) as Tensor4D;
      }
      case 'normalised': {
        const p = weights.preconv!;
        return tf.add(tf.conv2d(image, p.kernel, 1, 'valid'), p.bias) as Tensor4D;
      }
    }
  });
}

/** The padding each variant was trained with: reflection for vgg_normalised, zeros for the others. */
export function defaultPadding(variant: Vgg19Variant): Padding {
  return variant === 'normalised' ? 'reflect' : 'zero';
}

/** A boolean (the older form): reflection or zeros. */
function paddingMode(padding: boolean | Padding): Padding {
  if (typeof padding === 'string') return padding;
  return padding ? 'reflect' : 'zero';
}

/**
 * One forward pass that returns every requested tap and stops at the deepest.
 * Differentiable with respect to `image`. The caller owns the returned tensors.
 */
export function vgg19Forward(
  tf: TF,
  image: Tensor4D,
  taps: readonly string[],
  weights: Vgg19Weights,
  pooling: Pooling,
  padding: Padding = defaultPadding(weights.variant),
): Record<string, Tensor> {
  const wanted = new Set(taps);
  const stop = layerIndex.get(deepestTap(taps))!;
  const reflect = padding;
  const out: Record<string, Tensor> = {};
  const kept = new Set<Tensor>();
  let x = preprocess(tf, image, weights);
  for (let i = 0; i <= stop; i++) {
    const l = VGG19_LAYERS[i]!;
    const prev = x;
    const next = VGG19_LAYERS[i + 1];
    if (l.kind === 'conv' && convOptions.fuseBiasRelu && next?.kind === 'relu' && i < stop && !wanted.has(l.name)) {
      // The conv's own output is not tapped: compute conv, bias and relu at once and step past the relu.
      x = convBiasRelu(tf, x, weights.conv(l.name), reflect);
      i++;
      if (!kept.has(prev)) prev.dispose();
      if (wanted.has(next.name)) {
        out[next.name] = x;
        kept.add(x);
      }
      continue;
    } else if (l.kind === 'conv') {
      const w = weights.conv(l.name);
      const y = conv3x3(tf, x, w.kernel, w.flipped, reflect);
      x = tf.add(y, w.bias);
      y.dispose();
    } else if (l.kind === 'relu') x = tf.relu(x);
    else {
      const pad = weights.variant === 'normalised' ? 'same' : 'valid';
      x = pooling === 'max' ? tf.maxPool(x, 2, 2, pad) : tf.avgPool(x, 2, 2, pad);
    }
    if (!kept.has(prev)) prev.dispose();
    if (wanted.has(l.name)) {
      out[l.name] = x;
      kept.add(x);
    }
  }
  if (!kept.has(x)) x.dispose();
  return out;
}
