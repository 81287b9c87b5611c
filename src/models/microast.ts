import type * as tfjs from '@tensorflow/tfjs';
import { padSpatial, type Padding } from '../ops/pad';
import { winogradInference } from '../ops/winograd';
import { blockKernel, depthToSpace, spaceToDepth } from './blocks';
import { mulberry32, randomNormal, seedFor } from './random';
import { misfit, describeDict, takeExpected, type NamedArray, type StateDict } from './weights/state-dict';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/**
 * MicroAST (Wang et al., AAAI 2023: "MicroAST: Towards Super-Fast Ultra-Resolution Arbitrary Style Transfer"),
 * written from the official `net_microAST.py` (EndyWon/MicroAST, MIT) in NHWC:
 *
 * - two micro encoders of the same architecture (content, style): a 9x9 conv, two stride-2 depthwise (groups = in)
 *   3x3 convs each followed by a 1x1 conv, a residual block (level 1, 1/4 size, 64 channels), and a second
 *   residual block (level 2);
 * - a modulator: per style level, a depthwise 3x3 conv averaged over positions gives a per-channel filter weight, and
 *   another gives a bias;
 * - a decoder: AdaIN(content level 2, style level 2) -> residual block dec1 modulated by level 2's weight and bias ->
 *   AdaIN(that, style level 1) -> dec2 modulated by level 1's -> dec3: two rounds of bilinear 2x upsampling, a
 *   grouped 3x3 conv (two input channels per output) and a 1x1 conv, then a 9x9 conv to RGB.
 *
 * Every conv pads by reflection (kernel // 2) and has a bias; ReLU follows all but the residual blocks' second convs
 * (the first's output is modulated before its ReLU) and the last conv.
 */

/** One conv of the network, in the layout its tfjs op takes. */
export interface MicroConv {
  /**
   * dense: a plain conv, kernel [k, k, in, out]. depthwise: groups = in, kernel [k, k, in, out / in].
   * pairs: groups = out with `in / out` inputs per group, computed as a depthwise conv over the inputs (kernel
   * [k, k, in, 1], the bias on each group's first input) whose neighbouring channels are then summed.
   */
  kind: 'dense' | 'depthwise' | 'pairs';
  kernel: Tensor4D;
  bias: tfjs.Tensor1D;
  k: number;
  stride: number;
  /** Channels in and out, as in the PyTorch module. */
  cin: number;
  cout: number;
  /**
   * A dense conv with few outputs (the 9x9 conv to RGB) also in its form on 2x2 blocks of pixels: space-to-depth by
   * 2, a 5x5 conv from 4 x in to 4 x out channels (zero where a tap falls outside the 9x9 kernel), depth-to-space.
   * The same sums, but XNNPACK's GEMM wastes most of its lanes on 3 outputs (on wasm, 1 thread, 256 px: 41 ms plain,
   * 26 ms on 4x4 blocks, 25 ms on 2x2; at 512 px 163, 117 and 98 ms). Used while `source` is `kernel` (a
   * trainable copy has its own kernel and computes the plain conv).
   */
  blocks?: { source: Tensor4D; kernel: Tensor4D; bias: tfjs.Tensor1D };
}

export interface ResidualWeights {
  conv1: MicroConv;
  conv2: MicroConv;
}

export interface MicroEncoderWeights {
  source: string;
  /** enc1: 9x9 conv, dw 3x3 /2, 1x1, dw 3x3 /2, 1x1, residual; enc2: residual. */
  convs: MicroConv[];
  res1: ResidualWeights;
  res2: ResidualWeights;
  dispose(): void;
}

export interface ModulatorWeights {
  source: string;
  weight1: MicroConv;
  bias1: MicroConv;
  weight2: MicroConv;
  bias2: MicroConv;
  dispose(): void;
}

export interface MicroDecoderWeights {
  source: string;
  dec1: ResidualWeights;
  dec2: ResidualWeights;
  /** dec3's convs: grouped 3x3 (64 -> 32), 1x1, grouped 3x3 (32 -> 16), 1x1, 9x9 (16 -> 3). */
  head: MicroConv[];
  dispose(): void;
}

