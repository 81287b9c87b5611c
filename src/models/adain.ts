import type * as tfjs from '@tensorflow/tfjs';
import { meanStd } from '../ops/moments';
import { padSpatial, type Padding } from '../ops/pad';
import { convFrom, type ConvWeights } from './checkpoints';
import { convValid } from './conv';
import { mulberry32, randomNormal, seedFor } from './random';
import { describeDict, formatShape, misfit, takeExpected, type StateDict } from './weights/state-dict';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/** The style side of AdaIN: a style's per-channel mean and standard deviation (meanStd). */
export interface StyleMoments {
  mean: Tensor4D;
  std: Tensor4D;
}

/**
 * AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y); statistics of x only over `mask` where given. `style` is the
 * style's features, or their moments already taken (`styleMoments`: a camera keeps them between frames).
 */
export function adain(tf: TF, content: Tensor4D, style: Tensor4D | StyleMoments, mask?: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const s = 'std' in style ? style : meanStd(tf, style);
    // One image with nothing being differentiated (every run, camera and clip frame): the inference form.
    if (!mask && content.shape[0] === 1 && s.mean.shape[0] === 1 && !tf.engine().isTapeOn())
      return adainInference(tf, content, s);
    const c = meanStd(tf, content, 1e-5, mask);
    // One scale and one shift per channel, so the features are read twice (not four times): x a + (mu(y) - mu(x) a).
    const a = tf.div(s.std, c.std);
    return tf.add(tf.mul(content, a), tf.sub(s.mean, tf.mul(c.mean, a))) as Tensor4D;
  });
}

/** The per-channel mean over positions of [1, H, W, C] as one average pool over the whole image: [C]. */
const channelMean = (tf: TF, x: Tensor4D): tfjs.Tensor1D =>
  tf.reshape(tf.avgPool(x, [x.shape[1], x.shape[2]], 1, 'valid'), [x.shape[3]]);

/** x * scale + shift per channel ([C] each) as one 1x1 depthwise conv with a bias (tfjs-wasm's broadcast ops loop). */
function scaleShift(tf: TF, x: Tensor4D, scale: tfjs.Tensor1D, shift: tfjs.Tensor1D): Tensor4D {
  const filter = tf.reshape(scale, [1, 1, x.shape[3], 1]) as Tensor4D;
  return tf.fused.depthwiseConv2d({ x, filter, strides: 1, pad: 'valid', bias: shift });
}

/**
 * AdaIN on one image in fewer passes over the features (tfjs-wasm's Mean transposes the whole tensor for each of
 * tf.moments' two means, and its broadcast Sub, Mul and Add are element loops): the content's mean as an average
 * pool, the features centred and later scaled and shifted by 1x1 depthwise convs with a bias, the unbiased variance
 * (times n / (n - 1), as meanStd) as the average pool of the centred squares (two passes: E[x^2] - mean^2 lost 6e-4
 * relative at MicroAST's dec1 in float32). No gradient (tfjs-wasm has none for the fused conv): `adain` uses it only
 * where nothing is being differentiated.
 */
function adainInference(tf: TF, content: Tensor4D, s: StyleMoments): Tensor4D {
  const [, h, w, c] = content.shape;
  const n = h * w;
  const mean = channelMean(tf, content);
  // New rank-1 tensors for the biases: tfjs-wasm's fused kernels read the bias's shape from its storage, which a
  // reshape shares.
  const centred = scaleShift(tf, content, tf.ones([c]), tf.neg(mean));
  const variance = tf.mul(channelMean(tf, tf.square(centred)), n / Math.max(1, n - 1));
  const a = tf.div(tf.reshape(s.std, [c]), tf.sqrt(tf.add(variance, 1e-5))) as tfjs.Tensor1D;
  return scaleShift(tf, centred, a, tf.add(tf.reshape(s.mean, [c]), 0) as tfjs.Tensor1D);
}

/**
 * A style's moments as one tensor [2, B, 1, 1, C] (mean, then standard deviation), so that a graph can prepare and
 * keep them as one value; `styleMoments` reads them back.
 */
export function packedMoments(tf: TF, style: Tensor4D): tfjs.Tensor {
  return tf.tidy(() => {
    const s = meanStd(tf, style);
    return tf.stack([s.mean, s.std]);
  });
}

/** The mean and standard deviation packed by `packedMoments`. */
export function styleMoments(tf: TF, packed: tfjs.Tensor): StyleMoments {
  const [mean, std] = tf.unstack(packed) as [Tensor4D, Tensor4D];
  return { mean, std };
}

/**
 * A 3x3 conv after reflection padding of 1, as the decoders and SANet's merge conv use (or another padding: circular
 * for a picture that tiles).
 */
