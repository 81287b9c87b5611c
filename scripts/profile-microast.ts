/**
 * Where MicroAST's time goes on wasm: the forward pass of src/models/microast.ts (the official weights from
 * ../shared/fixtures/microast, chicago.jpg and udnie.jpg at the size given), timed stage by stage and kernel by kernel
 * (tf.profile), and against the whole frame through the executor (the CLI's path, as scripts/bench-microast.ts runs it).
 *
 *   npx tsx scripts/profile-microast.ts [--size 256] [--reps 7] [--threads 2]
 *
 * Medians over the repetitions after one warm-up. On a shared machine compare shares within one run only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeImage } from '../src/cli/node/node-images';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { imageToTensor } from '../src/ops/image';
import { adain } from '../src/models/adain';
import {
  microDecodeHead,
  microDecoderFromStateDict,
  microEncode,
  microEncoderFromStateDict,
  modulate,
  modulatedResidual,
  modulatorFromStateDict,
} from '../src/models/microast';
import { readCheckpoint } from '../src/models/weights/read';

const { values: v } = parseArgs({
  options: { size: { type: 'string' }, reps: { type: 'string' }, threads: { type: 'string' } },
});
const size = Number(v.size ?? 256);
const reps = Number(v.reps ?? 7);
const root = new URL('..', import.meta.url).pathname;
const shared = join(root, '..', 'shared', 'fixtures');
const weightsDir = join(shared, 'microast');
if (!existsSync(weightsDir)) throw new Error(`the official checkpoints are not in ${weightsDir}`);
const choice = await startNodeBackend('wasm', { threads: Number(v.threads ?? 2) });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const dict = (file: string) => {
  const p = join(weightsDir, `${file}_iter_160000.pth.tar`);
  return readCheckpoint(new Uint8Array(readFileSync(p)), p);
};
const content = microEncoderFromStateDict(tf, dict('content_encoder'), 'content');
const style = microEncoderFromStateDict(tf, dict('style_encoder'), 'style');
const modulator = modulatorFromStateDict(tf, dict('modulator'), 'modulator');
const decoder = microDecoderFromStateDict(tf, dict('decoder'), 'decoder');

/** A photo as the runs read it (src/ops/image.ts), the longest side at the size. */
const photo = (name: string) =>
  imageToTensor(tf, decodeImage(new Uint8Array(readFileSync(join(shared, 'photos', name))), name), size);
const c = photo('chicago.jpg');
const s = photo('udnie.jpg');

/** The stages of one frame, each returning what the next takes. */
function frame(times?: Map<string, number[]>) {
  const t = (name: string, f: () => tf.Tensor | Record<string, tf.Tensor>) => {
    const t0 = performance.now();
    const out = f();
    for (const x of out instanceof tf.Tensor ? [out] : Object.values(out)) x.dataSync();
    times?.set(name, [...(times.get(name) ?? []), performance.now() - t0]);
    return out;
  };
  return tf.tidy(() => {
    const sf = t('style encoder', () => microEncode(tf, s, style)) as ReturnType<typeof microEncode>;
    const m = t('modulator', () => modulate(tf, sf.level1, sf.level2, modulator)) as ReturnType<typeof modulate>;
    const cf = t('content encoder', () => microEncode(tf, c, content)) as ReturnType<typeof microEncode>;
    let x = t('adain (level 2)', () => adain(tf, cf.level2, sf.level2)) as tf.Tensor4D;
    x = t('dec1 (modulated residual)', () => modulatedResidual(tf, x, decoder.dec1, m.weight2, m.bias2)) as tf.Tensor4D;
    x = t('adain (level 1)', () => adain(tf, x, sf.level1)) as tf.Tensor4D;
    x = t('dec2 (modulated residual)', () => modulatedResidual(tf, x, decoder.dec2, m.weight1, m.bias1)) as tf.Tensor4D;
    return t('head (dec3)', () => microDecodeHead(tf, x, decoder)) as tf.Tensor4D;
  });
}

frame().dispose();
const stages = new Map<string, number[]>();
const whole: number[] = [];
for (let i = 0; i < reps; i++) {
  const t0 = performance.now();
  frame(stages).dispose();
  whole.push(performance.now() - t0);
}

// Kernels: tf.profile over one frame per repetition, summed by kernel name and input shape.
const kernels = new Map<string, number[]>();
for (let i = 0; i < reps; i++) {
  const per = new Map<string, number>();
  const info = await tf.profile(() => frame().dispose());
  for (const k of info.kernels.filter((k) => !k.name.endsWith('__op'))) {
    const key = `${k.name} ${k.inputShapes.map((sh) => `[${sh?.join(',')}]`).join(' ')}`;
    per.set(key, (per.get(key) ?? 0) + (k.kernelTimeMs as number));
  }
  for (const [key, ms] of per) kernels.set(key, [...(kernels.get(key) ?? []), ms]);
}
const byName = new Map<string, number>();
for (const [key, ms] of kernels) {
  const name = key.split(' ')[0]!;
  byName.set(name, (byName.get(name) ?? 0) + median(ms));
}
const total = median(whole);
console.log(
  `\nMicroAST at ${size} px (content ${c.shape.slice(1, 3).join('x')}, style ${s.shape.slice(1, 3).join('x')}), wasm ${choice.threads ?? 1} threads, ${reps} reps, load ${loadavg()[0]!.toFixed(1)}`,
);
console.log(`frame (model only, stages synced): ${total.toFixed(1)} ms`);
for (const [name, ms] of stages) console.log(`  ${name.padEnd(28)} ${median(ms).toFixed(1).padStart(7)} ms`);
const kernelSum = [...byName.values()].reduce((a, b) => a + b, 0);
console.log(`\nkernels by name (sum of medians ${kernelSum.toFixed(1)} ms):`);
for (const [name, ms] of [...byName].sort((a, b) => b[1] - a[1]))
  console.log(
    `  ${name.padEnd(28)} ${ms.toFixed(1).padStart(7)} ms ${((100 * ms) / kernelSum).toFixed(0).padStart(3)}%`,
  );
console.log('\nkernels by name and input shapes (top 60):');
for (const [key, ms] of [...kernels].sort((a, b) => median(b[1]) - median(a[1])).slice(0, 60))
  console.log(`  ${median(ms).toFixed(2).padStart(7)} ms  ${key}`);
