// @ts-check
/**
 * A StyleGraph node pack, written as a user would write one: a single ES module with no imports at run time
 * (the host passes TensorFlow.js in as `ctx.tf`), typed through the plugin API's declarations.
 *
 * - whiten-colour: the whitening and colouring transform of Li et al. 2017 ("Universal Style Transfer via
 *   Feature Transforms"): content features are whitened (their covariance becomes I) and coloured with the
 *   style features' covariance and mean, then blended with the content by alpha.
 * - histogram-loss: the histogram loss of Risser et al. 2017: each channel of the image's features is compared
 *   with the style features' values taken in the same rank order (per-channel histogram matching).
 *
 * @typedef {import('stylegraph/plugin').PackManifest} PackManifest
 * @typedef {import('stylegraph/plugin').NodeTypeDef} NodeTypeDef
 * @typedef {import('stylegraph/plugin').ComputeContext} ComputeContext
 * @typedef {import('stylegraph/plugin').TF} TF
 * @typedef {import('stylegraph/plugin').Tensor} Tensor
 * @typedef {import('stylegraph/plugin').ValueInfo} ValueInfo
 */

/**
 * A symmetric positive definite matrix's square root and inverse square root by the coupled Newton-Schulz
 * iteration (matrix products only, so it runs on every backend): with A scaled to unit Frobenius norm,
 * Y -> A^(1/2) and Z -> A^(-1/2).
 * @param {TF} tf
 * @param {Tensor} a a C x C SPD matrix
 * @param {number} iterations
 * @returns {{ sqrt: Tensor, invSqrt: Tensor }}
 */
export function sqrtAndInverse(tf, a, iterations) {
  const c = a.shape[0] ?? 0;
  const norm = tf.norm(a);
  const eye = tf.eye(c);
  let y = tf.div(a, norm);
  let z = eye;
  for (let i = 0; i < iterations; i++) {
    const t = tf.mul(tf.sub(tf.mul(eye, 3), tf.matMul(z, y)), 0.5);
    y = tf.matMul(y, t);
    z = tf.matMul(t, z);
  }
  const root = tf.sqrt(norm);
  return { sqrt: tf.mul(y, root), invSqrt: tf.div(z, root) };
}

/**
 * Features [1, H, W, C] as a C x N matrix, its per-channel mean (C x 1), and the covariance of the centred
 * features plus eps times the mean variance on the diagonal (so the inverse root exists).
 * @param {TF} tf
 * @param {Tensor} features
 * @param {number} eps
 */
function channelStatistics(tf, features, eps) {
  const c = features.shape[3] ?? 1;
  const m = tf.transpose(tf.reshape(features, [-1, c]));
  const n = m.shape[1] ?? 1;
  const mean = tf.mean(m, 1, true);
  const centred = tf.sub(m, mean);
  const cov = tf.div(tf.matMul(centred, centred, false, true), Math.max(1, n - 1));
  const meanVariance = tf.mean(tf.sum(tf.mul(cov, tf.eye(c)), 1));
  const jitter = tf.mul(tf.eye(c), tf.mul(meanVariance, eps));
  return { centred, mean, cov: tf.add(cov, jitter) };
}

/**
 * WCT: whiten the content features, colour them with the style's covariance, add the style mean.
 * @param {TF} tf
 * @param {Tensor} content [1, H, W, C]
 * @param {Tensor} style [1, H', W', C]
 * @param {{ alpha: number, eps: number, iterations: number }} o
 * @returns {Tensor} [1, H, W, C]
 */
export function wct(tf, content, style, o) {
  return tf.tidy(() => {
    const c = channelStatistics(tf, content, o.eps);
    const s = channelStatistics(tf, style, o.eps);
    const whitened = tf.matMul(sqrtAndInverse(tf, c.cov, o.iterations).invSqrt, c.centred);
    const coloured = tf.add(tf.matMul(sqrtAndInverse(tf, s.cov, o.iterations).sqrt, whitened), s.mean);
    const [, h, w, ch] = content.shape;
    const out = tf.reshape(tf.transpose(coloured), [1, h ?? 1, w ?? 1, ch ?? 1]);
    return tf.add(tf.mul(out, o.alpha), tf.mul(content, 1 - o.alpha));
  });
}

/**
 * Per-channel histogram loss: mean squared difference between each channel of x and the target's sorted values
 * placed in x's rank order. The matched values count as constants (a custom gradient: sorting has none).
 * @param {TF} tf
 * @param {Tensor} x [1, H, W, C]
 * @param {Tensor} sortedTarget C x M, each row sorted descending
 * @returns {Tensor} a scalar
 */
