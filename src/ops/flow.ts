import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

/**
 * Optical flow for flow-guided video (Ruder et al. 2016, "Artistic style transfer for videos"): the flow between
 * consecutive frames, the previous styled frame warped by it, and the mask of the pixels the warp cannot be trusted
 * on (occlusions, motion boundaries, pixels from outside the frame).
 *
 * The flow is classical dense Lucas-Kanade (Lucas and Kanade 1981; the pyramidal, iterative form of Bouguet 2000),
 * coarse to fine with warping, written with tfjs ops so it runs on every backend the styling runs on. At each level
 * of a Gaussian pyramid the second image is warped by the flow so far, and an increment d minimising
 * sum_window w (Ix dx + Iy dy + It)^2 + lambda |d|^2 is solved per pixel (a 2x2 system, in closed form); lambda
 * keeps textureless pixels at the flow from the level above instead of dividing by nothing.
 *
 * Conventions: images [1, H, W, C] in [0, 1]; a flow is [1, H, W, 2] holding (dx, dy) in pixels, and
 * `flow(from, to)` is the u for which from(x) ~ to(x + u(x)), so `warp(to, u)` looks like `from`.
 */

export interface FlowOptions {
  /** Pyramid levels at most (each half the size of the last; stops before a side falls under `minSide`). */
  levels?: number;
  minSide?: number;
  /** Warp-and-solve rounds per level. */
  iterations?: number;
  /** The Gaussian window's standard deviation (px at every level). */
  sigma?: number;
  /** Tikhonov term of the per-pixel system, in squared intensity gradients ([0, 1] images). */
  lambda?: number;
  /** Side of the median filter applied to the flow after every round (0: none). */
  median?: number;
}

const DEFAULTS: Required<FlowOptions> = { levels: 5, minSide: 12, iterations: 3, sigma: 1.5, lambda: 1e-4, median: 5 };

/** A normalised 1-D Gaussian of radius ceil(2.5 sigma). */
function gaussian(sigma: number): number[] {
  const r = Math.max(1, Math.ceil(2.5 * sigma));
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const s = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / s);
}

/**
 * Separable filtering of every channel of [1, H, W, C] with a 1-D kernel, borders reflected (no dark rim). A side
 * shorter than the kernel's radius + 1 is padded by replication first (mirrorPad cannot reflect more than it has).
 */
function separable(tf: TF, x: Tensor4D, kernel: number[]): Tensor4D {
  return tf.tidy(() => {
    const r = (kernel.length - 1) / 2;
    const c = x.shape[3];
    const kx = tf.tile(tf.tensor4d(kernel, [1, kernel.length, 1, 1]), [1, 1, c, 1]) as Tensor4D;
    const ky = tf.tile(tf.tensor4d(kernel, [kernel.length, 1, 1, 1]), [1, 1, c, 1]) as Tensor4D;
    const padded = padReflect(tf, x, r);
    const h = tf.depthwiseConv2d(padded, kx, 1, 'valid');
    return tf.depthwiseConv2d(h, ky, 1, 'valid');
  });
}

/** Reflect-pads H and W by r (replicating the edge first where a side is too short to reflect r pixels). */
function padReflect(tf: TF, x: Tensor4D, r: number): Tensor4D {
  return tf.tidy(() => {
    let y = x;
    const [, h, w] = y.shape;
    if (h <= r || w <= r) y = padEdge(tf, y, h <= r ? r : 0, w <= r ? r : 0);
    return tf.mirrorPad(
      y,
      [
        [0, 0],
        [r, r],
        [r, r],
        [0, 0],
      ],
      'reflect',
    ) as Tensor4D;
  });
}

/** Replicates the outer rows (ry on each side) and columns (rx). */
function padEdge(tf: TF, x: Tensor4D, ry: number, rx: number): Tensor4D {
  return tf.tidy(() => {
    let y = x;
    if (ry) {
      const [, h] = y.shape;
      const top = tf.tile(tf.slice(y, [0, 0, 0, 0], [-1, 1, -1, -1]), [1, ry, 1, 1]);
      const bottom = tf.tile(tf.slice(y, [0, h - 1, 0, 0], [-1, 1, -1, -1]), [1, ry, 1, 1]);
      y = tf.concat([top, y, bottom], 1);
    }
    if (rx) {
      const [, , w] = y.shape;
      const left = tf.tile(tf.slice(y, [0, 0, 0, 0], [-1, -1, 1, -1]), [1, 1, rx, 1]);
      const right = tf.tile(tf.slice(y, [0, 0, w - 1, 0], [-1, -1, 1, -1]), [1, 1, rx, 1]);
      y = tf.concat([left, y, right], 2);
    }
    return y;
  });
}

