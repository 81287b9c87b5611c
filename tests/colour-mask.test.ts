import { beforeAll, describe, expect, it } from 'vitest';
import adainNode from '../nodes/adain';
import { adain } from '../src/models/adain';
import { meanStd } from '../src/ops/moments';
import { matchColour, symmetricEigen, symmetricPower, transferLuminance } from '../src/ops/colour';
import { expectClose, expected, input, type Expected } from './parity';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

describe('colour preservation', () => {
  it('CORAL matches pytorch-AdaIN coral(style, content) within 1e-4', async () => {
    const out = await matchColour(tf, input(expected.style) as tf.Tensor4D, input(expected.content) as tf.Tensor4D);
    await expectClose(out, expected.coral_style_to_content as Expected, 1e-4, 'CORAL colour preservation');
  });

  it('3x3 eigen-decomposition and matrix powers recompose', () => {
    const a = [
      [4, 1, 0.5],
      [1, 3, 0.2],
      [0.5, 0.2, 2],
    ];
    const { values, vectors } = symmetricEigen(a);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        const back = [0, 1, 2].reduce((s, k) => s + vectors[i]![k]! * values[k]! * vectors[j]![k]!, 0);
        expect(back).toBeCloseTo(a[i]![j]!, 10);
      }
    const r = symmetricPower(a, 0.5);
    const sq = r.map((row) => [0, 1, 2].map((j) => row.reduce((s, v, k) => s + v * r[k]![j]!, 0)));
    sq.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(a[i]![j]!, 10)));
  });

  it('luminance transfer keeps Y of the image and I, Q of the reference', async () => {
    const image = tf.tensor4d([0.2, 0.4, 0.6, 0.9, 0.1, 0.3], [1, 1, 2, 3]);
    const reference = tf.tensor4d([0.5, 0.5, 0.1, 0.1, 0.8, 0.4], [1, 1, 2, 3]);
    const out = await transferLuminance(tf, image, reference).data();
    const yiq = (r: number, g: number, b: number) => [
      0.299 * r + 0.587 * g + 0.114 * b,
      0.595716 * r - 0.274453 * g - 0.321263 * b,
      0.211456 * r - 0.522591 * g + 0.311135 * b,
    ];
    for (let p = 0; p < 2; p++) {
      const [y] = yiq(...([0, 1, 2].map((c) => image.dataSync()[3 * p + c]!) as [number, number, number]));
      const [, i, q] = yiq(...([0, 1, 2].map((c) => reference.dataSync()[3 * p + c]!) as [number, number, number]));
      const got = yiq(out[3 * p]!, out[3 * p + 1]!, out[3 * p + 2]!);
      expect(got[0]).toBeCloseTo(y!, 5);
      expect(got[1]).toBeCloseTo(i!, 5);
      expect(got[2]).toBeCloseTo(q!, 5);
    }
  });
});

