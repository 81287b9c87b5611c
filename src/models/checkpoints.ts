import type * as tfjs from '@tensorflow/tfjs';
import { WeightsError, describeDict, misfit, takeExpected, type StateDict } from './weights/state-dict';
import { VGG19_CONVS, VGG19_LAYERS, flipKernel, type Vgg19Variant, type Vgg19Weights } from './vgg19';
import { releaseWinogradFilters } from '../ops/winograd';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/** Module indices of the 16 convs in torchvision's `features` (also the Caffe-converted .pth). */
export const TORCHVISION_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];
/** Module indices of the 16 3x3 convs in `vgg_normalised.pth` (index 0 is the 1x1 preprocessing conv). */
export const NORMALISED_CONV_INDICES = [2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51];

export interface ConvWeights {
  kernel: Tensor4D;
  bias: tfjs.Tensor1D;
}

/**
 * A conv's weights from a state dict, in tfjs layout ([out, in, kh, kw] transposed by (2, 3, 1, 0) on the
 * backend). Weights are kept: they may be built inside a tidy (a node in the optimisation loop) and outlive it.
 */
export function convFrom(tf: TF, dict: StateDict, prefix: string): ConvWeights {
  const w = dict.get(`${prefix}.weight`)!;
  const b = dict.get(`${prefix}.bias`)!;
  const kernel = tf.keep(
    tf.tidy(() => tf.transpose(tf.tensor4d(w.data, w.shape as [number, number, number, number]), [2, 3, 1, 0])),
  );
  return { kernel, bias: tf.keep(tf.tensor1d(b.data)) };
}

/** Expected [out, in, kh, kw] and [out] shapes for a chain of convs whose widths are read from the checkpoint. */
function chainShapes(
  dict: StateDict,
  prefixes: string[],
  firstIn: number,
  k: number,
  what: string,
): Map<string, number[]> {
  const expected = new Map<string, number[]>();
  let cin = firstIn;
  for (const p of prefixes) {
    const w = dict.get(`${p}.weight`);
    if (!w)
      throw misfit(what, [
        `layer "${p}.weight": expected [out, ${cin}, ${k}, ${k}], found no such tensor; the file holds ${describeDict(dict)}`,
      ]);
    const cout = w.shape[0]!;
    expected.set(`${p}.weight`, [cout, cin, k, k]);
    expected.set(`${p}.bias`, [cout]);
    cin = cout;
  }
  return expected;
}

/** State-dict key prefixes of the 16 3x3 convs: `features.N` (torchvision, Caffe) or `N` (vgg_normalised). */
const vgg19ConvPrefixes = (variant: Vgg19Variant): string[] =>
  variant === 'normalised' ? NORMALISED_CONV_INDICES.map(String) : TORCHVISION_CONV_INDICES.map((i) => `features.${i}`);

/**
 * The channel width of every VGG19 layer (conv, relu, pool) as a checkpoint's tensor shapes give them, where they
 * differ from the standard widths (a reduced-width checkpoint); undefined when the shapes are not a VGG19's.
 */
export function vgg19Widths(
  shapes: ReadonlyMap<string, readonly number[]>,
  variant: Vgg19Variant,
): Map<string, number> | undefined {
  const outs = vgg19ConvPrefixes(variant).map((p) => shapes.get(`${p}.weight`)?.[0]);
  if (outs.some((c) => c === undefined)) return undefined;
  const widths = new Map<string, number>();
  let conv = -1;
  for (const l of VGG19_LAYERS) {
    if (l.kind === 'conv') conv++;
    if (conv >= 0 && outs[conv] !== l.cout) widths.set(l.name, outs[conv]!);
  }
  return widths;
}

/**
 * VGG19 weights from a torchvision / Caffe (`features.N.*`) or `vgg_normalised` (`N.*`) state dict.
 * Channel widths come from the checkpoint and every shape is checked against its neighbours.
 */
export function vgg19FromStateDict(tf: TF, dict: StateDict, variant: Vgg19Variant, source: string): Vgg19Weights {
  const normalised = variant === 'normalised';
  const prefixes = vgg19ConvPrefixes(variant);
  const what = `VGG19 (${variant}) from ${source}`;
  const expected = chainShapes(dict, prefixes, 3, 3, what);
  if (normalised) {
    expected.set('0.weight', [3, 3, 1, 1]);
    expected.set('0.bias', [3]);
  }
  takeExpected(dict, expected, what, (k) => k.startsWith('classifier.'));
  const convs = new Map<string, ConvWeights & { flipped?: Tensor4D }>();
  VGG19_CONVS.forEach((l, i) => convs.set(l.name, convFrom(tf, dict, prefixes[i]!)));
  const weights: Vgg19Weights = {
    variant,
    source,
    conv(name) {
      const c = convs.get(name);
      if (!c) throw new WeightsError(`VGG19 has no conv ${name}`);
      c.flipped ??= tf.keep(flipKernel(tf, c.kernel));
      return c as Required<typeof c>;
    },
    dispose() {
      for (const c of convs.values()) {
        releaseWinogradFilters(tf, c.kernel);
        if (c.flipped) releaseWinogradFilters(tf, c.flipped);
        tf.dispose([c.kernel, c.bias, ...(c.flipped ? [c.flipped] : [])]);
      }
      if (weights.preconv) tf.dispose([weights.preconv.kernel, weights.preconv.bias]);
    },
  };
  if (normalised) weights.preconv = convFrom(tf, dict, '0');
  return weights;
}