export function histogramLoss(tf, x, sortedTarget) {
  const c = x.shape[3] ?? 1;
  const m = sortedTarget.shape[1] ?? 1;
  const loss = tf.customGrad((...args) => {
    const input = /** @type {Tensor} */ (args[0]);
    const save = /** @type {(tensors: Tensor[]) => void} */ (args[1]);
    const xs = tf.transpose(tf.reshape(input, [-1, c]));
    const n = xs.shape[1] ?? 1;
    const order = tf.topk(xs, n).indices;
    const rank = tf.topk(tf.neg(tf.cast(order, 'float32')), n).indices;
    const at = tf.tensor1d(
      Array.from({ length: n }, (_, j) => Math.min(m - 1, Math.floor((j * m) / n))),
      'int32',
    );
    const matched = tf.gather(tf.gather(sortedTarget, at, 1), rank, 1, 1);
    const diff = tf.sub(xs, matched);
    save([diff]);
    return {
      value: tf.mean(tf.square(diff)),
      /** @param {Tensor} dy @param {Tensor[]} saved */
      gradFunc: (dy, saved) =>
        tf.reshape(tf.transpose(tf.mul(tf.mul(/** @type {Tensor} */ (saved[0]), 2 / (n * c)), dy)), x.shape),
    };
  });
  return /** @type {Tensor} */ (loss(x));
}

/** @param {ComputeContext} ctx @param {string} name */
const tensor = (ctx, name) => /** @type {Tensor} */ (ctx.inputs[name]);
/** @param {Record<string, ValueInfo | ValueInfo[]>} inputs @param {string} name */
const info = (inputs, name) => {
  const i = inputs[name];
  if (!i || Array.isArray(i)) throw new Error(`input "${name}" is not connected`);
  return i;
};

/** @type {NodeTypeDef} */
const whitenColour = {
  type: 'whiten-colour',
  title: 'WCT',
  category: 'Style statistics',
  description:
    "Whitening and colouring transform (Li et al. 2017): the content features take the style features' covariance and mean.",
  inputs: { content: { type: 'Features' }, style: { type: 'Features' } },
  outputs: { features: { type: 'Features' } },
  params: {
    alpha: {
      kind: 'number',
      default: 1,
      min: 0,
      max: 1,
      description: 'How much of the transformed features replace the content features.',
    },
    eps: {
      kind: 'number',
      default: 1e-5,
      min: 0,
      max: 1,
      log: true,
      description: 'Added to the covariance diagonal (relative to the mean variance) so it can be inverted.',
    },
    iterations: {
      kind: 'integer',
      default: 30,
      min: 5,
      max: 100,
      description: 'Newton-Schulz iterations for the matrix square roots.',
    },
  },
  infer: (ctx) => {
    const c = info(ctx.inputs, 'content');
    const s = info(ctx.inputs, 'style');
    if (c.shape[3] !== s.shape[3])
      throw new Error(`WCT: content has ${c.shape[3]} channels but style has ${s.shape[3]}; tap the same layer`);
    return { features: { shape: c.shape, ...(c.layer ? { layer: c.layer } : {}) } };
  },
  flops: (ctx) => {
    const c = info(ctx.inputs, 'content').shape[3] ?? 1;
    return 4 * Number(ctx.params.iterations) * 2 * c * c * c;
  },
  compute: (ctx) => ({
    features: wct(ctx.tf, tensor(ctx, 'content'), tensor(ctx, 'style'), {
      alpha: Number(ctx.params.alpha),
      eps: Number(ctx.params.eps),
      iterations: Number(ctx.params.iterations),
    }),
  }),
};

/** @type {NodeTypeDef} */
const histogram = {
  type: 'histogram-loss',
  title: 'Histogram loss',
  category: 'Losses',
  role: 'loss',
  description:
    "Per-channel histogram matching (Risser et al. 2017): keeps the style's activation distributions, which Gram matrices alone let drift.",
  inputs: {
    input: { type: 'Features', label: 'image features' },
    target: { type: 'Features', label: 'style features' },
    weight: { type: 'Scalar', optional: true },
  },
  outputs: { loss: { type: 'Scalar' } },
  params: {
    weight: { kind: 'number', default: 1, min: 0, log: true, label: 'weight', description: "The term's weight." },
  },
  prepare: {
    target: {
      socket: 'Stats',
      info: (f) => ({
        shape: [f.shape[3] ?? 1, (f.shape[1] ?? 1) * (f.shape[2] ?? 1)],
        ...(f.layer ? { layer: f.layer } : {}),
      }),
      run: (features, _params, tf) =>
        tf.tidy(() => {
          const c = features.shape[3] ?? 1;
          const rows = tf.transpose(tf.reshape(features, [-1, c]));
          return tf.topk(rows, rows.shape[1] ?? 1).values;
        }),
    },
  },
  infer: (ctx) => {
    const x = info(ctx.inputs, 'input');
    const t = info(ctx.inputs, 'target');
    if (x.shape[3] !== t.shape[3])
      throw new Error(`histogram loss: ${x.shape[3]} channels against ${t.shape[3]}; tap the same layer`);
    return { loss: { shape: [] } };
  },
  compute: (ctx) => {
    const { tf } = ctx;
    const w = ctx.inputs.weight;
    return {
      loss: tf.tidy(() =>
        tf.mul(
          histogramLoss(tf, tensor(ctx, 'input'), tensor(ctx, 'target')),
          w ? /** @type {Tensor} */ (w) : Number(ctx.params.weight),
        ),
      ),
    };
  },
};

/** @type {PackManifest} */
export default {
  name: 'wct',
  version: '1.0.0',
  api: '^1.0.0',
  description: 'The whitening and colouring transform (WCT) and a per-channel histogram loss.',
  homepage: 'https://github.com/stylegraph/stylegraph/tree/main/examples/pack-wct',
  nodes: [whitenColour, histogram],
};
