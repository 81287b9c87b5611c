import type * as tfjs from '@tensorflow/tfjs';
import { convValid, flipKernel } from './conv';
import { mulberry32, randomNormal, seedFor } from './random';
import { describeDict, misfit, takeExpected, type NamedArray, type StateDict } from './weights/state-dict';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/** The six taps of the PyTorch blog's seed-004 recipe, in network order. */
export const RESNET50_TAPS = ['conv1', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4'] as const;
const BLOCKS = [3, 4, 6, 3];
const TAP_WIDTH: Record<string, number> = { conv1: 1, maxpool: 1, layer1: 4, layer2: 8, layer3: 16, layer4: 32 }; // x conv1 channels

interface Conv {
  kernel: Tensor4D;
  bias: tfjs.Tensor1D;
  flipped: Tensor4D;
  stride: number;
}
interface Block {
  convs: [Conv, Conv, Conv];
  downsample?: Conv;
}

export interface ResNet50Weights {
  source: string;
  /** conv1 stays unfolded (the recipe taps its raw output); bn1 is an affine applied after it. */
  conv1: Conv;
  bn1: { scale: tfjs.Tensor1D; shift: tfjs.Tensor1D };
  layers: Block[][];
  dispose(): void;
}

/** Output size of a conv or pool with PyTorch's symmetric padding. */
const out = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

export function resnetTapShape(tap: string, image: readonly number[], conv1Channels = 64): number[] {
  let [h, w] = [out(image[1]!, 7, 2, 3), out(image[2]!, 7, 2, 3)];
  if (tap !== 'conv1') [h, w] = [out(h, 3, 2, 1), out(w, 3, 2, 1)];
  // layer2, layer3 and layer4 each halve the size (stride 2 in their first block).
  for (let i = 3; i <= RESNET50_TAPS.indexOf(tap as (typeof RESNET50_TAPS)[number]); i++)
    [h, w] = [out(h, 3, 2, 1), out(w, 3, 2, 1)];
  return [image[0]!, h, w, conv1Channels * TAP_WIDTH[tap]!];
}

/** Forward FLOPs up to a tap, for the plan (standard widths). */
export function resnetFlops(deepest: string, image: readonly number[]): number {
  const px = (t: string) =>
    resnetTapShape(t, image)
      .slice(0, 3)
      .reduce((a, b) => a * b, 1);
  let flops = 2 * 49 * 3 * 64 * px('conv1');
  const end = RESNET50_TAPS.indexOf(deepest as (typeof RESNET50_TAPS)[number]);
  let cin = 64;
  for (let l = 0; l < 4 && l + 2 <= end; l++) {
    const width = 64 * 2 ** l;
    const n = px(RESNET50_TAPS[l + 2]!);
    for (let b = 0; b < BLOCKS[l]!; b++) {
      flops += 2 * n * (cin * width + 9 * width * width + width * 4 * width + (b === 0 ? cin * 4 * width : 0));
      cin = width * 4;
    }
  }
  return flops;
}

/** Expected keys and shapes of a torchvision resnet50 state dict whose conv1 has `c` channels. */
function expectedShapes(c: number): Map<string, number[]> {
  const e = new Map<string, number[]>();
  const bn = (p: string, n: number) =>
    ['weight', 'bias', 'running_mean', 'running_var'].forEach((k) => e.set(`${p}.${k}`, [n]));
  e.set('conv1.weight', [c, 3, 7, 7]);
  bn('bn1', c);
  let cin = c;
  BLOCKS.forEach((blocks, l) => {
    const width = c * 2 ** l;
    for (let b = 0; b < blocks; b++) {
      const p = `layer${l + 1}.${b}`;
      e.set(`${p}.conv1.weight`, [width, cin, 1, 1]);
      bn(`${p}.bn1`, width);
      e.set(`${p}.conv2.weight`, [width, width, 3, 3]);
      bn(`${p}.bn2`, width);
      e.set(`${p}.conv3.weight`, [width * 4, width, 1, 1]);
      bn(`${p}.bn3`, width * 4);
      if (b === 0) {
        e.set(`${p}.downsample.0.weight`, [width * 4, cin, 1, 1]);
        bn(`${p}.downsample.1`, width * 4);
      }
      cin = width * 4;
    }
  });
  return e;
}

/**
 * torchvision resnet50 weights with every BatchNorm (eval mode, eps 1e-5) folded into the conv before it:
 * W' = W gamma / sqrt(var + eps), b' = beta - mean gamma / sqrt(var + eps). The classifier is ignored.
 */
export function resnetFromStateDict(tf: TF, dict: StateDict, source: string): ResNet50Weights {
  const first = dict.get('conv1.weight');
  if (!first)
    throw misfit(`ResNet50 from ${source}`, [
      `layer "conv1.weight": expected [64, 3, 7, 7] (torchvision), found no such tensor; the file holds ${describeDict(dict)}`,
    ]);
  takeExpected(
    dict,
    expectedShapes(first.shape[0]!),
    `ResNet50 from ${source}`,
    (k) => k.startsWith('fc.') || k.endsWith('num_batches_tracked'),
  );
  const bnFactors = (p: string) => {
    const [g, b, m, v] = ['weight', 'bias', 'running_mean', 'running_var'].map((k) => dict.get(`${p}.${k}`)!.data);
    const scale = g!.map((x, i) => x / Math.sqrt(v![i]! + 1e-5));
    return { scale, shift: b!.map((x, i) => x - m![i]! * scale[i]!) };
  };
  const conv = (key: string, bn: string | null, stride: number): Conv => {
    const w = dict.get(key)!;
    const f = bn ? bnFactors(bn) : null;
    const per = w.data.length / w.shape[0]!;
    const data = f ? w.data.map((x, i) => x * f.scale[Math.floor(i / per)]!) : w.data;
    const kernel = tf.keep(
      tf.tidy(() => tf.transpose(tf.tensor4d(data, w.shape as [number, number, number, number]), [2, 3, 1, 0])),
    );
    return {
      kernel,
      bias: tf.keep(tf.tensor1d(f ? f.shift : new Float32Array(w.shape[0]!))),
      flipped: tf.keep(flipKernel(tf, kernel)),
      stride,
    };
  };
  const layers = BLOCKS.map((blocks, l) =>
    Array.from({ length: blocks }, (_, b): Block => {
      const p = `layer${l + 1}.${b}`;
      const stride = b === 0 && l > 0 ? 2 : 1;
      return {
        convs: [
          conv(`${p}.conv1.weight`, `${p}.bn1`, 1),
          conv(`${p}.conv2.weight`, `${p}.bn2`, stride),
          conv(`${p}.conv3.weight`, `${p}.bn3`, 1),
        ],
        ...(b === 0 ? { downsample: conv(`${p}.downsample.0.weight`, `${p}.downsample.1`, stride) } : {}),
      };
    }),
  );
  const bn1 = bnFactors('bn1');
  const all = () => [conv1, ...layers.flat().flatMap((b) => [...b.convs, ...(b.downsample ? [b.downsample] : [])])];
  const conv1 = conv('conv1.weight', null, 2);
  return {
    source,
    conv1,
    layers,
    bn1: { scale: tf.keep(tf.tensor1d(bn1.scale)), shift: tf.keep(tf.tensor1d(bn1.shift)) },
    dispose() {
      for (const c of all()) tf.dispose([c.kernel, c.bias, c.flipped]);
      tf.dispose([this.bn1.scale, this.bn1.shift]);
    },
  };
}

/** Seeded random weights in torchvision's layout (He-normal convs, identity BatchNorm). */
export function randomResnetStateDict(seed: number): StateDict {
  const dict: StateDict = new Map();
  for (const [key, shape] of expectedShapes(64)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (shape.length === 4) data = randomNormal(n, Math.sqrt(2 / (n / shape[0]!)), mulberry32(seedFor(seed, key)));
    else data = new Float32Array(n).fill(key.endsWith('weight') || key.endsWith('running_var') ? 1 : 0);
    // The last BatchNorm of each residual branch starts small so random activations stay bounded.
    if (/bn3\.weight$/.test(key)) data.fill(0.2);
    dict.set(key, { shape, data } as NamedArray);
  }
  return dict;
}

function applyConv(tf: TF, x: Tensor4D, c: Conv): Tensor4D {
  const [kh] = c.kernel.shape;
  const p = (kh - 1) / 2;
  const padded = p
    ? tf.pad(x, [
        [0, 0],
        [p, p],
        [p, p],
        [0, 0],
      ])
    : x;
  const y =
    c.stride === 1 ? convValid(tf, padded, c.kernel, c.flipped) : tf.conv2d(padded, c.kernel, c.stride, 'valid');
  return tf.add(y, c.bias) as Tensor4D;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** One pass from an RGB [0, 1] image to the deepest requested tap; differentiable with respect to the image. */
export function resnet50Forward(
  tf: TF,
  image: Tensor4D,
  taps: readonly string[],
  w: ResNet50Weights,
): Record<string, tfjs.Tensor> {
  const wanted = new Set(taps);
  const end = Math.max(...taps.map((t) => RESNET50_TAPS.indexOf(t as (typeof RESNET50_TAPS)[number])));
  return tf.tidy(() => {
    const result: Record<string, tfjs.Tensor> = {};
    const x0 = tf.div(tf.sub(image, tf.tensor1d(MEAN)), tf.tensor1d(STD)) as Tensor4D;
    let x = applyConv(tf, x0, w.conv1);
    if (wanted.has('conv1')) result.conv1 = x;
    if (end < 1) return result;
    // After the ReLU every value is >= 0, so zero padding equals PyTorch's -inf padding for the max pool.
    x = tf.relu(tf.add(tf.mul(x, w.bn1.scale), w.bn1.shift)) as Tensor4D;
    x = tf.maxPool(
      tf.pad(x, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
      3,
      2,
      'valid',
    );
    if (wanted.has('maxpool')) result.maxpool = x;
    for (let l = 0; l < 4 && l + 2 <= end; l++) {
      for (const block of w.layers[l]!) {
        const y = tf.relu(
          applyConv(tf, tf.relu(applyConv(tf, x, block.convs[0])) as Tensor4D, block.convs[1]),
        ) as Tensor4D;
        const z = applyConv(tf, y, block.convs[2]);
        x = tf.relu(tf.add(z, block.downsample ? applyConv(tf, x, block.downsample) : x)) as Tensor4D;
      }
      if (wanted.has(RESNET50_TAPS[l + 2]!)) result[RESNET50_TAPS[l + 2]!] = x;
    }
    return result;
  });
}