export function reflectConv(tf: TF, x: Tensor4D, w: ConvWeights, padding: Padding = 'reflect'): Tensor4D {
  return tf.tidy(() => {
    const padded = padSpatial(tf, x, 1, padding);
    return tf.add(convValid(tf, padded, w.kernel), w.bias) as Tensor4D;
  });
}

/** Nearest-neighbour 2x upsampling: out[i] = in[floor(i / 2)], as torch's Upsample(scale_factor=2). */
export function upsample2x(tf: TF, x: Tensor4D, size?: [number, number]): Tensor4D {
  return tf.image.resizeNearestNeighbor(x, size ?? [x.shape[1] * 2, x.shape[2] * 2]);
}

/** pytorch-AdaIN `decoder` (also SANet's): Sequential indices of its nine convs. */
export const DECODER_CONV_INDICES = [1, 5, 8, 11, 14, 18, 21, 25, 28];
/** Convs after which the decoder upsamples (positions in DECODER_CONV_INDICES). */
const UPSAMPLE_AFTER = new Set([0, 4, 6]);

export interface DecoderWeights {
  source: string;
  convs: ConvWeights[];
  dispose(): void;
}

/** Channel plan of a decoder for relu4_1 features with `c` channels: c -> c/2 -> c/4 -> c/8 -> 3. */
function decoderChannels(c: number): [number, number][] {
  const [a, b, d] = [c / 2, c / 4, c / 8];
  return [
    [c, a],
    [a, a],
    [a, a],
    [a, a],
    [a, b],
    [b, b],
    [b, d],
    [d, d],
    [d, 3],
  ];
}

/**
 * g: relu4_1 features -> image. Reflection-padded 3x3 convs (or `padding`), ReLU after all but the last, nearest 2x
 * upsampling.
 */
export function decode(tf: TF, features: Tensor4D, weights: DecoderWeights, padding: Padding = 'reflect'): Tensor4D {
  checkDecoderFits(features.shape[3], weights);
  return tf.tidy(() => {
    let x = features;
    weights.convs.forEach((w, i) => {
      x = reflectConv(tf, x, w, padding);
      if (i < weights.convs.length - 1) x = tf.relu(x);
      if (UPSAMPLE_AFTER.has(i)) x = upsample2x(tf, x);
    });
    return x;
  });
}

/**
 * A decoder reads the encoder's relu4_1 features: its first conv must take as many channels as they have (a
 * reduced-width checkpoint goes with an encoder of the same width). Otherwise the error names the layer and both shapes.
 */
export function checkDecoderFits(channels: number, weights: DecoderWeights): void {
  const k = weights.convs[0]?.kernel.shape;
  if (!k || k[2] === channels) return;
  throw misfit(`decoder from ${weights.source}`, [
    `layer "1.weight": expected ${formatShape([channels / 2, channels, 3, 3])} for the encoder's ${channels}-channel relu4_1 features, found ${formatShape([k[3], k[2], 3, 3])}`,
  ]);
}

export function decoderFromStateDict(tf: TF, dict: StateDict, source: string): DecoderWeights {
  const first = dict.get('1.weight');
  if (!first)
    throw misfit(`decoder from ${source}`, [
      `layer "1.weight": expected [c/2, c, 3, 3] (c: the encoder's relu4_1 channels, 512 for VGG19), found no such tensor; the file holds ${describeDict(dict)}`,
    ]);
  const expected = new Map<string, number[]>();
  decoderChannels(first.shape[1]!).forEach(([cin, cout], i) => {
    expected.set(`${DECODER_CONV_INDICES[i]}.weight`, [cout, cin, 3, 3]);
    expected.set(`${DECODER_CONV_INDICES[i]}.bias`, [cout]);
  });
  takeExpected(dict, expected, `decoder from ${source}`);
  const convs = DECODER_CONV_INDICES.map((i) => convFrom(tf, dict, `${i}`));
  return { source, convs, dispose: () => convs.forEach((c) => tf.dispose([c.kernel, c.bias])) };
}

/** Seeded random weights in the reference layout: the offline fallback, clearly labelled. */
export function randomConv(
  tf: TF,
  k: number,
  cin: number,
  cout: number,
  seed: number,
  name: string,
  gain = 2,
): ConvWeights {
  const data = randomNormal(k * k * cin * cout, Math.sqrt(gain / (k * k * cin)), mulberry32(seedFor(seed, name)));
  return { kernel: tf.keep(tf.tensor4d(data, [k, k, cin, cout])), bias: tf.keep(tf.zeros([cout])) };
}

export function randomDecoder(tf: TF, channels: number, seed: number): DecoderWeights {
  const convs = decoderChannels(channels).map(([cin, cout], i) => randomConv(tf, 3, cin, cout, seed, `decoder.${i}`));
  return {
    source: `random (seed ${seed})`,
    convs,
    dispose: () => convs.forEach((c) => tf.dispose([c.kernel, c.bias])),
  };
}
