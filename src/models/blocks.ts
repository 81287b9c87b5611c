import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/** [n, h, w, c] -> [n, h / bs, w / bs, bs * bs * c], channel (p * bs + q) * c + i for row p, column q of a block. */
export function spaceToDepth(tf: TF, x: Tensor4D, bs: number): Tensor4D {
  const [n, h, w, c] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [n * (h / bs), bs, w / bs, bs * c]), [0, 2, 1, 3]), [
    n,
    h / bs,
    w / bs,
    bs * bs * c,
  ]);
}

/**
 * The inverse of spaceToDepth (tf.depthToSpace's layout) as a reshape and a transpose: tfjs-wasm's DepthToSpace kernel
 * is an element-by-element loop, many times slower. Channel (a * bs + b) * c + i of block (m, n) goes to pixel
 * (bs m + a, bs n + b), channel i.
 */
export function depthToSpace(tf: TF, y: Tensor4D, bs: number): Tensor4D {
  const [n, h, w, cc] = y.shape;
  const c = cc / (bs * bs);
  return tf.reshape(tf.transpose(tf.reshape(y, [n, h, w, bs, bs * c]), [0, 1, 3, 2, 4]), [n, h * bs, w * bs, c]);
}

/**
 * A stride-1 k x k conv with TensorFlow's 'same' zero padding (odd k), run on bs x bs blocks of pixels: the input
 * padded by k // 2 (and with zeros to whole blocks), space-to-depth, a 'valid' conv with the block kernel (`blockKernel`) from bs*bs*in to
 * bs*bs*out channels, depth-to-space, cropped to the input's size. The same sums as tf.conv2d(x, kernel, 1, 'same');
 * for a conv with few outputs (the 9x9 conv to RGB) XNNPACK's GEMM then fills its lanes and splits the work over
 * its threads (see docs/benchmarks.md).
 */
export function blocksConvSame(tf: TF, x: Tensor4D, blockKernel4: Tensor4D, k: number, bs: number): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = x.shape;
    const p = k >> 1;
    // Enough whole blocks that the output covers h x w: ceil(h / bs) output blocks read kb - 1 more input blocks.
    const kb = blockKernel4.shape[0];
    const [hq, wq] = [(Math.ceil(h / bs) + kb - 1) * bs, (Math.ceil(w / bs) + kb - 1) * bs];
    const padded = tf.pad(x, [
      [0, 0],
      [p, hq - h - p],
      [p, wq - w - p],
      [0, 0],
    ]);
    const y = depthToSpace(tf, tf.conv2d(spaceToDepth(tf, padded, bs), blockKernel4, 1, 'valid'), bs);
    return y.shape[1] === h && y.shape[2] === w ? y : tf.slice(y, [0, 0, 0, 0], [n, h, w, y.shape[3]]);
  });
}

/** A dense kernel [k, k, in, out] as its space-to-depth form [k', k', bs*bs*in, bs*bs*out], k' = ceil((k + bs - 1) / bs). */
export function blockKernel(
  src: Float32Array,
  k: number,
  cin: number,
  cout: number,
  bs: number,
): { data: Float32Array; shape: [number, number, number, number] } {
  const kb = Math.ceil((k + bs - 1) / bs);
  const [ci, co] = [bs * bs * cin, bs * bs * cout];
  const data = new Float32Array(kb * kb * ci * co);
  // Output pixel (bs*I + a, bs*J + b) reads input (bs*(I + U) + p, bs*(J + V) + q) through tap (bs*U + p - a, bs*V + q - b).
  for (let U = 0; U < kb; U++)
    for (let V = 0; V < kb; V++)
      for (let p = 0; p < bs; p++)
        for (let q = 0; q < bs; q++)
          for (let a = 0; a < bs; a++)
            for (let b = 0; b < bs; b++) {
              const [u, v] = [bs * U + p - a, bs * V + q - b];
              if (u < 0 || u >= k || v < 0 || v >= k) continue;
              for (let c = 0; c < cin; c++)
                for (let o = 0; o < cout; o++)
                  data[((U * kb + V) * ci + (p * bs + q) * cin + c) * co + (a * bs + b) * cout + o] =
                    src[((u * k + v) * cin + c) * cout + o]!;
            }
  return { data, shape: [kb, kb, ci, co] };
}
