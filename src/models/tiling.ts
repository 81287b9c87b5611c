import type * as tfjs from '@tensorflow/tfjs';

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;
type Tensor4D = tfjs.Tensor4D;

/**
 * tf.grad called while tfjs is back-propagating another gradient (inside a custom gradient). tfjs keeps one active
 * tape in its engine state and clears it when a gradient computation ends, which would pull the outer tape away
 * mid-way; the outer tape is set aside for the inner computation and put back after it.
 */
function nestedGrad(tf: TF, f: (x: Tensor) => tfjs.Scalar, x: Tensor): Tensor {
  const state = tf.engine().state;
  const outer = state.activeTape;
  try {
    return tf.grad(f)(x);
  } finally {
    state.activeTape = outer;
  }
}

/** A conv net as a sequence of 3x3 convs (stride 1) and 2x2 pools (stride 2): enough to know its receptive field. */
export interface TiledNet {
  /** Layer kinds up to the deepest tap, in order. */
  kinds: readonly ('conv' | 'relu' | 'pool')[];
  /** Index in `kinds` of each tap. */
  tapIndex: (tap: string) => number;
  /** The forward pass of one image region: every tap, differentiable. */
  forward: (image: Tensor4D, taps: readonly string[]) => Record<string, Tensor>;
}

/** How far (in pixels) outside a feature's own position the input can reach it, and the feature stride, at layer i. */
export function reach(kinds: TiledNet['kinds'], upTo: number): { radius: number; stride: number } {
  let radius = 0;
  let stride = 1;
  for (const k of kinds.slice(0, upTo + 1)) {
    if (k === 'conv') radius += stride;
    else if (k === 'pool') {
      radius += stride;
      stride *= 2;
    }
  }
  return { radius, stride };
}

interface Box {
  y0: number; y1: number; x0: number; x1: number;
  /** The region actually computed: the box grown by the halo, clipped to the image. */
  py0: number; py1: number; px0: number; px1: number;
}

/** Tiles of `tile` px (a multiple of the deepest stride) covering H x W, each with its halo. */
function boxes(h: number, w: number, tile: number, halo: number): Box[][] {
  const rows: Box[][] = [];
  for (let y0 = 0; y0 < h; y0 += tile) {
    const row: Box[] = [];
    for (let x0 = 0; x0 < w; x0 += tile) {
      const y1 = Math.min(h, y0 + tile);
      const x1 = Math.min(w, x0 + tile);
      row.push({ y0, y1, x0, x1, py0: Math.max(0, y0 - halo), py1: Math.min(h, y1 + halo), px0: Math.max(0, x0 - halo), px1: Math.min(w, x1 + halo) });
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The net's taps for a large image computed tile by tile, so that only one tile's activations exist at a time.
 * Each tile is computed with a halo at least as wide as the deepest tap's receptive field, and only its interior
 * is kept, so the taps equal those of the whole image. As one custom-gradient op: the backward pass recomputes
 * each tile under its own tape and adds its input gradient over the tile's padded region (the overlaps of the
 * halos add up to the whole image's gradient). Memory: the full-size taps plus one tile's activations.
 */
export function tiledForward(tf: TF, net: TiledNet, image: Tensor4D, taps: readonly string[], tile: number): Record<string, Tensor> {
  const deepest = Math.max(...taps.map(net.tapIndex));
  const { radius, stride } = reach(net.kinds, deepest);
  const align = (n: number) => Math.ceil(n / stride) * stride;
  const size = align(Math.max(tile, stride));
  const halo = align(radius);
  const [, h, w] = image.shape;
  const grid = boxes(h, w, size, halo);
  const strides = taps.map((t) => reach(net.kinds, net.tapIndex(t)).stride);

  /** The part of a tile's tap that belongs to its interior, in feature coordinates. */
  const interior = (f: Tensor, b: Box, s: number) => {
    const [, fh, fw] = f.shape as [number, number, number, number];
    const top = (b.y0 - b.py0) / s;
    const left = (b.x0 - b.px0) / s;
    const bottom = b.y1 === h ? fh : (b.y1 - b.py0) / s;
    const right = b.x1 === w ? fw : (b.x1 - b.px0) / s;
    return tf.slice(f, [0, top, left, 0], [-1, bottom - top, right - left, -1]);
  };
  const region = (x: Tensor, b: Box) => tf.slice(x, [0, b.py0, b.px0, 0], [-1, b.py1 - b.py0, b.px1 - b.px0, -1]) as Tensor4D;

  const op = tf.customGrad((...args) => {
    const x = args[0] as Tensor4D;
    // Forward: one tile at a time; each tap is stitched from the tiles' interiors, row by row.
    const rows: Tensor[][][] = grid.map((row) =>
      row.map((b) =>
        tf.tidy(() => {
          const out = net.forward(region(x, b), taps);
          return taps.map((t, i) => interior(out[t]!, b, strides[i]!));
        }),
      ),
    );
    // customGrad takes one tensor: the taps travel flattened end to end and are split again outside.
    const value = tf.tidy(() => {
      const full = taps.map((_, i) => tf.concat(rows.map((row) => (row.length === 1 ? row[0]![i]! : tf.concat(row.map((cell) => cell[i]!), 2))), 1));
      shapes.push(...full.map((f) => f.shape));
      return tf.concat(full.map((f) => tf.reshape(f, [-1])));
    });
    tf.dispose(rows.flat(2));
    return {
      value,
      gradFunc: (dy: Tensor) => {
        const dys = tf.tidy(() => tf.split(dy, shapes.map((sh) => sh.reduce((a, b) => a * b, 1))).map((d, i) => tf.reshape(d, shapes[i]!)));
        let dx: Tensor = tf.zerosLike(x);
        // Where each tile's interior starts in the stitched taps, per tap.
        grid.forEach((row) =>
          row.forEach((b) => {
            const part = tf.tidy(() => {
              const offsets = strides.map((s, i) => {
                const [, fh, fw] = dys[i]!.shape as [number, number, number, number];
                const top = b.y0 / s;
                const left = b.x0 / s;
                const bottom = b.y1 === h ? fh : b.y1 / s;
                const right = b.x1 === w ? fw : b.x1 / s;
                return tf.slice(dys[i]!, [0, top, left, 0], [-1, bottom - top, right - left, -1]);
              });
              const g = nestedGrad(tf, (xt: Tensor) => {
                const out = net.forward(xt as Tensor4D, taps);
                return tf.addN(taps.map((t, i) => tf.sum(tf.mul(interior(out[t]!, b, strides[i]!), offsets[i]!)))) as tfjs.Scalar;
              }, region(x, b));
              return tf.pad(g, [[0, 0], [b.py0, h - b.py1], [b.px0, w - b.px1], [0, 0]]);
            });
            const next = tf.add(dx, part);
            tf.dispose([dx, part]);
            dx = next;
          }),
        );
        tf.dispose(dys);
        return dx;
      },
    };
  });
  const shapes: number[][] = [];
  return tf.tidy(() => {
    const flat = op(image);
    const parts = tf.split(flat, shapes.map((sh) => sh.reduce((a, b) => a * b, 1)));
    return Object.fromEntries(taps.map((t, i) => [t, tf.reshape(parts[i]!, shapes[i]!)]));
  }) as Record<string, Tensor>;
}
