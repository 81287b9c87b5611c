import type * as tfjs from '@tensorflow/tfjs';
import { randomConv, reflectConv, upsample2x } from './adain';
import { convFrom, type ConvWeights } from './checkpoints';
import { convValid } from './conv';
import { matMul } from '../ops/matmul';
import { mvn } from '../ops/moments';
import { describeDict, misfit, takeExpected, type StateDict } from './weights/state-dict';

type TF = typeof tfjs;
type Tensor4D = tfjs.Tensor4D;

export interface SANetModule {
  f: ConvWeights;
  g: ConvWeights;
  h: ConvWeights;
  out: ConvWeights;
}

export interface SANetWeights {
  source: string;
  sanet4_1: SANetModule;
  sanet5_1: SANetModule;
  merge: ConvWeights;
  dispose(): void;
}

const conv1x1 = (tf: TF, x: Tensor4D, w: ConvWeights) => tf.add(convValid(tf, x, w.kernel), w.bias) as Tensor4D;

/**
 * One SANet: attention of every content position over all style positions,
 * S = softmax(f(norm Fc)^T g(norm Fs)), Fcs = h(Fs) S^T, then out_conv(Fcs) + Fc.
 * The attention is built `chunk` content positions at a time, so memory is chunk x HW_style, not HW_c x HW_s.
 */
export function sanetModule(tf: TF, content: Tensor4D, style: Tensor4D, w: SANetModule, chunk = 1024): Tensor4D {
  return tf.tidy(() => {
    const [b, h, wd, c] = content.shape;
    const hwc = h * wd;
    const hws = style.shape[1] * style.shape[2];
    const f = tf.reshape(conv1x1(tf, mvn(tf, content), w.f), [b, hwc, c]);
    const g = tf.reshape(conv1x1(tf, mvn(tf, style), w.g), [b, hws, c]);
    const hs = tf.reshape(conv1x1(tf, style, w.h), [b, hws, c]);
    const gt = tf.transpose(g, [0, 2, 1]);
    const parts: tfjs.Tensor3D[] = [];
    for (let start = 0; start < hwc; start += chunk) {
      const size = Math.min(chunk, hwc - start);
      parts.push(
        tf.tidy(() => {
          const s = tf.softmax(matMul(tf, tf.slice(f, [0, start, 0], [b, size, c]), gt));
          return matMul(tf, s, hs) as tfjs.Tensor3D;
        }),
      );
    }
    const o = tf.reshape(parts.length === 1 ? parts[0]! : tf.concat(parts, 1), [b, h, wd, c]) as Tensor4D;
    return tf.add(conv1x1(tf, o, w.out), content) as Tensor4D;
  });
}

/**
 * SANet's Transform: merge_conv(reflect pad(SANet4_1(c4, s4) + upsample(SANet5_1(c5, s5)))).
 * When the content size is not a multiple of 16, relu5_1 doubled is not relu4_1's size; the
 * upsampling then resizes straight to relu4_1's size (nearest), where the reference code crashes.
 */
export function sanetTransform(
  tf: TF,
  c4: Tensor4D,
  s4: Tensor4D,
  c5: Tensor4D,
  s5: Tensor4D,
  w: SANetWeights,
  chunk = 1024,
): Tensor4D {
  return tf.tidy(() => {
    const up = upsample2x(tf, sanetModule(tf, c5, s5, w.sanet5_1, chunk), [c4.shape[1], c4.shape[2]]);
    return reflectConv(tf, tf.add(sanetModule(tf, c4, s4, w.sanet4_1, chunk), up) as Tensor4D, w.merge);
  });
}

const PARTS = ['f', 'g', 'h', 'out_conv'] as const;

export function sanetFromStateDict(tf: TF, dict: StateDict, source: string): SANetWeights {
  const first = dict.get('sanet4_1.f.weight');
  if (!first)
    throw misfit(`SANet transformer from ${source}`, [
      `layer "sanet4_1.f.weight": expected [c, c, 1, 1] (c: 512 for VGG19), found no such tensor; the file holds ${describeDict(dict)}`,
    ]);
  const c = first.shape[0]!;
  const expected = new Map<string, number[]>();
  for (const m of ['sanet4_1', 'sanet5_1'])
    for (const p of PARTS) {
      expected.set(`${m}.${p}.weight`, [c, c, 1, 1]);
      expected.set(`${m}.${p}.bias`, [c]);
    }
  expected.set('merge_conv.weight', [c, c, 3, 3]);
  expected.set('merge_conv.bias', [c]);
  takeExpected(dict, expected, `SANet transformer from ${source}`);
  const module = (m: string): SANetModule => ({
    f: convFrom(tf, dict, `${m}.f`),
    g: convFrom(tf, dict, `${m}.g`),
    h: convFrom(tf, dict, `${m}.h`),
    out: convFrom(tf, dict, `${m}.out_conv`),
  });
  return withDispose(tf, {
    source,
    sanet4_1: module('sanet4_1'),
    sanet5_1: module('sanet5_1'),
    merge: convFrom(tf, dict, 'merge_conv'),
  });
}

export function randomSanet(tf: TF, c: number, seed: number): SANetWeights {
  const module = (m: string): SANetModule => ({
    f: randomConv(tf, 1, c, c, seed, `${m}.f`, 1),
    g: randomConv(tf, 1, c, c, seed, `${m}.g`, 1),
    h: randomConv(tf, 1, c, c, seed, `${m}.h`, 1),
    out: randomConv(tf, 1, c, c, seed, `${m}.out`, 0.1),
  });
  return withDispose(tf, {
    source: `random (seed ${seed})`,
    sanet4_1: module('sanet4_1'),
    sanet5_1: module('sanet5_1'),
    merge: randomConv(tf, 3, c, c, seed, 'merge', 1),
  });
}

function withDispose(tf: TF, w: Omit<SANetWeights, 'dispose'>): SANetWeights {
  const all = [w.sanet4_1, w.sanet5_1].flatMap((m) => Object.values(m)).concat(w.merge);
  return { ...w, dispose: () => all.forEach((c) => tf.dispose([c.kernel, c.bias])) };
}
