import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;
type Tensor4D = tfjs.Tensor4D;

/**
 * Sort matching of feature distributions, per channel: EFDM (Zhang et al., CVPR 2022) and the histogram loss's
 * remapping (Risser et al. 2017). Every channel's values are ranked, and the value of rank k is replaced by the
 * reference's k-th sorted value; with N positions against the reference's M, rank k reads the reference's sorted
 * values linearly interpolated at k (M - 1) / (N - 1) (equal sizes: the exact k-th value).
 *
 * Features [B, H, W, C] are handled as rows [B * C, N], one per image and channel. Sorting is `topk` over the whole
 * row (descending), which every backend has; values go back to their positions with a scatter (a permutation).
 */

/** Features [B, H, W, C] as rows [B, C, H*W]. */
export function channelRows(tf: TF, f: Tensor): Tensor {
  const [b, h, w, c] = f.shape as [number, number, number, number];
  return tf.tidy(() => tf.transpose(tf.reshape(f, [b, h * w, c]), [0, 2, 1]));
}

/** Rows [B, C, N] back to features of `shape` [B, H, W, C]. */
export function fromRows(tf: TF, r: Tensor, shape: readonly number[]): Tensor4D {
  return tf.tidy(() => tf.reshape(tf.transpose(r, [0, 2, 1]), shape as [number, number, number, number]));
}

/** Where rank k of N reads a descending sorted row of M values: between lo[k] and hi[k], frac[k] of the way. */
export interface RankMap {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float32Array;
}

export function rankMap(n: number, m: number): RankMap {
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const frac = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const p = n === 1 ? (m - 1) / 2 : (k * (m - 1)) / (n - 1);
    const l = Math.min(m - 1, Math.floor(p));
    lo[k] = l;
    hi[k] = Math.min(m - 1, l + 1);
    frac[k] = p - l;
  }
  return { lo, hi, frac };
}

/** Sorted rows [..., M] read at N ranks: [..., N] (a gather when M = N and the map is the identity). */
export function readRanks(tf: TF, sorted: Tensor, map: RankMap): Tensor {
  return tf.tidy(() => {
    const m = sorted.shape[sorted.shape.length - 1]!;
    const axis = sorted.shape.length - 1;
    if (m === map.lo.length && map.frac.every((f) => f === 0) && map.lo.every((l, k) => l === k))
      return tf.clone(sorted);
    const low = tf.gather(sorted, tf.tensor1d(map.lo, 'int32'), axis);
    if (map.frac.every((f) => f === 0)) return low;
    const high = tf.gather(sorted, tf.tensor1d(map.hi, 'int32'), axis);
    return tf.add(low, tf.mul(tf.sub(high, low), tf.tensor1d(map.frac)));
  });
}

/**
 * Flat indices of `order` [R, N] (each row a permutation of 0..N-1) in a [R * width] vector: r * width + order[r, k].
 * int32 tensors: exact on every backend up to 2^24 entries (WebGL holds integers in float32).
 */
function flatIndices(tf: TF, order: Tensor, width: number): Tensor {
  return tf.tidy(() => {
    const rows = order.shape[0]!;
    const base = tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(width, 'int32'));
    return tf.reshape(tf.add(order, tf.reshape(base, [rows, 1])), [-1, 1]);
  });
}

/** out[r, order[r, k]] = values[r, k]: values in rank order put back at their positions; rows [R, N]. */
function placeAtRanks(tf: TF, values: Tensor, order: Tensor): Tensor {
  return tf.tidy(() => {
    const [r, n] = values.shape as [number, number];
    return tf.reshape(tf.scatterND(flatIndices(tf, order, n), tf.reshape(values, [-1]), [r * n]), [r, n]);
  });
}

/**
 * EFDM(content, style): each channel of the content takes the style's values in the content's rank order (the
 * style's sorted values interpolated when the sizes differ), so the output has the style's per-channel distribution
 * and the content's ranks. The style's batch is the content's or 1 (one style for every image).
 * Gradient as the paper's code (content + (sorted style at content's ranks - content.detach())): the identity for
 * the content, and for the style each output's gradient goes back through the sort to the style position whose
 * value it took (shared between the two neighbours when interpolated).
 */