/** Central differences (x, y) of [1, H, W, C], one-sided at the borders (edges replicated). */
export function gradients(tf: TF, x: Tensor4D): [Tensor4D, Tensor4D] {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const p = padEdge(tf, x, 1, 1);
    const gx = tf.mul(
      tf.sub(tf.slice(p, [0, 1, 2, 0], [-1, h, w, -1]), tf.slice(p, [0, 1, 0, 0], [-1, h, w, -1])),
      0.5,
    );
    const gy = tf.mul(
      tf.sub(tf.slice(p, [0, 2, 1, 0], [-1, h, w, -1]), tf.slice(p, [0, 0, 1, 0], [-1, h, w, -1])),
      0.5,
    );
    return [gx as Tensor4D, gy as Tensor4D];
  });
}

/** The pixel grid: x and y coordinates [1, H, W, 1]. */
function grid(tf: TF, h: number, w: number): [Tensor4D, Tensor4D] {
  return tf.tidy(() => {
    const xs = tf.tile(tf.reshape(tf.range(0, w, 1, 'float32'), [1, 1, w, 1]), [1, h, 1, 1]) as Tensor4D;
    const ys = tf.tile(tf.reshape(tf.range(0, h, 1, 'float32'), [1, h, 1, 1]), [1, 1, w, 1]) as Tensor4D;
    return [xs, ys];
  });
}

/**
 * Bilinear backward warp: out(x) = image(x + flow(x)), sampled between the four nearest pixels; a position outside
 * the image reads the nearest border pixel (`inside` says which positions did not). Batch 1.
 */
export function warp(tf: TF, image: Tensor4D, flow: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = image.shape;
    if (n !== 1 || flow.shape[0] !== 1) throw new Error('warp: one image at a time');
    if (flow.shape[1] !== h || flow.shape[2] !== w || flow.shape[3] !== 2)
      throw new Error(`warp: a flow of [1, ${h}, ${w}, 2] is needed for a ${w}x${h} image, got [${flow.shape}]`);
    const [gx, gy] = grid(tf, h, w);
    const [u, v] = tf.split(flow, 2, 3) as [Tensor4D, Tensor4D];
    const sx = tf.clipByValue(tf.add(gx, u), 0, w - 1);
    const sy = tf.clipByValue(tf.add(gy, v), 0, h - 1);
    const x0 = tf.floor(sx);
    const y0 = tf.floor(sy);
    const fx = tf.sub(sx, x0);
    const fy = tf.sub(sy, y0);
    const x1 = tf.minimum(tf.add(x0, 1), w - 1);
    const y1 = tf.minimum(tf.add(y0, 1), h - 1);
    const flat = tf.reshape(image, [h * w, c]);
    const at = (yy: tfjs.Tensor, xx: tfjs.Tensor) =>
      tf.reshape(tf.gather(flat, tf.reshape(tf.cast(tf.add(tf.mul(yy, w), xx), 'int32'), [h * w])), [1, h, w, c]);
    const top = tf.add(tf.mul(at(y0, x0), tf.sub(1, fx)), tf.mul(at(y0, x1), fx));
    const bottom = tf.add(tf.mul(at(y1, x0), tf.sub(1, fx)), tf.mul(at(y1, x1), fx));
    return tf.add(tf.mul(top, tf.sub(1, fy)), tf.mul(bottom, fy)) as Tensor4D;
  });
}

/** 1 where x + flow(x) lies in the image (within `margin` px outside the border), else 0: [1, H, W, 1]. */
export function inside(tf: TF, flow: Tensor4D, margin = 0): Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = flow.shape;
    const [gx, gy] = grid(tf, h, w);
    const [u, v] = tf.split(flow, 2, 3) as [Tensor4D, Tensor4D];
    const sx = tf.add(gx, u);
    const sy = tf.add(gy, v);
    const ok = tf.logicalAnd(
      tf.logicalAnd(tf.greaterEqual(sx, -margin), tf.lessEqual(sx, w - 1 + margin)),
      tf.logicalAnd(tf.greaterEqual(sy, -margin), tf.lessEqual(sy, h - 1 + margin)),
    );
    return tf.cast(ok, 'float32') as Tensor4D;
  });
}

/** Luminance-like grey [1, H, W, 1]: the mean of the channels. */
function grey(tf: TF, x: Tensor4D): Tensor4D {
  return tf.tidy(() => (x.shape[3] === 1 ? tf.clone(x) : tf.mean(x, 3, true)) as Tensor4D);
}

