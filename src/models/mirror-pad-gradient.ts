import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;

let registered = false;

/**
 * tfjs's gradient of MirrorPad only slices the centre out of dy: what flowed into the reflected borders is dropped,
 * so a network with reflection padding (the AdaIN and SANet decoders, MicroAST) trains on a gradient that is wrong
 * near every edge. This registers the full one (as PyTorch's ReflectionPad2d backward): each axis's border gradients,
 * reversed, are added back onto the values they copied (reflect: indices 1..p, no edge; symmetric: 0..p-1).
 * Registered once, for every backend, when a trainable network is built.
 */
export function registerMirrorPadGradient(tf: TF): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'MirrorPad',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = (saved as tfjs.Tensor[])[0]!;
      const { paddings, mode } = attrs as unknown as { paddings: [number, number][]; mode: 'reflect' | 'symmetric' };
      const edge = mode === 'reflect' ? 1 : 0;
      return {
        x: () =>
          tf.tidy(() => {
            let g = dy as tfjs.Tensor;
            paddings.forEach(([before, after], axis) => {
              if (!before && !after) return;
              const n = x.shape[axis]!;
              const part = (start: number, size: number) => {
                const begin = g.shape.map((_, i) => (i === axis ? start : 0));
                const sizes = g.shape.map((s, i) => (i === axis ? size : s));
                return tf.slice(g, begin, sizes);
              };
              const around = (t: tfjs.Tensor, lead: number, trail: number) =>
                tf.pad(
                  t,
                  g.shape.map((_, i): [number, number] => (i === axis ? [lead, trail] : [0, 0])),
                );
              let sum = part(before, n);
              // Padded index before - 1 - i copies x[edge + i]: reversed, the border lines up with x from index edge.
              if (before) sum = tf.add(sum, around(tf.reverse(part(0, before), axis), edge, n - edge - before));
              // Padded index before + n + i copies x[n - 1 - edge - i].
              if (after) sum = tf.add(sum, around(tf.reverse(part(before + n, after), axis), n - edge - after, edge));
              g = sum;
            });
            return g;
          }),
      };
    },
  });
}
