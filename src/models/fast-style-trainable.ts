import type * as tfjs from '@tensorflow/tfjs';
import { FAST_STYLE_LAYERS, phaseKernel, variableName, type FastStyleWeights } from './fast-style';
import { registerWasmFilterGradient } from './conv';
import type { ModelHandle } from './handle';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/**
 * A fast style network whose weights an optimiser can train (Johnson et al.'s training, as Engstrom's
 * fast-style-transfer runs it), exposed as a Model: the variables are the checkpoint's own (ml5's deeplearn.js
 * layout: kernels [kh, kw, in, out], the transposed convs' [kh, kw, out, in], the instance norms' shift and scale),
 * and the state dict has ml5's names (Variable .. Variable_47) and shapes, so `fastStyleFromStateDict` reads it back.
 */
export type FastStyleModel = ModelHandle & {
  /**
   * The network at the variables' current values, for `fastStyle`. The transposed convs' phase kernels are made from
   * their variables here, so call it inside the computation the gradients are taken of (and a tf.tidy).
   */
  fastStyle(): FastStyleWeights;
};

/**
 * The [3, 3, out, in] kernel of a stride-2 transposed conv back from its phase kernel [2, 2, in, 4 out]
 * (`phaseKernel` inverted: every tap is in exactly one window position and output phase). Window row r = 0 holds
 * x[m-1], which only phase 0 reads, with tap 2; row 1 holds x[m], read by phase 0 with tap 0 and by phase 1 with tap 1.
 */
export function transposedKernel(tf: TF, phase: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [, , cin, c4] = phase.shape;
    const cout = c4 / 4;
    // tap t -> (window position, output phase)
    const where: [number, number][] = [
      [1, 0],
      [1, 1],
      [0, 0],
    ];
    const rows: tfjs.Tensor[] = [];
    for (let tr = 0; tr < 3; tr++) {
      const cols: tfjs.Tensor[] = [];
      for (let tc = 0; tc < 3; tc++) {
        const [r, a] = where[tr]!;
        const [c, b] = where[tc]!;
        const block = tf.reshape(tf.slice(phase, [r, c, 0, (a * 2 + b) * cout], [1, 1, cin, cout]), [cin, cout]);
        cols.push(tf.transpose(block, [1, 0])); // [out, in]
      }
      rows.push(tf.stack(cols));
    }
    return tf.stack(rows) as Tensor4D; // [3, 3, out, in]
  });
}

let count = 0;

/** Trainable copies of a fast style network's weights (the originals, possibly cached checkpoint weights, are untouched). */
export function trainableFastStyle(tf: TF, name: string, base: FastStyleWeights): FastStyleModel {
  // The convs' filter gradients (tfjs-wasm has no kernel for them).
  registerWasmFilterGradient(tf);
  const id = ++count;
  const layers = FAST_STYLE_LAYERS.map(({ kind }, l) =>
    tf.tidy(() => {
      const kernel = kind === 'up' ? transposedKernel(tf, base.layers[l]!.kernel) : base.layers[l]!.kernel;
      return {
        up: kind === 'up',
        kernel: tf.variable(kernel, true, `${name}-${id}/${variableName(3 * l)}`) as unknown as Tensor4D,
        shift: tf.variable(
          base.layers[l]!.shift,
          true,
          `${name}-${id}/${variableName(3 * l + 1)}`,
        ) as unknown as tfjs.Tensor1D,
        scale: tf.variable(
          base.layers[l]!.scale,
          true,
          `${name}-${id}/${variableName(3 * l + 2)}`,
        ) as unknown as tfjs.Tensor1D,
      };
    }),
  );
  const variables = layers.flatMap((l) => [l.kernel, l.shift, l.scale]) as unknown as tfjs.Variable[];
  return {
    kind: 'model',
    name,
    variables,
    fastStyle: () => ({
      source: `${base.source}, trained`,
      layers: layers.map((l) => ({
        kernel: l.up ? phaseKernel(tf, l.kernel) : l.kernel,
        shift: l.shift,
        scale: l.scale,
      })),
      dispose: () => {},
    }),
    async stateDict() {
      const out = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [l, layer] of layers.entries())
        for (const [i, t] of [layer.kernel, layer.shift, layer.scale].entries())
          out.set(variableName(3 * l + i), {
            shape: [...t.shape],
            data: Float32Array.from((await t.data()) as Float32Array),
          });
      return out;
    },
    dispose: () => tf.dispose(variables),
  };
}
