import { beforeAll, describe, expect, it } from 'vitest';
import { decode, randomDecoder } from '../src/models/adain';
import {
  microDecodeHead,
  microEncode,
  modulatedResidual,
  randomMicroDecoder,
  randomMicroEncoder,
} from '../src/models/microast';
import { randomVgg19Weights, vgg19Forward } from '../src/models/vgg19';
import { circularPad } from '../src/ops/pad';
import type { RGBAImage } from '../src/ops/image';
import { loadPreset, run, tf, useWasm, withParams } from './helpers';

beforeAll(useWasm);

/**
 * The picture tiled 2x2: the mean absolute difference between neighbouring pixels across the tiles' borders (the
 * last column of a tile against the first of the next, and the same for rows), and between all other neighbours.
 */
function seam(img: RGBAImage): { border: number; inside: number } {
  const { width: w, height: h, data } = img;
  const at = (x: number, y: number, c: number) => data[((y % h) * w + (x % w)) * 4 + c]!;
  const sums = { border: { total: 0, n: 0 }, inside: { total: 0, n: 0 } };
  const add = (onBorder: boolean, d: number) => {
    const s = onBorder ? sums.border : sums.inside;
    s.total += d;
    s.n += 1;
  };
  for (let y = 0; y < 2 * h; y++)
    for (let x = 0; x < 2 * w; x++)
      for (let c = 0; c < 3; c++) {
        if (x + 1 < 2 * w) add(x % w === w - 1, Math.abs(at(x + 1, y, c) - at(x, y, c)));
        if (y + 1 < 2 * h) add(y % h === h - 1, Math.abs(at(x, y + 1, c) - at(x, y, c)));
      }
  return { border: sums.border.total / sums.border.n, inside: sums.inside.total / sums.inside.n };
}

describe('circularPad', () => {
  it('wraps rows and columns around (hand-made 2x3)', async () => {
    // 1 2 3 / 4 5 6 padded by 1: the last row on top, the first below, then the same for columns.
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    expect(Array.from(await circularPad(tf, x, 1).data())).toEqual([
      6, 4, 5, 6, 4, 3, 1, 2, 3, 1, 6, 4, 5, 6, 4, 3, 1, 2, 3, 1,
    ]);
  });
  it('passes the gradient back to the pixel each padded one copies', async () => {
    // Each pixel of a 2x2 image is copied into 4 of the 16 positions padded by 1: its gradient of the sum is 4.
    const g = tf.grad((t: tf.Tensor) => tf.sum(circularPad(tf, t as tf.Tensor4D, 1)))(tf.zeros([1, 2, 2, 1]));
    expect(Array.from(await g.data())).toEqual([4, 4, 4, 4]);
  });
});

/** x [1, H, W, C] rolled by dy rows and dx columns (circularly). */
const roll = (x: tf.Tensor4D, dy: number, dx: number) => {
  const [, h, w] = x.shape;
  const r = tf.concat(
    [tf.slice(x, [0, h - dy, 0, 0], [-1, dy, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, h - dy, -1, -1])],
    1,
  );
  return tf.concat(
    [tf.slice(r, [0, 0, w - dx, 0], [-1, -1, dx, -1]), tf.slice(r, [0, 0, 0, 0], [-1, -1, w - dx, -1])],
    2,
  );
};
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;

describe('networks with circular padding see an image on a torus', () => {
  it('VGG19: rolling the image by 8 px rolls relu3_1 by 2 (stride 4); with zero padding it does not', () => {
    const image = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const w = randomVgg19Weights(tf, 'torchvision', 1);
    for (const [padding, equal] of [
      ['circular', true],
      ['zero', false],
    ] as const) {
      const a = vgg19Forward(tf, roll(image, 8, 8), ['relu3_1'], w, 'avg', padding).relu3_1 as tf.Tensor4D;
      const b = roll(vgg19Forward(tf, image, ['relu3_1'], w, 'avg', padding).relu3_1 as tf.Tensor4D, 2, 2);
      const scale = tf.max(tf.abs(b)).dataSync()[0]!;
      if (equal) expect(maxDiff(a, b)).toBeLessThan(1e-4 * scale);
      else expect(maxDiff(a, b)).toBeGreaterThan(1e-2 * scale);
    }
    w.dispose();
  });

  it('the AdaIN decoder: rolling the features by 1 rolls the picture by 8', () => {
    const f = tf.randomUniform([1, 4, 4, 64], 0, 1, 'float32', 4) as tf.Tensor4D;
    const w = randomDecoder(tf, 64, 2);
    const a = decode(tf, roll(f, 1, 1), w, 'circular');
    const b = roll(decode(tf, f, w, 'circular'), 8, 8);
    expect(maxDiff(a, b)).toBeLessThan(1e-4 * tf.max(tf.abs(b)).dataSync()[0]!);
    const r = decode(tf, roll(f, 1, 1), w);
    expect(maxDiff(r, roll(decode(tf, f, w), 8, 8))).toBeGreaterThan(1e-3 * tf.max(tf.abs(b)).dataSync()[0]!);
    w.dispose();
  });
});