/** A conv's place in the network: its state-dict prefix, size, stride and groups. */
interface ConvSpec {
  prefix: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  groups: number;
}

const WIDTH = 64;
const spec = (prefix: string, cin: number, cout: number, k: number, stride = 1, groups = 1): ConvSpec => ({
  prefix,
  cin,
  cout,
  k,
  stride,
  groups,
});
const residualSpecs = (prefix: string): ConvSpec[] => [
  spec(`${prefix}.conv1.conv_layer`, WIDTH, WIDTH, 3),
  spec(`${prefix}.conv2.conv_layer`, WIDTH, WIDTH, 3),
];

/** The encoder's convs in order (the `Encoder` module's state-dict names). */
export const ENCODER_SPECS: ConvSpec[] = [
  spec('enc1.0.conv_layer', 3, 16, 9),
  spec('enc1.2.conv_layer', 16, 32, 3, 2, 16),
  spec('enc1.4.conv_layer', 32, 32, 1),
  spec('enc1.6.conv_layer', 32, 64, 3, 2, 32),
  spec('enc1.8.conv_layer', 64, 64, 1),
  ...residualSpecs('enc1.10'),
  ...residualSpecs('enc2.0'),
];
export const MODULATOR_SPECS: ConvSpec[] = ['weight1', 'bias1', 'weight2', 'bias2'].map((p) =>
  spec(`${p}.0.conv_layer`, WIDTH, WIDTH, 3, 1, WIDTH),
);
export const DECODER_SPECS: ConvSpec[] = [
  ...residualSpecs('dec1'),
  ...residualSpecs('dec2'),
  spec('dec3.1.conv_layer', 64, 32, 3, 1, 32),
  spec('dec3.3.conv_layer', 32, 32, 1),
  spec('dec3.6.conv_layer', 32, 16, 3, 1, 16),
  spec('dec3.8.conv_layer', 16, 16, 1),
  spec('dec3.10.conv_layer', 16, 3, 9),
];

const torchShape = (s: ConvSpec) => [s.cout, s.cin / s.groups, s.k, s.k];

/** Checks every tensor of a state dict against the specs (and that nothing else is there); names the first bad layer. */
function checkDict(dict: StateDict, specs: ConvSpec[], what: string): void {
  const expected = new Map<string, number[]>();
  for (const s of specs) {
    expected.set(`${s.prefix}.weight`, torchShape(s));
    expected.set(`${s.prefix}.bias`, [s.cout]);
  }
  if (![...expected.keys()].some((k) => dict.has(k)))
    throw misfit(what, [
      `layer "${specs[0]!.prefix}.weight": expected ${`[${torchShape(specs[0]!).join(', ')}]`}, found no such tensor; the file holds ${describeDict(dict)}`,
    ]);
  takeExpected(dict, expected, what);
}

/** Rearranges a PyTorch conv weight [out, in / groups, k, k] into the kernel its tfjs op takes. */
function kernelFor(
  s: ConvSpec,
  w: Float32Array,
): { kind: MicroConv['kind']; data: Float32Array; shape: [number, number, number, number] } {
  const { cin, cout, k, groups } = s;
  const kk = k * k;
  if (groups === 1) {
    // [out, in, kh, kw] -> [kh, kw, in, out]
    const data = new Float32Array(w.length);
    for (let o = 0; o < cout; o++)
      for (let i = 0; i < cin; i++)
        for (let p = 0; p < kk; p++) data[(p * cin + i) * cout + o] = w[(o * cin + i) * kk + p]!;
    return { kind: 'dense', data, shape: [k, k, cin, cout] };
  }
  if (groups === cin) {
    // out channel o = c * mult + m reads input c: [c * mult + m, 1, kh, kw] -> [kh, kw, c, m]; the channel order is tfjs's.
    const mult = cout / cin;
    const data = new Float32Array(w.length);
    for (let o = 0; o < cout; o++) for (let p = 0; p < kk; p++) data[p * cout + o] = w[o * kk + p]!;
    return { kind: 'depthwise', data, shape: [k, k, cin, mult] };
  }
  if (groups === cout) {
    // group g reads inputs g * n .. g * n + n - 1: [g, j, kh, kw] is input channel c = g * n + j's filter.
    const data = new Float32Array(w.length);
    for (let c = 0; c < cin; c++) for (let p = 0; p < kk; p++) data[p * cin + c] = w[c * kk + p]!;
    return { kind: 'pairs', data, shape: [k, k, cin, 1] };
  }
  throw new Error(`MicroAST: a conv with ${groups} groups of ${cin} -> ${cout} channels is not supported`);
}

