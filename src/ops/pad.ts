import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/**
 * How a convolution sees past an image's edges. zero: zeros (torchvision's VGG); reflect: the image mirrored
 * (vgg_normalised and the decoders); circular: the opposite edge, as if the image were wrapped on a torus, so a
 * network's output, and an image optimised through it, tiles without a seam.
 */
export const PADDINGS = ['zero', 'reflect', 'circular'] as const;
export type Padding = (typeof PADDINGS)[number];

/**
 * x [B, H, W, C] padded by `p` on each side of H and W: wrapped around (circular, concatenated slices of the
 * opposite edges, whose gradient tfjs has), mirrored (reflect) or zeros.
 */
export function padSpatial(tf: TF, x: Tensor4D, p: number, padding: Padding): Tensor4D {
  if (!p) return x;
  const paddings: [number, number][] = [
    [0, 0],
    [p, p],
    [p, p],
    [0, 0],
  ];
  if (padding === 'zero') return tf.pad(x, paddings);
  if (padding === 'reflect') return tf.mirrorPad(x, paddings, 'reflect');
  return circularPad(tf, x, p);
}

/** x wrapped around by `p` rows and columns on each side: row -1 is row H-1, column W is column 0. */
export function circularPad(tf: TF, x: Tensor4D, p: number): Tensor4D {
  const [b, h, w, c] = x.shape;
  if (p > h || p > w) throw new Error(`circular padding of ${p} needs an image of at least ${p}x${p}, not ${h}x${w}`);
  return tf.tidy(() => {
    const rows = tf.concat(
      [tf.slice(x, [0, h - p, 0, 0], [b, p, w, c]), x, tf.slice(x, [0, 0, 0, 0], [b, p, w, c])],
      1,
    );
    const hp = h + 2 * p;
    return tf.concat(
      [tf.slice(rows, [0, 0, w - p, 0], [b, hp, p, c]), rows, tf.slice(rows, [0, 0, 0, 0], [b, hp, p, c])],
      2,
    ) as Tensor4D;
  });
}
