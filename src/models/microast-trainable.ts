import type * as tfjs from '@tensorflow/tfjs';
import { registerWasmFilterGradient } from './conv';
import type { ModelHandle } from './handle';
import { registerMirrorPadGradient } from './mirror-pad-gradient';
import {
  DECODER_SPECS,
  ENCODER_SPECS,
  MODULATOR_SPECS,
  type MicroConv,
  type MicroDecoderWeights,
  type MicroEncoderWeights,
  type ModulatorWeights,
} from './microast';

type TF = typeof tfjs;

/** MicroAST's four parts, each trained and saved on its own as in the official train_microAST.py. */
export const MICROAST_PARTS = ['content-encoder', 'style-encoder', 'modulator', 'decoder'] as const;
export type MicroastPart = (typeof MICROAST_PARTS)[number];

/**
 * A MicroAST part whose convs an optimiser can train; its state dict has the official module's names and layout.
 * `encoder()`, `modulator()` and `decoder()` give the part at the variables' current values with every conv as a
 * dense one (see `denseConv`): call them inside the computation the gradients are taken of, and a tf.tidy.
 */
export type MicroastModel = ModelHandle &
  (
    | { part: 'content-encoder' | 'style-encoder'; encoder(): MicroEncoderWeights }
    | { part: 'modulator'; modulator(): ModulatorWeights }
    | { part: 'decoder'; decoder(): MicroDecoderWeights }
  );

/**
 * A grouped conv as the dense conv it equals (zeros off its groups), so that training needs only the dense conv's
 * gradients: tfjs-wasm has no depthwise backprop kernels (nor a dense filter gradient, which registerWasmFilterGradient
 * adds). depthwise [k, k, in, mult]: output c * mult + m reads input c; pairs [k, k, in, 1]: output g sums inputs
 * g * n .. g * n + n - 1, and its bias is the sum of the bias spread over the group. Costs more multiply-adds than the
 * grouped conv, which the run presets keep.
 */
export function denseConv(tf: TF, c: MicroConv): MicroConv {
  if (c.kind === 'dense') return c;
  const { k, cin, cout } = c;
  return tf.tidy(() => {
    if (c.kind === 'depthwise') {
      const mult = cout / cin;
      const eye = tf.reshape(tf.eye(cin), [1, 1, cin, cin, 1]);
      const kernel = tf.reshape(tf.mul(tf.reshape(c.kernel, [k, k, cin, 1, mult]), eye), [
        k,
        k,
        cin,
        cout,
      ]) as tfjs.Tensor4D;
      return { ...c, kind: 'dense' as const, kernel, bias: c.bias };
    }
    const n = cin / cout;
    // mask[i, g] = 1 where input i belongs to group g
    const mask = tf.reshape(tf.tile(tf.reshape(tf.eye(cout), [cout, 1, cout]), [1, n, 1]), [1, 1, cin, cout]);
    const kernel = tf.mul(c.kernel, mask) as tfjs.Tensor4D;
    return { ...c, kind: 'dense' as const, kernel, bias: tf.sum(tf.reshape(c.bias, [cout, n]), 1) as tfjs.Tensor1D };
  });
}

/**
 * A conv's weight and bias back in PyTorch's layout ([out, in / groups, k, k]), the inverse of the reader's
 * rearrangement (src/models/microast.ts kernelFor): dense [k, k, in, out] is transposed; depthwise [k, k, in, mult]
 * has output channel c * mult + m, which is its flat order; a `pairs` conv's [k, k, in, 1] holds input channel
 * g * n + j's filter of group g, and its bias, spread over each group's inputs, is summed back (the forward pass
 * sums the group, so only the sum matters, and training may move every entry).
 */
export function torchConv(tf: TF, c: MicroConv): { weight: tfjs.Tensor; bias: tfjs.Tensor } {
  return tf.tidy(() => {
    const { k, cin, cout } = c;
    if (c.kind === 'dense') return { weight: tf.transpose(c.kernel, [3, 2, 0, 1]), bias: tf.clone(c.bias) };
    if (c.kind === 'depthwise')
      return {
        weight: tf.reshape(tf.transpose(tf.reshape(c.kernel, [k, k, cout]), [2, 0, 1]), [cout, 1, k, k]),
        bias: tf.clone(c.bias),
      };
    const n = cin / cout;
    return {
      weight: tf.reshape(tf.transpose(tf.reshape(c.kernel, [k, k, cin]), [2, 0, 1]), [cout, n, k, k]),
      bias: tf.sum(tf.reshape(c.bias, [cout, n]), 1),
    };
  });
}