/** Block size of the 'blocks' form, and when a conv takes it: a large dense kernel with fewer outputs than a SIMD tile. */
const BLOCK = 2;
const useBlocks = (s: ConvSpec) => s.groups === 1 && s.stride === 1 && s.k >= 8 && s.cout < 8;

function convFromArrays(tf: TF, s: ConvSpec, w: Float32Array, b: Float32Array): MicroConv {
  const { kind, data, shape } = kernelFor(s, w);
  let bias = b;
  if (kind === 'pairs') {
    // The bias goes on each group's first input channel, so the sum over the group adds it once.
    const n = s.cin / s.cout;
    bias = new Float32Array(s.cin);
    for (let g = 0; g < s.cout; g++) bias[g * n] = b[g]!;
  }
  const conv: MicroConv = {
    kind,
    kernel: tf.keep(tf.tensor4d(data, shape)),
    bias: tf.keep(tf.tensor1d(bias)),
    k: s.k,
    stride: s.stride,
    cin: s.cin,
    cout: s.cout,
  };
  if (useBlocks(s)) {
    const blocks = blockKernel(data, s.k, s.cin, s.cout, BLOCK);
    const tiled = new Float32Array(BLOCK * BLOCK * s.cout).map((_, i) => b[i % s.cout]!);
    conv.blocks = {
      source: conv.kernel,
      kernel: tf.keep(tf.tensor4d(blocks.data, blocks.shape)),
      bias: tf.keep(tf.tensor1d(tiled)),
    };
  }
  return conv;
}

/** Weights kept (they outlive the run that built them) and released together. */
function convsFrom(
  tf: TF,
  specs: ConvSpec[],
  get: (s: ConvSpec) => { w: Float32Array; b: Float32Array },
): { convs: MicroConv[]; dispose(): void } {
  const convs = specs.map((s) => {
    const { w, b } = get(s);
    return convFromArrays(tf, s, w, b);
  });
  return {
    convs,
    dispose: () =>
      convs.forEach((c) => tf.dispose([c.kernel, c.bias, ...(c.blocks ? [c.blocks.kernel, c.blocks.bias] : [])])),
  };
}

const fromDict = (dict: StateDict) => (s: ConvSpec) => ({
  w: (dict.get(`${s.prefix}.weight`) as NamedArray).data,
  b: (dict.get(`${s.prefix}.bias`) as NamedArray).data,
});

/** Seeded random weights (He-normal, zero bias): the offline fallback, clearly labelled as such. */
const fromRandom = (seed: number, part: string) => (s: ConvSpec) => {
  const fanIn = (s.cin / s.groups) * s.k * s.k;
  const n = s.cout * fanIn;
  return {
    w: randomNormal(n, Math.sqrt(2 / fanIn), mulberry32(seedFor(seed, `microast.${part}.${s.prefix}`))),
    b: new Float32Array(s.cout),
  };
};

function encoderFrom(
  tf: TF,
  source: string,
  get: (s: ConvSpec) => { w: Float32Array; b: Float32Array },
): MicroEncoderWeights {
  const { convs, dispose } = convsFrom(tf, ENCODER_SPECS, get);
  return {
    source,
    convs: convs.slice(0, 5),
    res1: { conv1: convs[5]!, conv2: convs[6]! },
    res2: { conv1: convs[7]!, conv2: convs[8]! },
    dispose,
  };
}

