import type * as tfjs from '@tensorflow/tfjs';
import type { ModelHandle } from './handle';
import type { ConvWeights } from './checkpoints';
import { registerMirrorPadGradient } from './mirror-pad-gradient';

type TF = typeof tfjs;

let count = 0;

/**
 * Trainable copies of named convs (the originals, possibly cached checkpoint weights, are untouched),
 * exposed as a Model: the variables an optimiser updates and a state dict in the checkpoint's names
 * and PyTorch layout ([out, in, kh, kw]) so trained weights load back like the published ones.
 */
export function trainableConvs(
  tf: TF,
  name: string,
  convs: { key: string; w: ConvWeights }[],
): ModelHandle & { convs: ConvWeights[] } {
  // The decoders pad by reflection: their gradient near the edges needs the full MirrorPad gradient.
  registerMirrorPadGradient(tf);
  const id = ++count;
  const copies = convs.map(({ key, w }) =>
    tf.tidy(() => ({
      kernel: tf.variable(w.kernel, true, `${name}-${id}/${key}.weight`) as unknown as tfjs.Tensor4D,
      bias: tf.variable(w.bias, true, `${name}-${id}/${key}.bias`) as unknown as tfjs.Tensor1D,
    })),
  );
  const variables = copies.flatMap((c) => [c.kernel, c.bias]) as unknown as tfjs.Variable[];
  return {
    kind: 'model',
    name,
    convs: copies,
    variables,
    async stateDict() {
      const out = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [i, { key }] of convs.entries()) {
        const kernel = tf.tidy(() => tf.transpose(copies[i]!.kernel, [3, 2, 0, 1]));
        out.set(`${key}.weight`, { shape: kernel.shape, data: (await kernel.data()) as Float32Array });
        out.set(`${key}.bias`, { shape: copies[i]!.bias.shape, data: (await copies[i]!.bias.data()) as Float32Array });
        kernel.dispose();
      }
      return out;
    },
    dispose: () => tf.dispose(variables),
  };
}