let count = 0;

function trainable(
  tf: TF,
  name: string,
  convs: MicroConv[],
  prefixes: string[],
): { convs: () => MicroConv[]; handle: ModelHandle } {
  registerWasmFilterGradient(tf);
  registerMirrorPadGradient(tf);
  const id = ++count;
  const copies = convs.map((c, i) =>
    tf.tidy(() => ({
      ...c,
      kernel: tf.variable(c.kernel, true, `${name}-${id}/${prefixes[i]}.weight`) as unknown as tfjs.Tensor4D,
      bias: tf.variable(c.bias, true, `${name}-${id}/${prefixes[i]}.bias`) as unknown as tfjs.Tensor1D,
    })),
  );
  const variables = copies.flatMap((c) => [c.kernel, c.bias]) as unknown as tfjs.Variable[];
  return {
    convs: () => copies.map((c) => denseConv(tf, c)),
    handle: {
      kind: 'model',
      name,
      variables,
      async stateDict() {
        const out = new Map<string, { shape: number[]; data: Float32Array }>();
        for (const [i, c] of copies.entries()) {
          const { weight, bias } = torchConv(tf, c);
          out.set(`${prefixes[i]}.weight`, {
            shape: [...weight.shape],
            data: Float32Array.from((await weight.data()) as Float32Array),
          });
          out.set(`${prefixes[i]}.bias`, {
            shape: [...bias.shape],
            data: Float32Array.from((await bias.data()) as Float32Array),
          });
          tf.dispose([weight, bias]);
        }
        return out;
      },
      dispose: () => tf.dispose(variables),
    },
  };
}

const prefixes = (specs: { prefix: string }[]) => specs.map((s) => s.prefix);

/** A trainable copy of a micro encoder (content or style), saved with the official `Encoder` names. */
export function trainableMicroEncoder(
  tf: TF,
  name: string,
  part: 'content-encoder' | 'style-encoder',
  base: MicroEncoderWeights,
): MicroastModel {
  const all = [...base.convs, base.res1.conv1, base.res1.conv2, base.res2.conv1, base.res2.conv2];
  const { convs, handle } = trainable(tf, name, all, prefixes(ENCODER_SPECS));
  const encoder = (): MicroEncoderWeights => {
    const c = convs();
    return {
      source: `${base.source}, trained`,
      convs: c.slice(0, 5),
      res1: { conv1: c[5]!, conv2: c[6]! },
      res2: { conv1: c[7]!, conv2: c[8]! },
      dispose: () => {},
    };
  };
  return { ...handle, part, encoder };
}

export function trainableModulator(tf: TF, name: string, base: ModulatorWeights): MicroastModel {
  const { convs, handle } = trainable(
    tf,
    name,
    [base.weight1, base.bias1, base.weight2, base.bias2],
    prefixes(MODULATOR_SPECS),
  );
  const modulator = (): ModulatorWeights => {
    const c = convs();
    return {
      source: `${base.source}, trained`,
      weight1: c[0]!,
      bias1: c[1]!,
      weight2: c[2]!,
      bias2: c[3]!,
      dispose: () => {},
    };
  };
  return { ...handle, part: 'modulator', modulator };
}

export function trainableMicroDecoder(tf: TF, name: string, base: MicroDecoderWeights): MicroastModel {
  const all = [base.dec1.conv1, base.dec1.conv2, base.dec2.conv1, base.dec2.conv2, ...base.head];
  const { convs, handle } = trainable(tf, name, all, prefixes(DECODER_SPECS));
  const decoder = (): MicroDecoderWeights => {
    const c = convs();
    return {
      source: `${base.source}, trained`,
      dec1: { conv1: c[0]!, conv2: c[1]! },
      dec2: { conv1: c[2]!, conv2: c[3]! },
      head: c.slice(4),
      dispose: () => {},
    };
  };
  return { ...handle, part: 'decoder', decoder };
}