function modulatorFrom(
  tf: TF,
  source: string,
  get: (s: ConvSpec) => { w: Float32Array; b: Float32Array },
): ModulatorWeights {
  const { convs, dispose } = convsFrom(tf, MODULATOR_SPECS, get);
  const [weight1, bias1, weight2, bias2] = convs as [MicroConv, MicroConv, MicroConv, MicroConv];
  return { source, weight1, bias1, weight2, bias2, dispose };
}

function decoderFrom(
  tf: TF,
  source: string,
  get: (s: ConvSpec) => { w: Float32Array; b: Float32Array },
): MicroDecoderWeights {
  const { convs, dispose } = convsFrom(tf, DECODER_SPECS, get);
  return {
    source,
    dec1: { conv1: convs[0]!, conv2: convs[1]! },
    dec2: { conv1: convs[2]!, conv2: convs[3]! },
    head: convs.slice(4),
    dispose,
  };
}

/** A MicroAST encoder (content or style: the same architecture) from its `Encoder` state dict. */
export function microEncoderFromStateDict(tf: TF, dict: StateDict, source: string): MicroEncoderWeights {
  checkDict(dict, ENCODER_SPECS, `MicroAST encoder from ${source}`);
  return encoderFrom(tf, source, fromDict(dict));
}

export function modulatorFromStateDict(tf: TF, dict: StateDict, source: string): ModulatorWeights {
  checkDict(dict, MODULATOR_SPECS, `MicroAST modulator from ${source}`);
  return modulatorFrom(tf, source, fromDict(dict));
}

export function microDecoderFromStateDict(tf: TF, dict: StateDict, source: string): MicroDecoderWeights {
  checkDict(dict, DECODER_SPECS, `MicroAST decoder from ${source}`);
  return decoderFrom(tf, source, fromDict(dict));
}

export const randomMicroEncoder = (tf: TF, seed: number, part: string): MicroEncoderWeights =>
  encoderFrom(tf, `random (seed ${seed})`, fromRandom(seed, part));
export const randomModulator = (tf: TF, seed: number): ModulatorWeights =>
  modulatorFrom(tf, `random (seed ${seed})`, fromRandom(seed, 'modulator'));
export const randomMicroDecoder = (tf: TF, seed: number): MicroDecoderWeights =>
  decoderFrom(tf, `random (seed ${seed})`, fromRandom(seed, 'decoder'));

/** One conv after reflection padding of k // 2 (or `padding`), with its bias and optionally a ReLU. */
export function microConv(tf: TF, x: Tensor4D, c: MicroConv, relu: boolean, padding: Padding = 'reflect'): Tensor4D {
  return tf.tidy(() => {
    const p = c.k >> 1;
    const input = p ? padSpatial(tf, x, p, padding) : x;
    const activation = relu ? 'relu' : 'linear';
    if (c.blocks && c.blocks.source === c.kernel && c.stride === 1)
      return blocksConv(tf, input, c.blocks, c.cout, activation, x.shape[1], x.shape[2]);
    if (c.kind === 'dense')
      return (
        (c.stride === 1 && winogradInference(tf, input, c.kernel, 'valid', { bias: c.bias, relu })) ||
        tf.fused.conv2d({ x: input, filter: c.kernel, strides: c.stride, pad: 'valid', bias: c.bias, activation })
      );
    if (c.kind === 'depthwise')
      return tf.fused.depthwiseConv2d({
        x: input,
        filter: c.kernel,
        strides: c.stride,
        pad: 'valid',
        bias: c.bias,
        activation,
      });
    const y = tf.fused.depthwiseConv2d({ x: input, filter: c.kernel, strides: c.stride, pad: 'valid', bias: c.bias });
    const [b, h, w] = y.shape;
    const summed = tf.sum(tf.reshape(y, [b, h, w, c.cout, c.cin / c.cout]), 4) as Tensor4D;
    return relu ? tf.relu(summed) : summed;
  });
}