describe('MicroAST with circular padding sees an image on a torus', () => {
  it('its content encoder, a modulated residual block and its decoder commute with a circular shift', () => {
    const close = (a: tf.Tensor, b: tf.Tensor) =>
      expect(maxDiff(a, b)).toBeLessThan(1e-4 * tf.max(tf.abs(b)).dataSync()[0]!);
    const image = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const enc = randomMicroEncoder(tf, 1, 'content-encoder');
    const dec = randomMicroDecoder(tf, 1);
    // The encoder halves the size twice: a shift of 8 px is a shift of 2 of its levels.
    const shifted = microEncode(tf, roll(image, 8, 8), enc, 'circular');
    const levels = microEncode(tf, image, enc, 'circular');
    close(shifted.level2, roll(levels.level2, 2, 2));
    const [w, b] = [
      tf.randomUniform([1, 1, 1, 64], 0.5, 1.5, 'float32', 6),
      tf.randomUniform([1, 1, 1, 64], 0, 0.5, 'float32', 7),
    ];
    const f = levels.level2;
    close(
      modulatedResidual(tf, roll(f, 1, 1), dec.dec1, w, b, 'circular'),
      roll(modulatedResidual(tf, f, dec.dec1, w, b, 'circular'), 1, 1),
    );
    // The decoder doubles the size twice (bilinear, wrapped): a shift of 1 is a shift of 4 px.
    close(microDecodeHead(tf, roll(f, 1, 1), dec, 'circular'), roll(microDecodeHead(tf, f, dec, 'circular'), 4, 4));
    const reflected = microDecodeHead(tf, roll(f, 1, 1), dec);
    expect(maxDiff(reflected, roll(microDecodeHead(tf, f, dec), 4, 4))).toBeGreaterThan(
      1e-3 * tf.max(tf.abs(reflected)).dataSync()[0]!,
    );
    enc.dispose();
    dec.dispose();
  });
});

describe('presets/texture.json', () => {
  // 64 px, a few L-BFGS steps on seeded random VGG19 weights: enough for the noise to become a texture (the mean
  // difference of neighbours of uniform noise is 85 of 255).
  const texture = async (padding: string, steps: number) => {
    const model = withParams(loadPreset('texture.json'), {
      'optim.steps': steps,
      'optim.previewEvery': 0,
      'enc_x.padding': padding,
    });
    const r = await run(model, 64);
    expect(r.status, r.error).toBe('done');
    expect(r.steps.at(-1)!.loss).toBeLessThan(r.steps[0]!.loss / 10);
    const out = Object.values(r.outputs)[0]!;
    expect([out.width, out.height]).toEqual([64, 64]);
    return seam(out);
  };

  it('has no content image, and its output tiles 2x2 without a seam (circular padding)', async () => {
    expect(
      loadPreset('texture.json')
        .nodes.filter((n) => n.type === 'image')
        .map((n) => n.params.slot),
    ).toEqual(['style']);
    const s = await texture('circular', 15);
    expect(s.inside).toBeLessThan(0.7 * 85);
    expect(s.border).toBeLessThanOrEqual(1.5 * s.inside);
  }, 300_000);

  it('with reflection padding instead, the same measure finds the seam', async () => {
    // Measured at 20 steps: circular 0.90, zero padding 1.50, reflection 2.40 (border / inside).
    const s = await texture('reflect', 10);
    expect(s.border).toBeGreaterThan(1.5 * s.inside);
  }, 300_000);
});