describe('AdaIN with a spatial mask', () => {
  const services = {
    tf,
    size: 8,
    seed: 0,
    nodeId: 'a',
    outputInfo: {},
    step: 0,
    loadImage: async () => tf.zeros([1]),
    models: {
      get: () => {
        throw new Error('unused');
      },
      dispose() {},
    },
    checkpoints: { get: () => undefined },
  };
  const content = () => tf.randomNormal([1, 4, 4, 3], 2, 3, 'float32', 1) as tf.Tensor4D;
  const style = () => tf.randomNormal([1, 4, 4, 3], -1, 0.5, 'float32', 2) as tf.Tensor4D;

  it('an all-white mask is plain AdaIN', async () => {
    const out = adainNode.compute!({
      ...services,
      params: { alpha: 1 },
      inputs: { content: content(), style: style(), mask: tf.ones([1, 8, 8, 3]) },
    }) as { features: tf.Tensor };
    const plain = adain(tf, content(), style());
    expect(Array.from(await out.features.data())).toEqual(
      Array.from(await plain.data()).map((v) => expect.closeTo(v, 4)),
    );
  });

  it('a white mask with a style outside it is plain AdaIN (the empty outside adds no NaN)', async () => {
    const style2 = tf.randomNormal([1, 4, 4, 3], 5, 1, 'float32', 3) as tf.Tensor4D;
    for (const [mask, want] of [
      [tf.ones([1, 8, 8, 1]), adain(tf, content(), style())],
      [tf.zeros([1, 8, 8, 1]), adain(tf, content(), style2)],
    ] as const) {
      const out = adainNode.compute!({
        ...services,
        params: { alpha: 1 },
        inputs: { content: content(), style: style(), mask, style2 },
      }) as { features: tf.Tensor };
      expect(Array.from(await out.features.data())).toEqual(
        Array.from(await want.data()).map((v) => expect.closeTo(v, 4)),
      );
    }
  });

  it("a grey mask weights each side's statistics and blends the two sides by it (hand-computed, one channel)", async () => {
    // Content 1 x 1 x 4 x 1: [0, 2, 4, 6]; mask [1, 1, 0.5, 0]; style: mean 10, style2: mean -10, both std sqrt(2).
    const c = tf.tensor4d([0, 2, 4, 6], [1, 1, 4, 1]);
    const m = tf.tensor4d([1, 1, 0.5, 0], [1, 1, 4, 1]);
    const s1 = tf.tensor4d([9, 11], [1, 1, 2, 1]); // mean 10, unbiased std sqrt(2)
    const s2 = tf.tensor4d([-11, -9], [1, 1, 2, 1]);
    const out = adainNode.compute!({
      ...services,
      params: { alpha: 1 },
      inputs: { content: c, style: s1, mask: m, style2: s2 },
    }) as { features: tf.Tensor };
    // Inside weights [1, 1, .5, 0], n = 2.5: mean 4/2.5 = 1.6; sum w (x - 1.6)^2 = 2.56 + 0.16 + 2.88 = 5.6,
    // variance 5.6 / (2.5 - 1). Outside weights [0, 0, .5, 1], n = 1.5: mean 8/1.5; variance sum / max(0.5, 1).
    const eps = 1e-5;
    const inMean = 1.6;
    const inStd = Math.sqrt(5.6 / 1.5 + eps);
    const outMean = 8 / 1.5;
    const outStd = Math.sqrt((0.5 * (4 - outMean) ** 2 + (6 - outMean) ** 2) / 1 + eps);
    const sStd = Math.sqrt(2 + eps);
    const want = [0, 2, 4, 6].map((x, i) => {
      const w = [1, 1, 0.5, 0][i]!;
      const inside = (sStd * (x - inMean)) / inStd + 10;
      const outside = (sStd * (x - outMean)) / outStd - 10;
      return w * inside + (1 - w) * outside;
    });
    Array.from(await out.features.data()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
  });

  it('inside the mask the content takes the style statistics; outside it is unchanged', async () => {
    // Mask: left half white.
    const mask = tf.concat([tf.ones([1, 8, 4, 3]), tf.zeros([1, 8, 4, 3])], 2);
    const out = adainNode.compute!({
      ...services,
      params: { alpha: 1 },
      inputs: { content: content(), style: style(), mask },
    }) as { features: tf.Tensor4D };
    const left = tf.slice(out.features, [0, 0, 0, 0], [1, 4, 2, 3]) as tf.Tensor4D;
    const right = tf.slice(out.features, [0, 0, 2, 0], [1, 4, 2, 3]);
    const s = meanStd(tf, style());
    const l = meanStd(tf, left);
    Array.from(await l.mean.data()).forEach((v, i) => expect(v).toBeCloseTo(s.mean.dataSync()[i]!, 4));
    Array.from(await l.std.data()).forEach((v, i) => expect(v).toBeCloseTo(s.std.dataSync()[i]!, 3));
    expect(Array.from(await right.data())).toEqual(
      Array.from(await tf.slice(content(), [0, 0, 2, 0], [1, 4, 2, 3]).data()),
    );
  });
});