/** A 'blocks' conv of a padded input, cropped to h x w (the padding is rounded up to whole blocks with zeros). */
function blocksConv(
  tf: TF,
  padded: Tensor4D,
  c: { kernel: Tensor4D; bias: tfjs.Tensor1D },
  cout: number,
  activation: 'relu' | 'linear',
  h: number,
  w: number,
): Tensor4D {
  const [n, hp, wp] = padded.shape;
  const [hq, wq] = [Math.ceil(hp / BLOCK) * BLOCK, Math.ceil(wp / BLOCK) * BLOCK];
  const whole =
    hq === hp && wq === wp
      ? padded
      : tf.pad(padded, [
          [0, 0],
          [0, hq - hp],
          [0, wq - wp],
          [0, 0],
        ]);
  const y = depthToSpace(
    tf,
    tf.fused.conv2d({
      x: spaceToDepth(tf, whole, BLOCK),
      filter: c.kernel,
      strides: 1,
      pad: 'valid',
      bias: c.bias,
      activation,
    }),
    BLOCK,
  );
  return y.shape[1] === h && y.shape[2] === w ? y : tf.slice(y, [0, 0, 0, 0], [n, h, w, cout]);
}

/** x + conv2(relu(conv1(x))): the residual block, unmodulated (the encoders'). */
export function residual(tf: TF, x: Tensor4D, r: ResidualWeights, padding: Padding = 'reflect'): Tensor4D {
  return tf.tidy(() => tf.add(x, microConv(tf, microConv(tf, x, r.conv1, true, padding), r.conv2, false, padding)));
}

/**
 * The decoder's residual block with filter modulation (`ResidualLayer(filterMod=True)`): each conv's output y of
 * input x becomes w * y + b * x, with the per-channel weight w and bias b the modulator made from the style;
 * x1 = conv1(x), x3 = relu(w x1 + b x), x5 = w conv2(x3) + b x3, and the block returns x + x5.
 */
export function modulatedResidual(
  tf: TF,
  x: Tensor4D,
  r: ResidualWeights,
  weight: tfjs.Tensor,
  bias: tfjs.Tensor,
  padding: Padding = 'reflect',
): Tensor4D {
  return tf.tidy(() => {
    const x1 = microConv(tf, x, r.conv1, false, padding);
    const x3 = tf.relu(tf.add(tf.mul(weight, x1), tf.mul(bias, x))) as Tensor4D;
    const x5 = tf.add(tf.mul(weight, microConv(tf, x3, r.conv2, false, padding)), tf.mul(bias, x3));
    return tf.add(x, x5) as Tensor4D;
  });
}

/** The two levels of a micro encoder: enc1's output (1/4 size, 64 channels) and enc2's (the same size). */
export function microEncode(
  tf: TF,
  image: Tensor4D,
  w: MicroEncoderWeights,
  padding: Padding = 'reflect',
): { level1: Tensor4D; level2: Tensor4D } {
  if (image.shape[3] !== w.convs[0]!.cin)
    throw new Error(`MicroAST encoder: expected an RGB image, got ${image.shape[3]} channels`);
  return tf.tidy(() => {
    let x = image;
    for (const c of w.convs) x = microConv(tf, x, c, true, padding);
    const level1 = residual(tf, x, w.res1, padding);
    return { level1, level2: residual(tf, level1, w.res2, padding) };
  });
}

/** A depthwise conv averaged over positions: one modulation signal, [1, 1, 1, C]. */
const signal = (tf: TF, x: Tensor4D, c: MicroConv) => tf.mean(microConv(tf, x, c, false), [1, 2], true) as Tensor4D;

/** The modulator: filter weights and biases from each level of the style features. */
export function modulate(
  tf: TF,
  level1: Tensor4D,
  level2: Tensor4D,
  m: ModulatorWeights,
): { weight1: Tensor4D; bias1: Tensor4D; weight2: Tensor4D; bias2: Tensor4D } {
  for (const [name, f] of [
    ['level 1', level1],
    ['level 2', level2],
  ] as const)
    if (f.shape[3] !== m.weight1.cin)
      throw new Error(
        `MicroAST modulator: style ${name} has ${f.shape[3]} channels, the modulator takes ${m.weight1.cin}`,
      );
  return tf.tidy(() => ({
    weight1: signal(tf, level1, m.weight1),
    bias1: signal(tf, level1, m.bias1),
    weight2: signal(tf, level2, m.weight2),
    bias2: signal(tf, level2, m.bias2),
  }));
}

