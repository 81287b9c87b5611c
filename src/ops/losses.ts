import type * as tfjs from '@tensorflow/tfjs';
import { mvn } from './moments';
import { fromRows, remapRows, sortedChannels } from './sort-match';

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;

/**
 * A loss that can be evaluated tile by tile (a node type's `tiled` form): it depends on its features only through
 * sums over positions (a Gram matrix, a sum of squared differences, channel sums), so per-tile statistics add up
 * to the whole image's, and the gradient of one tile is that of <dL/dS, stats(tile)>.
 */
export interface TiledLoss {
  /** local: the target is compared position by position (each tile gets its region); global: the whole target. */
  target: 'local' | 'global';
  /**
   * Statistics of one tile's features, summed over tiles. `mask`: the loss's mask (roles.loss.mask) when one is
   * wired, resized to the whole tap and cut to the tile as the features are ([1, h, w, 1]).
   */
  stats(features: Tensor, target: Tensor, tf: TF, mask?: Tensor): Tensor[];
  /** The loss from the summed statistics; `full` describes the whole feature map. Differentiable in `stats`. */
  finish(
    stats: Tensor[],
    target: Tensor,
    full: { shape: readonly number[]; layer?: string },
    weight: Tensor | number,
    tf: TF,
  ): Tensor;
}

/** How a style loss scales Gram matrices and their difference (ALGORITHMS.md, section 2). */
export const STYLE_NORMALISATIONS = ['gatys', 'johnson', 'raw-mse'] as const;
export type StyleNormalisation = (typeof STYLE_NORMALISATIONS)[number];
export const CONTENT_NORMALISATIONS = ['gatys', 'mse', 'mvn-mse'] as const;
export type ContentNormalisation = (typeof CONTENT_NORMALISATIONS)[number];

/** Channels and positions of a feature map [1, H, W, C] (or any [..., C]). */
function dims(features: { shape: readonly number[] }): { n: number; m: number } {
  const n = features.shape[features.shape.length - 1]!;
  return { n, m: features.shape.reduce((a, b) => a * b, 1) / n };
}

/**
 * G_ij = sum_k F_ik F_jk over positions k: [C, C], unnormalised, as in Gatys et al. Computed as plain products of
 * F^T copied `chunk` positions at a time (tfjs-wasm's product is slow with a transpose flag, and a whole copy of a
 * large map would double its memory); the gradient is dF = F (dG + dG^T), one product with no transpose of F.
 */
export function gramMatrix(tf: TF, features: Tensor, chunk = 65536): Tensor {
  const { n, m } = dims(features);
  const gram = tf.customGrad((...args) => {
    const [x, save] = args as [Tensor, tfjs.GradSaveFunc];
    const f = tf.reshape(x, [m, n]) as tfjs.Tensor2D;
    save([f]);
    let g: Tensor | null = null;
    for (let at = 0; at < m; at += chunk) {
      const part = tf.tidy(() => {
        const rows = m <= chunk ? f : tf.slice(f, [at, 0], [Math.min(chunk, m - at), n]);
        return tf.matMul(tf.transpose(rows), rows);
      });
      const sum: Tensor = g ? tf.add(g, part) : part;
      if (g) tf.dispose([g, part]);
      g = sum;
    }
    return {
      value: g!,
      gradFunc: (dy, [fs]) =>
        tf.reshape(tf.matMul(fs as tfjs.Tensor2D, tf.add(dy, tf.transpose(dy)) as tfjs.Tensor2D), x.shape),
    };
  });
  return gram(features);
}

/** The Gram matrix a style loss compares: raw for `gatys` and `raw-mse`, divided by C*H*W for `johnson`. */
export function styleGram(tf: TF, features: Tensor, normalisation: StyleNormalisation): Tensor {
  if (normalisation !== 'johnson') return gramMatrix(tf, features);
  return tf.tidy(() => {
    const { n, m } = dims(features);
    return tf.div(gramMatrix(tf, features), n * m);
  });
}

/**
 * A mask [1, h, w, c] (any size and channels; their mean is taken) resized bilinearly to features [.., H, W, C] with
 * aligned corners, as the AdaIN node resizes its mask: [1, H, W, 1].
 */
export function maskFor(tf: TF, mask: Tensor, features: { shape: readonly number[] }): Tensor {
  const [h, w] = features.shape.slice(-3, -1) as [number, number];
  return tf.tidy(() => {
    const grey = tf.mean(mask, -1, true) as tfjs.Tensor4D;
    return grey.shape[1] === h && grey.shape[2] === w ? grey : tf.image.resizeBilinear(grey, [h, w], true);
  });
}

/**
 * The guided Gram (Gatys et al. 2017, spatial control) of features [1, H, W, C] under a mask T (resized to H x W):
 * G_T = M / sum_k T_k^2 * sum_k (T_k F_k)(T_k F_k)^T, with M = H*W positions. The features are weighted by the
 * mask before the Gram; dividing by the mask's squared sum instead of M makes a region's Gram the mean outer product
 * over the region (weights T^2) times M, comparable to a whole image's; an all-white (or uniformly grey) mask gives
 * the plain Gram exactly. An all-black mask gives zeros. Differentiable in the features (the mask is a constant).
 */