export function efdm(tf: TF, content: Tensor4D, style: Tensor4D): Tensor4D {
  const [b, , , c] = content.shape;
  const bs = style.shape[0];
  if (style.shape[3] !== c) throw new Error(`EFDM: content has ${c} channels but style has ${style.shape[3]}`);
  if (bs !== b && bs !== 1)
    throw new Error(`EFDM: a batch of ${b} content images needs 1 or ${b} style images, not ${bs}`);
  const n = content.shape[1] * content.shape[2];
  const m = style.shape[1] * style.shape[2];
  const map = rankMap(n, m);
  const f = tf.customGrad((...args) => {
    const [x, s, save] = args as [Tensor4D, Tensor4D, tfjs.GradSaveFunc];
    const [contentOrder, styleOrder, out] = tf.tidy(() => {
      const cr = tf.reshape(channelRows(tf, x), [b * c, n]);
      const sr = tf.reshape(channelRows(tf, bs === b ? s : tf.tile(s, [b, 1, 1, 1])), [b * c, m]);
      const co = tf.topk(cr, n).indices;
      const so = tf.topk(sr, m);
      const matched = placeAtRanks(tf, readRanks(tf, so.values, map), co);
      return [co, so.indices, fromRows(tf, tf.reshape(matched, [b, c, n]), x.shape)];
    });
    save([contentOrder, styleOrder]);
    return {
      value: out,
      gradFunc: (dy, saved) => {
        const [co, so] = saved as [Tensor, Tensor];
        return tf.tidy(() => {
          // The output's gradient in the content's rank order: g[r, k] = dy at the position of rank k.
          const g = tf.reshape(
            tf.gather(tf.reshape(channelRows(tf, dy), [-1]), tf.reshape(flatIndices(tf, co, n), [-1])),
            [b * c, n],
          );
          // Rank k read sorted positions lo[k] (1 - frac) and hi[k] (frac); sorted position j is style position so[r, j].
          const at = (idx: Int32Array) => tf.gather(so, tf.tensor1d(idx, 'int32'), 1);
          const indices = tf.concat([flatIndices(tf, at(map.lo), m), flatIndices(tf, at(map.hi), m)], 0);
          const frac = tf.tensor1d(map.frac);
          const updates = tf.concat(
            [tf.reshape(tf.mul(g, tf.sub(1, frac)), [-1]), tf.reshape(tf.mul(g, frac), [-1])],
            0,
          );
          const ds = tf.reshape(tf.scatterND(indices, updates, [b * c * m]), [b, c, m]);
          const styleShape = [b, s.shape[1], s.shape[2], c];
          let dStyle: Tensor = fromRows(tf, ds, styleShape);
          if (bs !== b) dStyle = tf.sum(dStyle, 0, true);
          return [tf.clone(dy), dStyle];
        });
      },
    };
  });
  return f(content, style) as Tensor4D;
}

/** The style's sorted values per channel, every image of its batch pooled: [C, M], each row descending. */
export function sortedChannels(tf: TF, features: Tensor): Tensor {
  return tf.tidy(() => {
    const c = features.shape[features.shape.length - 1]!;
    const r = tf.transpose(tf.reshape(features, [-1, c]));
    return tf.topk(r, r.shape[1]!).values;
  });
}

/**
 * R(x): each channel of x [B, H, W, C] remapped to the sorted reference [C, M] (from `sortedChannels`) at x's ranks;
 * rows [B * C, N]. No gradient (the histogram loss treats it as a constant).
 */
export function remapRows(tf: TF, x: Tensor, sortedReference: Tensor): { rows: Tensor; remapped: Tensor } {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const n = h * w;
    const rows = tf.reshape(channelRows(tf, x), [b * c, n]);
    const order = tf.topk(rows, n).indices;
    const target = readRanks(tf, sortedReference, rankMap(n, sortedReference.shape[1]!));
    const perImage = b === 1 ? target : tf.tile(target, [b, 1]);
    return { rows, remapped: placeAtRanks(tf, perImage, order) };
  });
}