/** Halves [1, H, W, C] after a Gaussian blur (sigma 1), to ceil(H / 2) x ceil(W / 2). */
function down(tf: TF, x: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    return tf.image.resizeBilinear(separable(tf, x, gaussian(1)), [Math.ceil(h / 2), Math.ceil(w / 2)], true);
  });
}

/** Resizes a flow to [h, w], scaling its vectors by the change of size along each axis. */
function resizeFlow(tf: TF, flow: Tensor4D, h: number, w: number): Tensor4D {
  return tf.tidy(() => {
    const [, fh, fw] = flow.shape;
    if (fh === h && fw === w) return tf.clone(flow);
    const up = tf.image.resizeBilinear(flow, [h, w], true);
    const scale = tf.tensor4d([(w - 1) / Math.max(1, fw - 1), (h - 1) / Math.max(1, fh - 1)], [1, 1, 1, 2]);
    return tf.mul(up, scale) as Tensor4D;
  });
}

/**
 * Dense optical flow u [1, H, W, 2] with from(x) ~ to(x + u(x)): pyramidal, iterative Lucas-Kanade (see the top of
 * the file). `from` and `to` are [1, H, W, C] of one size, in [0, 1].
 */
export function flow(tf: TF, from: Tensor4D, to: Tensor4D, options: FlowOptions = {}): Tensor4D {
  const o = { ...DEFAULTS, ...options };
  if (from.shape[1] !== to.shape[1] || from.shape[2] !== to.shape[2])
    throw new Error(`flow: frames of different sizes ([${from.shape}] and [${to.shape}])`);
  return tf.tidy(() => {
    // A light blur first: Lucas-Kanade's linearisation wants smooth images.
    const a: Tensor4D[] = [separable(tf, grey(tf, from), gaussian(0.8))];
    const b: Tensor4D[] = [separable(tf, grey(tf, to), gaussian(0.8))];
    while (a.length < o.levels && Math.min(...a.at(-1)!.shape.slice(1, 3)) >= 2 * o.minSide) {
      a.push(down(tf, a.at(-1)!));
      b.push(down(tf, b.at(-1)!));
    }
    const window = gaussian(o.sigma);
    let u: Tensor4D | null = null;
    for (let level = a.length - 1; level >= 0; level--) {
      const [, h, w] = a[level]!.shape;
      let current: Tensor4D = u ? resizeFlow(tf, u, h, w) : (tf.zeros([1, h, w, 2]) as Tensor4D);
      for (let i = 0; i < o.iterations; i++) {
        current = step(tf, a[level]!, b[level]!, current, window, o.lambda);
        if (o.median > 1) current = median(tf, current, o.median);
      }
      u = current;
    }
    return u!;
  });
}

/**
 * The median of every channel over a size x size neighbourhood (edges replicated): between rounds it removes the
 * outliers a window straddling two motions makes, without blurring the motion boundary (Sun, Roth and Black 2010,
 * "Secrets of optical flow estimation"). The neighbourhood's values are stacked and the middle one taken with topk.
 */
export function median(tf: TF, x: Tensor4D, size: number): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const r = Math.floor(size / 2);
    const k = (2 * r + 1) ** 2;
    // Channel by channel, the neighbourhood along the last axis (concat on the last axis of [n, h, w, 1] pieces is
    // several times faster on wasm than stacking on a fifth axis).
    const channels = tf.split(padEdge(tf, x, r, r), c, 3).map((p) => {
      const shifts: tfjs.Tensor[] = [];
      for (let dy = 0; dy < 2 * r + 1; dy++)
        for (let dx = 0; dx < 2 * r + 1; dx++) shifts.push(tf.slice(p, [0, dy, dx, 0], [n, h, w, 1]));
      const { values } = tf.topk(tf.concat(shifts, 3), (k + 1) / 2);
      return tf.slice(values, [0, 0, 0, (k - 1) / 2], [n, h, w, 1]);
    });
    return (c === 1 ? channels[0]! : tf.concat(channels, 3)) as Tensor4D;
  });
}

