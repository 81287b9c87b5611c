import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;

/** A first-order update rule over one variable. State tensors are created once and reused. */
export interface GradientOptimiser {
  step(x: tfjs.Variable, grad: tfjs.Tensor): void;
  dispose(): void;
}

export interface FirstOrderOptions {
  learningRate: number;
  /** lr_t = lr / (1 + decay * t), as pytorch-AdaIN and SANet train (decay 5e-5). */
  decay?: number;
  clamp: boolean;
}

const rate = (o: FirstOrderOptions, t: number) => o.learningRate / (1 + (o.decay ?? 0) * t);

/** Adam (Kingma & Ba) with bias correction; beta1 0.9, beta2 0.999, eps 1e-8. */
export function adam(tf: TF, shape: number[], o: FirstOrderOptions): GradientOptimiser {
  // tf.variable shares the initial tensor's data without owning the tensor: free the zeros here.
  const [m, v] = tf.tidy(() => [tf.variable(tf.zeros(shape), false), tf.variable(tf.zeros(shape), false)]);
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  let t = 0;
  return {
    step(x, grad) {
      t++;
      tf.tidy(() => {
        m.assign(tf.add(tf.mul(m, b1), tf.mul(grad, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(grad), 1 - b2)));
        const mHat = tf.div(m, 1 - b1 ** t);
        const vHat = tf.div(v, 1 - b2 ** t);
        const next = tf.sub(x, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), eps)), rate(o, t - 1)));
        x.assign(o.clamp ? tf.clipByValue(next, 0, 1) : next);
      });
    },
    dispose: () => tf.dispose([m, v]),
  };
}

/** Plain gradient descent. */
export function sgd(tf: TF, o: FirstOrderOptions): GradientOptimiser {
  let t = 0;
  return {
    step(x, grad) {
      tf.tidy(() => {
        const next = tf.sub(x, tf.mul(grad, rate(o, t++)));
        x.assign(o.clamp ? tf.clipByValue(next, 0, 1) : next);
      });
    },
    dispose() {},
  };
}