export function guidedGram(tf: TF, features: Tensor, mask: Tensor): Tensor {
  return tf.tidy(() => {
    const { m } = dims(features);
    const t = maskFor(tf, mask, features);
    // sum T^2 over every position of every image of a batch (t is one image's, broadcast; m counts the batch).
    // (No read back: this runs inside the optimisation loop. An all-black mask: 0 * M / 1e-12 = 0.)
    const scale = tf.div(m, tf.maximum(tf.mul(tf.sum(tf.square(t)), m / t.size), 1e-12));
    return tf.mul(gramMatrix(tf, tf.mul(features, t)), scale);
  });
}

/** styleGram under an optional mask (the style mask of a style loss's target): guidedGram, normalised the same way. */
export function maskedStyleGram(tf: TF, features: Tensor, normalisation: StyleNormalisation, mask?: Tensor): Tensor {
  if (!mask) return styleGram(tf, features, normalisation);
  return tf.tidy(() => {
    const g = guidedGram(tf, features, mask);
    if (normalisation !== 'johnson') return g;
    const { n, m } = dims(features);
    return tf.div(g, n * m);
  });
}

/**
 * E_l for one layer. `target` is the style image's Gram from `styleGram` with the same normalisation.
 * gatys: sum (G - A)^2 / (4 N^2 M^2); johnson: mean over the C^2 entries of (G/(NM) - A)^2;
 * raw-mse: mean over the C^2 entries of (G - A)^2.
 */
export function styleLoss(
  tf: TF,
  features: Tensor,
  target: Tensor,
  normalisation: StyleNormalisation,
  mask?: Tensor,
): Tensor {
  // A batch (training a feed-forward network): each image's Gram against the target, the mean of the losses.
  const b = features.shape.length === 4 ? features.shape[0]! : 1;
  // (Added one at a time: addN of 8 or more tensors is an invalid WebGPU pipeline.)
  if (b > 1)
    return tf.tidy(() =>
      tf.div(
        tf
          .split(features, b, 0)
          .map((f) => styleLoss(tf, f, target, normalisation, mask))
          .reduce((a, l) => tf.add(a, l)),
        b,
      ),
    );
  return tf.tidy(() => {
    const { n, m } = dims(features);
    const gram = mask ? guidedGram(tf, features, mask) : gramMatrix(tf, features);
    return styleLossOfGram(tf, gram, target, n, m, normalisation);
  });
}

/** The style loss from the raw Gram of features with `n` channels at `m` positions. */
function styleLossOfGram(
  tf: TF,
  gram: Tensor,
  target: Tensor,
  n: number,
  m: number,
  normalisation: StyleNormalisation,
): Tensor {
  return tf.tidy(() => {
    const g = normalisation === 'johnson' ? tf.div(gram, n * m) : gram;
    const sq = tf.sum(tf.squaredDifference(g, target));
    return tf.div(sq, normalisation === 'gatys' ? 4 * n * n * m * m : n * n);
  });
}

/**
 * The style loss tile by tile: a Gram matrix is a sum over positions, so tiles' Grams add up. With a mask, so do
 * the tiles' guided Grams (before scaling) and the mask's squared sums: G_T = M / sum T^2 * sum (T F)(T F)^T.
 */
export function tiledStyleLoss(normalisation: StyleNormalisation): TiledLoss {
  return {
    target: 'global',
    stats: (features, _target, tf, mask) =>
      mask ? [gramMatrix(tf, tf.mul(features, mask)), tf.sum(tf.square(mask))] : [gramMatrix(tf, features)],
    finish: ([gram, maskSq], target, full, weight, tf) =>
      tf.tidy(() => {
        const { n, m } = dims(full);
        const g = maskSq ? tf.mul(gram!, tf.div(m, tf.maximum(maskSq, 1e-12))) : gram!;
        return tf.mul(styleLossOfGram(tf, g, target, n, m, normalisation), weight);
      }),
  };
}

/** The content loss tile by tile (not `mvn-mse`, whose channel statistics span the whole map). */
export function tiledContentLoss(normalisation: ContentNormalisation): TiledLoss | undefined {
  if (normalisation === 'mvn-mse') return undefined;
  return {
    target: 'local',
    // With a mask: the T^2-weighted squared differences and T^2's sum (maskedContentLoss's two sums).
    stats: (features, target, tf, mask) => {
      if (!mask) return [tf.sum(tf.squaredDifference(features, target))];
      const w = tf.square(mask);
      return [tf.sum(tf.mul(tf.squaredDifference(features, target), w)), tf.sum(w)];
    },
    finish: ([sum, maskSq], _target, full, weight, tf) =>
      tf.tidy(() => {
        const { m } = dims(full);
        const sq = maskSq ? tf.mul(sum!, tf.div(m, tf.maximum(maskSq, 1e-12))) : sum!;
        return tf.mul(
          normalisation === 'gatys'
            ? tf.mul(sq, 0.5)
            : tf.div(
                sq,
                full.shape.reduce((a, b) => a * b, 1),
              ),
          weight,
        );
      }),
  };
}