/** One Lucas-Kanade update of flow u at one level. */
function step(tf: TF, a: Tensor4D, b: Tensor4D, u: Tensor4D, window: number[], lambda: number): Tensor4D {
  return tf.tidy(() => {
    const warped = warp(tf, b, u);
    const [ax, ay] = gradients(tf, a);
    const [bx, by] = gradients(tf, warped);
    // The mean of both images' gradients (the symmetric form converges in fewer rounds than either alone).
    const ix = tf.mul(tf.add(ax, bx), 0.5);
    const iy = tf.mul(tf.add(ay, by), 0.5);
    const it = tf.sub(warped, a);
    // Window sums of the five products, as one filtered stack.
    const sums = separable(
      tf,
      tf.concat([tf.mul(ix, ix), tf.mul(ix, iy), tf.mul(iy, iy), tf.mul(ix, it), tf.mul(iy, it)], 3) as Tensor4D,
      window,
    );
    const [sxx, sxy, syy, sxt, syt] = tf.split(sums, 5, 3);
    const axx = tf.add(sxx!, lambda);
    const ayy = tf.add(syy!, lambda);
    const det = tf.sub(tf.mul(axx, ayy), tf.mul(sxy!, sxy!));
    // [axx sxy; sxy ayy] d = -[sxt; syt]
    const dx = tf.div(tf.sub(tf.mul(sxy!, syt!), tf.mul(ayy, sxt!)), det);
    const dy = tf.div(tf.sub(tf.mul(sxy!, sxt!), tf.mul(axx, syt!)), det);
    return tf.add(u, tf.concat([dx, dy], 3)) as Tensor4D;
  });
}

export interface ConsistencyOptions {
  /** Ruder et al.'s forward-backward test: |w~ + w^|^2 > k (|w~|^2 + |w^|^2) + c. */
  relative?: number;
  constant?: number;
  /** Motion boundaries: |grad u^|^2 + |grad v^|^2 > k |w^|^2 + c. */
  boundaryRelative?: number;
  boundaryConstant?: number;
}

/**
 * The weights c [1, H, W, 1] of the warped previous frame (Ruder et al. 2016, section 3.2): 0 where `backward`
 * (current -> previous) and `forward` (previous -> current) disagree (occlusions and disocclusions), at motion
 * boundaries, and where the warp reads from outside the previous frame; 1 elsewhere.
 */
export function consistency(tf: TF, backward: Tensor4D, forward: Tensor4D, options: ConsistencyOptions = {}): Tensor4D {
  const k = options.relative ?? 0.01;
  const c = options.constant ?? 0.5;
  const kb = options.boundaryRelative ?? 0.01;
  const cb = options.boundaryConstant ?? 0.002;
  return tf.tidy(() => {
    const square = (x: tfjs.Tensor) => tf.sum(tf.square(x), 3, true);
    // w~(x) = forward(x + backward(x)): where x came from, and where that point goes.
    const there = warp(tf, forward, backward);
    const roundTrip = square(tf.add(there, backward));
    const occluded = tf.greater(roundTrip, tf.add(tf.mul(tf.add(square(there), square(backward)), k), c));
    const [gx, gy] = gradients(tf, backward);
    const boundary = tf.greater(tf.add(square(gx), square(gy)), tf.add(tf.mul(square(backward), kb), cb));
    const ok = tf.logicalNot(tf.logicalOr(occluded, boundary));
    return tf.mul(tf.cast(ok, 'float32'), inside(tf, backward, 0.5)) as Tensor4D;
  });
}

/**
 * The previous styled frame carried onto the current one: the flows between the two content frames (both ways), the
 * previous output warped backward onto the current frame, and the mask of where that can be trusted. Frames and
 * output [1, H, W, C] of one size, in [0, 1].
 */
export function carryForward(
  tf: TF,
  previousFrame: Tensor4D,
  currentFrame: Tensor4D,
  previousOutput: Tensor4D,
  options: FlowOptions & ConsistencyOptions = {},
): { warped: Tensor4D; mask: Tensor4D } {
  return tf.tidy(() => {
    const backward = flow(tf, currentFrame, previousFrame, options);
    const forward = flow(tf, previousFrame, currentFrame, options);
    return { warped: warp(tf, previousOutput, backward), mask: consistency(tf, backward, forward, options) };
  });
}

/**
 * Flow-guided blending of a feed-forward graph's frames: out = (1 - k c) styled + k c warped, so the previous output
 * carried by the flow is kept (k of it) where the mask c trusts it, and the new frame alone stands elsewhere.
 */
export function flowBlend(tf: TF, styled: Tensor4D, warped: Tensor4D, mask: Tensor4D, k: number): Tensor4D {
  return tf.tidy(() => {
    const keep = tf.mul(mask, k);
    return tf.add(tf.mul(styled, tf.sub(1, keep)), tf.mul(warped, keep)) as Tensor4D;
  });
}

/**
 * Ruder et al.'s short-term temporal loss: (1 / D) sum c (x - w)^2 over the D = H W C values of the output x, the
 * warped previous output w and the weights c (broadcast over channels).
 */