/** upsampleBilinear2x of x wrapped around: padded circularly by 1, upsampled, and the 2 px of each side cropped. */
function wrappedUpsample(tf: TF, x: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    return tf.slice(upsampleBilinear2x(tf, padSpatial(tf, x, 1, 'circular')), [0, 2, 2, 0], [b, 2 * h, 2 * w, c]);
  });
}

/** Bilinear 2x upsampling as torch's Upsample(scale_factor=2, mode='bilinear') (align_corners False: half-pixel centres). */
export const upsampleBilinear2x = (tf: TF, x: Tensor4D): Tensor4D =>
  tf.image.resizeBilinear(x, [x.shape[1] * 2, x.shape[2] * 2], false, true);

/** dec3: features (1/4 size) -> image, two bilinear upsamplings with a grouped 3x3 and a 1x1 conv after each, then 9x9 to RGB. */
export function microDecodeHead(tf: TF, x: Tensor4D, d: MicroDecoderWeights, padding: Padding = 'reflect'): Tensor4D {
  if (x.shape[3] !== d.head[0]!.cin)
    throw new Error(`MicroAST decoder: expected ${d.head[0]!.cin}-channel features, got ${x.shape[3]}`);
  return tf.tidy(() => {
    const [g1, p1, g2, p2, out] = d.head as [MicroConv, MicroConv, MicroConv, MicroConv, MicroConv];
    // Circular: the bilinear upsampling wraps too (interpolates across the opposite edge, not a clamped one).
    const up =
      padding === 'circular' ? (t: Tensor4D) => wrappedUpsample(tf, t) : (t: Tensor4D) => upsampleBilinear2x(tf, t);
    const conv = (t: Tensor4D, c: MicroConv, relu: boolean) => microConv(tf, t, c, relu, padding);
    let y = conv(conv(up(x), g1, true), p1, true);
    y = conv(conv(up(y), g2, true), p2, true);
    return conv(y, out, false);
  });
}

/** The spatial size after the encoder's two stride-2 convs (reflection pad 1, kernel 3): ceil(n / 2) twice. */
export const encodedSize = (n: number): number => Math.ceil(Math.ceil(n / 2) / 2);

/** Multiply-adds of the convs in `specs` at the given input size (in pixels of the level each runs at). */
export function convMacs(s: ConvSpec, outPixels: number): number {
  return outPixels * s.cout * (s.cin / s.groups) * s.k * s.k;
}

/** FLOPs of a micro encoder on an h x w image. */
export function encoderFlops(h: number, w: number): number {
  const h2 = Math.ceil(h / 2),
    w2 = Math.ceil(w / 2),
    h4 = encodedSize(h),
    w4 = encodedSize(w);
  const px = [h * w, h2 * w2, h2 * w2, h4 * w4, h4 * w4, h4 * w4, h4 * w4, h4 * w4, h4 * w4];
  return 2 * ENCODER_SPECS.reduce((a, s, i) => a + convMacs(s, px[i]!), 0);
}

/** FLOPs of one modulated residual block on features of h x w positions. */
export const residualFlops = (h: number, w: number): number =>
  2 * 2 * convMacs(DECODER_SPECS[0]!, h * w) + 6 * h * w * WIDTH;

/** FLOPs of dec3 on features of h x w positions (output 4h x 4w). */
export function headFlops(h: number, w: number): number {
  const px = [4 * h * w, 4 * h * w, 16 * h * w, 16 * h * w, 16 * h * w];
  return 2 * DECODER_SPECS.slice(4).reduce((a, s, i) => a + convMacs(s, px[i]!), 0);
}