/**
 * gatys: 1/2 sum (F - P)^2; mse: mean (F - P)^2 (neural-style, AdaIN training);
 * mvn-mse: the mean after mean-variance normalising both per channel (SANet's content loss).
 */
export function contentLoss(
  tf: TF,
  features: Tensor,
  target: Tensor,
  normalisation: ContentNormalisation,
  mask?: Tensor,
): Tensor {
  if (mask) return maskedContentLoss(tf, features, target, normalisation, mask);
  return tf.tidy(() => {
    if (normalisation === 'mvn-mse')
      return tf.mean(tf.squaredDifference(mvn(tf, features as tfjs.Tensor4D), mvn(tf, target as tfjs.Tensor4D)));
    const sq = tf.sum(tf.squaredDifference(features, target));
    return normalisation === 'gatys' ? tf.mul(sq, 0.5) : tf.div(sq, features.size);
  });
}

/**
 * The content loss under a mask T (resized to the features' H x W), weighted as the guided Gram weights features:
 * S_T = M / sum_k T_k^2 * sum_k T_k^2 |F_k - P_k|^2 (M positions) replaces the sum of squared differences, so a
 * region's loss is its mean per position times M and an all-white (or uniformly grey) mask gives the unmasked loss.
 * gatys: S_T / 2; mse: S_T / (M C); mvn-mse: the same with both mean-variance normalised over the whole map first.
 */
function maskedContentLoss(
  tf: TF,
  features: Tensor,
  target: Tensor,
  normalisation: ContentNormalisation,
  mask: Tensor,
): Tensor {
  return tf.tidy(() => {
    const { m: positions } = dims(features);
    const w = tf.square(maskFor(tf, mask, features));
    // The weights' sum over every position of every image of a batch (w is one image's, broadcast).
    const sw = tf.mul(tf.sum(w), positions / w.size);
    const [f, p] =
      normalisation === 'mvn-mse'
        ? [mvn(tf, features as tfjs.Tensor4D), mvn(tf, target as tfjs.Tensor4D)]
        : [features, target];
    const sq = tf.sum(tf.mul(tf.squaredDifference(f, p), w));
    const scaled = tf.mul(sq, tf.div(positions, tf.maximum(sw, 1e-12)));
    return normalisation === 'gatys' ? tf.mul(scaled, 0.5) : tf.div(scaled, features.size);
  });
}

/**
 * Sum of squared differences between vertical and horizontal neighbours of an image [1, H, W, C]; of a batch
 * [B, H, W, C] (training a feed-forward network), the mean of its images' sums.
 */
export function totalVariation(tf: TF, image: Tensor): Tensor {
  return tf.tidy(() => {
    const [b, h, w, c] = image.shape as [number, number, number, number];
    const x = image as tfjs.Tensor4D;
    const dy = tf.sub(tf.slice(x, [0, 1, 0, 0], [b, h - 1, w, c]), tf.slice(x, [0, 0, 0, 0], [b, h - 1, w, c]));
    const dx = tf.sub(tf.slice(x, [0, 0, 1, 0], [b, h, w - 1, c]), tf.slice(x, [0, 0, 0, 0], [b, h, w - 1, c]));
    const sum = tf.add(tf.sum(tf.square(dy)), tf.sum(tf.square(dx)));
    return b > 1 ? tf.div(sum, b) : sum;
  });
}

/**
 * The histogram loss's target (Risser et al. 2017): the style features' values per channel, sorted (descending),
 * every position of every image pooled: [C, M].
 */
export function histogramTarget(tf: TF, styleFeatures: Tensor): Tensor {
  return sortedChannels(tf, styleFeatures);
}

/**
 * Risser et al. 2017's histogram loss: the mean over images, channels and positions of (F - R(F))^2, where R(F)
 * remaps each channel of F [B, H, W, C] to the target's sorted values at F's ranks (exact histogram matching;
 * interpolated ranks when the sizes differ). R(F) is a constant of the gradient, 2 (F - R(F)) / size, as in the
 * paper (a sort has no useful derivative). Not a sum over positions: it cannot be tiled.
 */
export function histogramLoss(tf: TF, features: Tensor, sortedTarget: Tensor): Tensor {
  const loss = tf.customGrad((...args) => {
    const [x, save] = args as [Tensor, tfjs.GradSaveFunc];
    const diff = tf.tidy(() => {
      const { rows, remapped } = remapRows(tf, x, sortedTarget);
      return tf.sub(rows, remapped);
    });
    save([diff]);
    return {
      value: tf.mean(tf.square(diff)),
      gradFunc: (dy, [d]) =>
        tf.tidy(() => {
          const [b, , , c] = x.shape as [number, number, number, number];
          const rows = tf.reshape(tf.mul(d!, tf.mul(dy, 2 / x.size)), [b, c, -1]);
          return fromRows(tf, rows, x.shape);
        }),
    };
  });
  return loss(features);
}
