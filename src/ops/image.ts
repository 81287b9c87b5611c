import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;

/** Height and width after scaling so the longest side is `size` (aspect kept, at least 1 px). */
export function fitSize(height: number, width: number, size: number): [number, number] {
  const s = size / Math.max(height, width);
  return [Math.max(1, Math.round(height * s)), Math.max(1, Math.round(width * s))];
}

/**
 * RGBA bytes -> [1, H, W, 3] float in [0, 1] at the given size. Downscaling first halves with
 * 2x2 average pooling while that stays above the target, so small runs of large photos don't alias.
 */
export function imageToTensor(
  tf: TF,
  rgba: { width: number; height: number; data: Uint8Array | Uint8ClampedArray },
  size: number,
): tfjs.Tensor4D {
  return tf.tidy(() => {
    const [h, w] = fitSize(rgba.height, rgba.width, size);
    // RGB floats and the halvings in one pass over the bytes here, not as tfjs ops: a 640 x 480 camera frame took
    // 27 ms of CPU through upload, slice, divide and the reshape-and-mean halving (whose Mean transposes), about 3 ms
    // this way. (It also avoids tfjs-wasm's slice of an int32 [H, W, 4] tensor, which read the wrong memory at some
    // sizes: 383 x 383 gave garbage, then an abort.)
    const f = rgbFloats(rgba, rgba.height >= 2 * h && rgba.width >= 2 * w);
    let x = tf.tensor4d(f.data, [1, f.height, f.width, 3]);
    while (x.shape[1] >= 2 * h && x.shape[2] >= 2 * w) x = halve(tf, x);
    return x.shape[1] === h && x.shape[2] === w ? x : tf.image.resizeBilinear(x, [h, w], true);
  });
}

/**
 * RGBA bytes -> RGB floats in [0, 1], [H, W, 3] row-major; with `halved`, 2x2 blocks averaged as `halve` does (an odd
 * last row or column dropped).
 */
export function rgbFloats(
  rgba: { width: number; height: number; data: Uint8Array | Uint8ClampedArray },
  halved: boolean,
): { width: number; height: number; data: Float32Array } {
  const { width, height, data: src } = rgba;
  if (!halved) {
    const data = new Float32Array(width * height * 3);
    for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
      data[j] = src[i]! / 255;
      data[j + 1] = src[i + 1]! / 255;
      data[j + 2] = src[i + 2]! / 255;
    }
    return { width, height, data };
  }
  const [h2, w2] = [Math.floor(height / 2), Math.floor(width / 2)];
  const data = new Float32Array(w2 * h2 * 3);
  const row = width * 4;
  for (let y = 0, j = 0; y < h2; y++)
    for (let x = 0, i = 2 * y * row; x < w2; x++, i += 8, j += 3)
      for (let c = 0; c < 3; c++)
        data[j + c] = (src[i + c]! + src[i + 4 + c]! + src[i + row + c]! + src[i + row + 4 + c]!) / 1020;
  return { width: w2, height: h2, data };
}

/**
 * 2x2 average pooling, 'valid' (an odd last row or column is dropped), as a reshape and a mean: threaded tfjs-wasm
 * aborts creating XNNPACK's average pooling after a large slice (xnn_create_average_pooling2d_nhwc_f32 fails; seen on
 * a 383 x 383 photo), and this form needs no pooling operator.
 */
export function halve(tf: TF, x: tfjs.Tensor4D): tfjs.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [h2, w2] = [Math.floor(h / 2), Math.floor(w / 2)];
  const even = h === 2 * h2 && w === 2 * w2 ? x : tf.slice(x, [0, 0, 0, 0], [n, 2 * h2, 2 * w2, c]);
  return tf.mean(tf.reshape(even, [n, h2, 2, w2, 2, c]), [2, 4]) as tfjs.Tensor4D;
}

/** Resizes an image tensor [1, H, W, 3] to the given height and width. */
export function resizeTo(tf: TF, image: tfjs.Tensor, height: number, width: number): tfjs.Tensor4D {
  const x = image as tfjs.Tensor4D;
  if (x.shape[1] === height && x.shape[2] === width) return tf.clone(x);
  return tf.image.resizeBilinear(x, [height, width], true);
}

export interface RGBAImage {
  width: number;
  height: number;
  data: Uint8ClampedArray<ArrayBuffer>;
}

/** [1, H, W, 3] float in [0, 1] -> RGBA bytes (clamped; NaN becomes 0). */
export async function tensorToRGBA(image: tfjs.Tensor): Promise<RGBAImage> {
  const [, height, width] = image.shape as [number, number, number, number];
  const rgb = await image.data();
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    data[i * 4] = Math.round(rgb[j]! * 255);
    data[i * 4 + 1] = Math.round(rgb[j + 1]! * 255);
    data[i * 4 + 2] = Math.round(rgb[j + 2]! * 255);
    data[i * 4 + 3] = 255;
  }
  return { width, height, data };
}
