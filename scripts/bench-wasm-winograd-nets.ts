/**
 * MicroAST and fast style frames on wasm with their 3x3 stride-1 convs on the Winograd kernel
 * (`winogradSettings.networks` 'on') against tfjs's convs ('off'), interleaved frame by frame in one process (so a
 * shared machine's load falls on both alike), medians over --reps frames after one warm-up each. Random weights (the
 * same shapes as the official ones: the time does not depend on the values); MicroAST's frame encodes the content
 * and the style (the painting), modulates and decodes; "reused" keeps the style side (the camera).
 *
 *   npx tsx scripts/bench-wasm-winograd-nets.ts [--sizes 256,512] [--threads 1,2] [--reps 7] [--nets microast,fast-style]
 */
import { loadavg } from 'node:os';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { adain } from '../src/models/adain';
import { fastStyle, randomFastStyle } from '../src/models/fast-style';
import {
  microDecodeHead,
  microEncode,
  modulate,
  modulatedResidual,
  randomMicroDecoder,
  randomMicroEncoder,
  randomModulator,
} from '../src/models/microast';
import { winogradSettings, type WinogradMode } from '../src/ops/winograd';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const sizes = opt('--sizes', '256,512').split(',').map(Number);
const threadCounts = opt('--threads', '1,2').split(',').map(Number);
const reps = Number(opt('--reps', '7'));
const nets = opt('--nets', 'microast,fast-style').split(',');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Frame = () => tf.Tensor;

function microastFrames(size: number): Record<string, Frame> {
  const content = randomMicroEncoder(tf, 1, 'content');
  const styleNet = randomMicroEncoder(tf, 2, 'style');
  const modulator = randomModulator(tf, 3);
  const decoder = randomMicroDecoder(tf, 4);
  const image = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const painting = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
  const decode = (s: { level1: tf.Tensor4D; level2: tf.Tensor4D }, m: ReturnType<typeof modulate>) => {
    const c = microEncode(tf, image, content);
    const x2 = modulatedResidual(tf, adain(tf, c.level2, s.level2), decoder.dec1, m.weight2, m.bias2);
    const x4 = modulatedResidual(tf, adain(tf, x2, s.level1), decoder.dec2, m.weight1, m.bias1);
    return microDecodeHead(tf, x4, decoder);
  };
  const kept = tf.tidy(() => {
    const s = microEncode(tf, painting, styleNet);
    return { s, m: modulate(tf, s.level1, s.level2, modulator) };
  });
  return {
    'MicroAST, painting encoded': () =>
      tf.tidy(() => {
        const s = microEncode(tf, painting, styleNet);
        return decode(s, modulate(tf, s.level1, s.level2, modulator));
      }),
    'MicroAST, style side reused': () => tf.tidy(() => decode(kept.s, kept.m)),
  };
}

function fastStyleFrames(size: number): Record<string, Frame> {
  const w = randomFastStyle(tf, 7);
  const image = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
  return { 'fast style': () => fastStyle(tf, image, w) };
}

console.log(
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${reps} frames each after one warm-up`,
);
console.log('| network | size | threads | tfjs convs ms | Winograd kernel ms | ratio |');
console.log('|---|---|---|---|---|---|');
for (const threads of threadCounts) {
  await startNodeBackend('wasm', { threads });
  for (const size of sizes) {
    const frames: Record<string, Frame> = {
      ...(nets.includes('microast') ? microastFrames(size) : {}),
      ...(nets.includes('fast-style') ? fastStyleFrames(size) : {}),
    };
    for (const [name, frame] of Object.entries(frames)) {
      const time = (mode: WinogradMode) => {
        winogradSettings.networks = mode;
        const t0 = performance.now();
        const y = frame();
        y.dataSync();
        const ms = performance.now() - t0;
        y.dispose();
        return ms;
      };
      time('off');
      time('on');
      const [off, on] = [[] as number[], [] as number[]];
      for (let i = 0; i < reps; i++) {
        off.push(time('off'));
        on.push(time('on'));
      }
      const [a, b] = [median(off), median(on)];
      console.log(`| ${name} | ${size} | ${threads} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(2)} |`);
    }
  }
}
winogradSettings.networks = 'on';
