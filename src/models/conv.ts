import type * as tfjs from '@tensorflow/tfjs';
import { matMul } from '../ops/matmul';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/** The kernel rotated 180 degrees with in/out swapped: a conv with it is the input gradient. */
export function flipKernel(tf: TF, kernel: Tensor4D): Tensor4D {
  return tf.tidy(() => tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]));
}

/** dL/dW of a stride-1 'valid' conv: for each kernel offset, x shifted by it times dy, summed over positions. */
function filterGradient(tf: TF, x: Tensor4D, dy: Tensor4D, kh: number, kw: number): Tensor4D {
  const [b, ho, wo, co] = dy.shape;
  const ci = x.shape[3];
  const dyFlat = tf.reshape(dy, [b * ho * wo, co]);
  const taps: tfjs.Tensor2D[] = [];
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      taps.push(
        matMul(
          tf,
          tf.reshape(tf.slice(x, [0, i, j, 0], [b, ho, wo, ci]), [b * ho * wo, ci]),
          dyFlat,
          true,
        ) as tfjs.Tensor2D,
      );
  return tf.reshape(tf.stack(taps), [kh, kw, ci, co]);
}

/**
 * A stride-1 'valid' conv whose gradients are forward convs and matrix products. tfjs-wasm has no
 * Conv2DBackpropFilter kernel at all and a naive Conv2DBackpropInput (about 13x slower than a forward
 * conv here); the input gradient is a 'valid' conv of dy padded by k-1 with the flipped kernel.
 * Kernels that are tf.Variables (being trained) also get their gradient; constant ones do not pay for it.
 */
export function convValid(tf: TF, x: Tensor4D, kernel: Tensor4D, flipped?: Tensor4D): Tensor4D {
  const [kh, kw] = kernel.shape;
  const pad: [number, number][] = [
    [0, 0],
    [kh - 1, kh - 1],
    [kw - 1, kw - 1],
    [0, 0],
  ];
  const inputGradient = (dy: Tensor4D, k: Tensor4D, f?: Tensor4D) =>
    tf.conv2d(tf.pad(dy, pad), f ?? flipKernel(tf, k), 1, 'valid');
  if (kernel instanceof tf.Variable) {
    const f = tf.customGrad((...args) => {
      const [xIn, kIn, save] = args as [Tensor4D, Tensor4D, tfjs.GradSaveFunc];
      save([xIn, kIn]);
      return {
        value: tf.conv2d(xIn, kIn, 1, 'valid'),
        gradFunc: (dy, [xs, ks]) => [
          inputGradient(dy as Tensor4D, ks as Tensor4D),
          filterGradient(tf, xs as Tensor4D, dy as Tensor4D, kh, kw),
        ],
      };
    });
    return f(x, kernel) as Tensor4D;
  }
  const f = tf.customGrad((xIn) => ({
    value: tf.conv2d(xIn as Tensor4D, kernel, 1, 'valid'),
    gradFunc: (dy) => inputGradient(dy as Tensor4D, kernel, flipped),
  }));
  return f(x) as Tensor4D;
}

let filterKernelRegistered = false;

/**
 * tfjs-wasm has no Conv2DBackpropFilter kernel, and tfjs's fused conv (what Layers models use) asks for
 * the filter gradient even when only the image is being optimised. This registers one built from
 * strided slices and matrix products (any stride, 'same', 'valid' or explicit padding, NHWC).
 */
export function registerWasmFilterGradient(tf: TF): void {
  if (filterKernelRegistered || tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  filterKernelRegistered = true;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, dy } = inputs as unknown as { x: Tensor4D; dy: Tensor4D };
      const { strides, pad, filterShape } = attrs as unknown as {
        strides: number | [number, number];
        pad: 'same' | 'valid' | number;
        filterShape: [number, number, number, number];
      };
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      const [kh, kw, ci, co] = filterShape;
      const [b, ho, wo] = dy.shape;
      const result = tf.tidy(() => {
        let top = 0;
        let left = 0;
        if (pad === 'same') {
          top = Math.floor(Math.max((ho - 1) * sh + kh - x.shape[1], 0) / 2);
          left = Math.floor(Math.max((wo - 1) * sw + kw - x.shape[2], 0) / 2);
        } else if (typeof pad === 'number') top = left = pad;
        const padded = tf.pad(x, [
          [0, 0],
          [top, top + kh],
          [left, left + kw],
          [0, 0],
        ]);
        const dyFlat = tf.reshape(dy, [b * ho * wo, co]);
        const taps: tfjs.Tensor2D[] = [];
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const patch = tf.stridedSlice(
              padded,
              [0, i, j, 0],
              [b, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, ci],
              [1, sh, sw, 1],
            );
            taps.push(matMul(tf, tf.reshape(patch, [b * ho * wo, ci]), dyFlat, true) as tfjs.Tensor2D);
          }
        return tf.reshape(tf.stack(taps), [kh, kw, ci, co]);
      });
      // A kernel must return storage it owns: copy into a fresh buffer (wasm memory is CPU memory anyway).
      const values = result.dataSync() as Float32Array;
      const shape = result.shape;
      result.dispose();
      return { dataId: (backend as tfjs.KernelBackend).write(values, shape, 'float32'), shape, dtype: 'float32' };
    },
  });
}