export function temporalLoss(tf: TF, x: tfjs.Tensor, warped: tfjs.Tensor, mask: tfjs.Tensor): tfjs.Scalar {
  return tf.tidy(() => tf.mean(tf.mul(mask, tf.square(tf.sub(x, warped)))) as tfjs.Scalar);
}

/**
 * The warped flicker of two consecutive output frames: the mean absolute difference (RGB, 0-255) between the current
 * output and the previous output warped onto it by the flow of the content frames, over the pixels the mask trusts
 * (Ruder et al.'s temporal consistency error, in the units of `frameDifference`). Returns the sum and the count, so a
 * clip's mean is sum / count over its frames.
 */
export function warpedDifference(
  tf: TF,
  currentOutput: Tensor4D,
  warpedPrevious: Tensor4D,
  mask: Tensor4D,
): { sum: number; count: number } {
  const [sum, count] = tf.tidy(() => {
    const d = tf.mul(tf.abs(tf.sub(currentOutput, warpedPrevious)), tf.mul(mask, 255));
    return [tf.sum(d), tf.mul(tf.sum(mask), currentOutput.shape[3])];
  });
  const out = { sum: sum.dataSync()[0]!, count: count.dataSync()[0]! };
  sum.dispose();
  count.dispose();
  return out;
}

/** A picture's weights, one per pixel, in [0, 1]. */
export interface PixelMask {
  width: number;
  height: number;
  data: Float32Array;
}

interface Pixels {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** RGBA bytes -> [1, height, width, 3] in [0, 1], resized (bilinear) when the picture is another size. */
function rgbTensor(tf: TF, p: Pixels, height: number, width: number): Tensor4D {
  return tf.tidy(() => {
    const rgba = tf.tensor4d(Float32Array.from(p.data), [1, p.height, p.width, 4]);
    const rgb = tf.div(tf.slice(rgba, [0, 0, 0, 0], [1, p.height, p.width, 3]), 255) as Tensor4D;
    return p.height === height && p.width === width ? rgb : tf.image.resizeBilinear(rgb, [height, width], true);
  });
}

/**
 * The previous output carried onto the current frame, on pictures (what a video host holds): the flow is computed
 * between the two content frames at the output's size, the previous output warped by it, and the mask of the pixels
 * it can be trusted on. `warped` is RGBA bytes; `mask` is one weight per pixel.
 */
export async function carryPictures(
  tf: TF,
  previousFrame: Pixels,
  currentFrame: Pixels,
  previousOutput: Pixels,
  options: FlowOptions & ConsistencyOptions = {},
): Promise<{ warped: { width: number; height: number; data: Uint8ClampedArray<ArrayBuffer> }; mask: PixelMask }> {
  const { width, height } = previousOutput;
  const [warped, mask] = tf.tidy(() => {
    const r = carryForward(
      tf,
      rgbTensor(tf, previousFrame, height, width),
      rgbTensor(tf, currentFrame, height, width),
      rgbTensor(tf, previousOutput, height, width),
      options,
    );
    return [r.warped, r.mask];
  });
  const [rgb, weights] = await Promise.all([warped.data(), mask.data()]);
  warped.dispose();
  mask.dispose();
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = Math.round(rgb[i * 3]! * 255);
    data[i * 4 + 1] = Math.round(rgb[i * 3 + 1]! * 255);
    data[i * 4 + 2] = Math.round(rgb[i * 3 + 2]! * 255);
    data[i * 4 + 3] = 255;
  }
  return { warped: { width, height, data }, mask: { width, height, data: Float32Array.from(weights) } };
}

/**
 * Flow-guided blending on pictures: out = (1 - k c) styled + k c warped per byte (alpha from `styled`), with c the
 * mask of `carryPictures`. `styled` and `warped` are one size.
 */
export function blendPictures(
  styled: Pixels,
  warped: Pixels,
  mask: PixelMask,
  k: number,
): { width: number; height: number; data: Uint8ClampedArray<ArrayBuffer> } {
  if (styled.width !== warped.width || styled.height !== warped.height || mask.width !== styled.width)
    throw new Error(
      `cannot blend a ${styled.width}x${styled.height} frame with a ${warped.width}x${warped.height} one`,
    );
  const out = new Uint8ClampedArray(styled.data.length);
  for (let i = 0; i < styled.data.length; i++) {
    const keep = k * mask.data[i >> 2]!;
    out[i] = (i & 3) === 3 ? styled.data[i]! : (1 - keep) * styled.data[i]! + keep * warped.data[i]!;
  }
  return { width: styled.width, height: styled.height, data: out };
}
