import { afterAll, beforeAll, describe, it } from 'vitest';
import { adain, decode, decoderFromStateDict, type DecoderWeights } from '../src/models/adain';
import { vgg19FromStateDict } from '../src/models/checkpoints';
import { sanetFromStateDict, sanetTransform, type SANetWeights } from '../src/models/sanet';
import { vgg19Forward, type Vgg19Weights } from '../src/models/vgg19';
import { checkpoint, expectClose, expected, input, type Expected } from './parity';
import { tf, useWasm } from './helpers';

let encoder: Vgg19Weights;
let decoder: DecoderWeights;
let sanet: SANetWeights;
const exp = (k: string) => expected[k] as Expected;

beforeAll(async () => {
  await useWasm();
  encoder = vgg19FromStateDict(tf, checkpoint('vgg_normalised-tiny.pth'), 'normalised', 'vgg_normalised-tiny.pth');
  decoder = decoderFromStateDict(tf, checkpoint('decoder-tiny.pth'), 'decoder-tiny.pth');
  sanet = sanetFromStateDict(tf, checkpoint('sanet-transformer-tiny.pth'), 'sanet-transformer-tiny.pth');
});
afterAll(() => [encoder, decoder, sanet].forEach((w) => w.dispose()));

const encode = (image: Expected, taps = ['relu4_1']) =>
  vgg19Forward(tf, input(image) as tf.Tensor4D, taps, encoder, 'max');

describe('vgg_normalised against PyTorch (1x1 conv, reflection padding, ceil-mode pooling)', () => {
  it('relu4_1 and relu5_1 within 1e-4', async () => {
    const f = encode(expected.content, ['relu4_1', 'relu5_1']);
    await expectClose(f.relu4_1!, exp('normalised_relu4_1'), 1e-4, 'vgg_normalised relu4_1');
    await expectClose(f.relu5_1!, exp('normalised_relu5_1'), 1e-4, 'vgg_normalised relu5_1');
  });
});

describe('AdaIN against PyTorch', () => {
  it('the AdaIN operation (unbiased std, eps 1e-5) within 1e-4', async () => {
    await expectClose(
      adain(tf, encode(expected.content).relu4_1 as tf.Tensor4D, encode(expected.style).relu4_1 as tf.Tensor4D),
      exp('adain_t'),
      1e-4,
      'AdaIN(f(c), f(s))',
    );
  });

  it('decoder output at alpha 1 and 0.5 within 1e-4', async () => {
    const fc = encode(expected.content).relu4_1 as tf.Tensor4D;
    const t = adain(tf, fc, encode(expected.style).relu4_1 as tf.Tensor4D);
    await expectClose(decode(tf, t, decoder), exp('adain_out_alpha1'), 1e-4, 'AdaIN decoder output, alpha 1');
    const mixed = tf.add(tf.mul(t, 0.5), tf.mul(fc, 0.5)) as tf.Tensor4D;
    await expectClose(decode(tf, mixed, decoder), exp('adain_out_alpha05'), 1e-4, 'AdaIN decoder output, alpha 0.5');
  });

  it('style interpolation 0.25 / 0.75 within 1e-4', async () => {
    const fc = encode(expected.content).relu4_1 as tf.Tensor4D;
    const t1 = adain(tf, fc, encode(expected.style).relu4_1 as tf.Tensor4D);
    const t2 = adain(tf, fc, encode(expected.style2).relu4_1 as tf.Tensor4D);
    await expectClose(
      decode(tf, tf.add(tf.mul(t1, 0.25), tf.mul(t2, 0.75)) as tf.Tensor4D, decoder),
      exp('adain_interp_0.25_0.75'),
      1e-4,
      'AdaIN interpolation 0.25/0.75',
    );
  });
});

describe('SANet against PyTorch', () => {
  it.each([1024, 5])('Transform output within 1e-4 (attention in chunks of %i content positions)', async (chunk) => {
    const c = encode(expected.content, ['relu4_1', 'relu5_1']);
    const s = encode(expected.style, ['relu4_1', 'relu5_1']);
    const cs = sanetTransform(
      tf,
      c.relu4_1 as tf.Tensor4D,
      s.relu4_1 as tf.Tensor4D,
      c.relu5_1 as tf.Tensor4D,
      s.relu5_1 as tf.Tensor4D,
      sanet,
      chunk,
    );
    await expectClose(cs, exp('sanet_cs'), 1e-4, `SANet transform (chunk ${chunk})`);
    await expectClose(decode(tf, cs, decoder), exp('sanet_out'), 1e-4, `SANet output image (chunk ${chunk})`);
  });
});
