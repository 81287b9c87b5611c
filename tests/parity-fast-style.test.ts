import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWeights, readDlFolder } from '../src/cli/node/node-weights';
import { registerNodeWebgpu } from '../src/cli/node/node-webgpu';
import {
  depthToSpace2,
  fastStyle,
  fastStyleFromStateDict,
  fastStyleMacs,
  phaseKernel,
  randomFastStyle,
  type FastStyleWeights,
} from '../src/models/fast-style';
import { blockKernel, blocksConvSame, spaceToDepth } from '../src/models/blocks';
import { fixture, type Expected } from './parity';
import { loadPreset, run, tf, useWasm, withParams } from './helpers';

/**
 * ml5's fast style networks (wave and udnie from ../shared/fixtures) against an independent PyTorch reference written
 * from ml5's forward pass (scripts/make-fast-style-fixtures.py: NCHW, its own 'same' and transposed-conv padding), on
 * a 64 x 43 photo (odd, so the stride-2 convs pad on both sides and the output rounds up to 64 x 44): within 2/255 on
 * wasm, and on tfjs's webgpu backend in Node (Dawn on SwiftShader's software Vulkan) where a Vulkan driver is found.
 */
const shared = new URL('../../shared/fixtures/', import.meta.url).pathname;
const missing = ['fast-style-wave', 'fast-style-udnie'].filter((d) => !existsSync(join(shared, d, 'manifest.json')));
if (missing.length)
  console.warn(
    `fast style parity skipped: ${missing.join(', ')} not found in ${shared} (the shared test fixtures sit beside the repository in CI)`,
  );

const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
const vulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(
  existsSync,
);
if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
if (!process.env.XDG_RUNTIME_DIR) {
  const xdg = join(mkdtempSync(join(tmpdir(), 'stylegraph-fast-style-')), 'xdg');
  mkdirSync(xdg, { mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = xdg;
}
const noGpu =
  !existsSync(icd) && !process.env.VK_ICD_FILENAMES
    ? "no Vulkan driver (SwiftShader comes with Debian's chromium)"
    : !vulkan
      ? 'no Vulkan loader (libvulkan1)'
      : null;
if (noGpu && process.env.CI && !missing.length) throw new Error(`${noGpu}: .ci/run installs it`);
if (noGpu) console.warn(`fast style parity on webgpu skipped: ${noGpu}`);

const want = JSON.parse(readFileSync(fixture('fast-style-parity.json'), 'utf8')) as {
  input: Expected;
  wave: Expected;
  udnie: Expected;
};
const networks: Partial<Record<'wave' | 'udnie', FastStyleWeights>> = {};

beforeAll(async () => {
  await useWasm();
  if (missing.length) return;
  for (const name of ['wave', 'udnie'] as const) {
    const path = join(shared, `fast-style-${name}`, 'manifest.json');
    networks[name] = fastStyleFromStateDict(tf, await readDlFolder(path, new Uint8Array(readFileSync(path))), path);
  }
}, 60_000);
afterAll(async () => {
  Object.values(networks).forEach((n) => n.dispose());
  await tf.setBackend('wasm');
});

/** The largest difference from the reference, in 1/255 steps, of the network's whole (uncropped) output. */
async function worst(name: 'wave' | 'udnie'): Promise<number> {
  // The photo's exact 0..255 pixels, as ml5 reads them, brought to [0, 1] as images are here.
  const image = tf.tidy(
    () =>
      tf.div(tf.tensor4d(want.input.data, want.input.shape as [number, number, number, number]), 255) as tf.Tensor4D,
  );
  const out = fastStyle(tf, image, networks[name]!, false);
  expect(out.shape).toEqual(want[name].shape);
  const got = await out.data();
  tf.dispose([image, out]);
  let w = 0;
  want[name].data.forEach((v, i) => (w = Math.max(w, Math.abs(got[i]! - v) * 255)));
  return w;
}

describe.skipIf(missing.length)("fast style networks against the PyTorch reference of ml5's forward pass", () => {
  it.each(['wave', 'udnie'] as const)(
    '%s on wasm, within 2/255',
    async (name) => {
      expect(tf.getBackend()).toBe('wasm');
      const w = await worst(name);
      console.log(`fast style ${name}, wasm: ${w.toFixed(3)}/255`);
      expect(w).toBeLessThanOrEqual(2);
      // The reference is a real picture, not a flat one: the test compares something.
      const d = want[name].data;
      const mean = d.reduce((a, b) => a + b, 0) / d.length;
      expect(Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length)).toBeGreaterThan(0.1);
    },
    60_000,
  );

  it.skipIf(noGpu).each(['wave', 'udnie'] as const)(
    '%s on webgpu (Dawn, SwiftShader), within 2/255',
    async (name) => {
      const gpu = await registerNodeWebgpu(true);
      if ('reason' in gpu) throw new Error(`webgpu: ${gpu.reason}`);
      expect(await tf.setBackend('webgpu')).toBe(true);
      try {
        // The weights were made on wasm: a fresh copy on this backend.
        const w = await worst(name);
        console.log(`fast style ${name}, webgpu (${gpu.adapter}): ${w.toFixed(3)}/255`);
        expect(w).toBeLessThanOrEqual(2);
      } finally {
        await tf.setBackend('wasm');
      }
    },
    300_000,
  );
});

describe.skipIf(missing.length)('the fast-style preset with real networks', () => {
  it('runs the picked network from its fast-style-NAME checkpoint, says so, and each painting gives its own picture', async () => {
    const ckpts = await Promise.all(
      ['wave', 'udnie'].map((n) =>
        loadWeights(tf, { name: `fast-style-${n}`, source: join(shared, `fast-style-${n}`) }, '/', {} as never),
      ),
    );
    const pictures: Uint8Array[] = [];
    for (const network of ['wave', 'udnie']) {
      const r = await run(
        withParams(loadPreset('fast-style.json'), { 'network.network': network }),
        48,
        {},
        undefined,
        ckpts,
      );
      expect(r.status, r.error).toBe('done');
      expect(r.weights).toEqual([
        {
          nodes: ['network'],
          weights: `Fast style network (${network}): fast-style-${network} from ${join(shared, `fast-style-${network}`)}`,
        },
      ]);
      const out = Object.values(r.outputs)[0]!;
      expect(out.width).toBe(48);
      pictures.push(Uint8Array.from(out.data));
    }
    let diff = 0;
    pictures[0]!.forEach((v, i) => (diff += Math.abs(v - pictures[1]![i]!)));
    expect(diff / pictures[0]!.length).toBeGreaterThan(10);
    // Not loaded: seeded random weights, named as such.
    const r = await run(
      withParams(loadPreset('fast-style.json'), { 'network.network': 'scream' }),
      32,
      {},
      undefined,
      ckpts,
    );
    expect(r.weights[0]!.weights).toBe(
      'Fast style network (scream): random (seed 0); no weights named "fast-style-scream" were loaded',
    );
  }, 120_000);
});

describe('fast style network pieces', () => {
  beforeAll(useWasm);

  it("the transposed conv as a phase conv and depth-to-space equals tf.conv2dTranspose (TensorFlow's 'same')", () => {
    const w = tf.randomNormal([3, 3, 5, 4], 0, 1, 'float32', 7) as tf.Tensor4D; // [kh, kw, out, in]
    for (const [h, wd] of [
      [3, 4],
      [5, 5],
      [1, 2],
    ] as const) {
      const x = tf.randomNormal([2, h, wd, 4], 0, 1, 'float32', h * 10 + wd) as tf.Tensor4D;
      const ref = tf.conv2dTranspose(x, w, [2, 2 * h, 2 * wd, 5], 2, 'same');
      const k = phaseKernel(tf, w);
      const phases = tf.conv2d(
        tf.pad(x, [
          [0, 0],
          [1, 0],
          [1, 0],
          [0, 0],
        ]),
        k,
        1,
        'valid',
      );
      const got = tf.depthToSpace(phases, 2);
      expect(got.shape).toEqual(ref.shape);
      expect(tf.max(tf.abs(tf.sub(got, ref))).dataSync()[0]).toBeLessThan(1e-4);
      // The reshape-and-transpose form the network uses moves every value as tf.depthToSpace does.
      const fast = depthToSpace2(tf, phases);
      expect(Array.from(fast.dataSync())).toEqual(Array.from(got.dataSync()));
      tf.dispose([x, ref, k, phases, got, fast]);
    }
    w.dispose();
  });

  it("random weights: the input's size back (cropped from the rounded-up output), in [0, 1], the same for a seed", () => {
    const a = randomFastStyle(tf, 3);
    const b = randomFastStyle(tf, 3);
    const c = randomFastStyle(tf, 4);
    const x = tf.randomUniform([1, 13, 18, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const [ya, yb, yc, full] = [
      fastStyle(tf, x, a),
      fastStyle(tf, x, b),
      fastStyle(tf, x, c),
      fastStyle(tf, x, a, false),
    ];
    expect(ya.shape).toEqual([1, 13, 18, 3]);
    expect(full.shape).toEqual([1, 16, 20, 3]);
    expect(Array.from(ya.dataSync())).toEqual(Array.from(yb.dataSync()));
    expect(tf.max(tf.abs(tf.sub(ya, yc))).dataSync()[0]).toBeGreaterThan(0.01);
    expect(tf.min(ya).dataSync()[0]).toBeGreaterThanOrEqual(0);
    expect(tf.max(ya).dataSync()[0]).toBeLessThanOrEqual(1);
    tf.dispose([x, ya, yb, yc, full]);
    [a, b, c].forEach((n) => n.dispose());
  });

  it('one image without a gradient (the inference forms) gives what a batch and a gradient pass (the plain ops) do', () => {
    const net = randomFastStyle(tf, 5);
    // Shifts and scales away from 0 and 1, so the instance norms' affine part counts.
    net.layers.forEach((l, i) => {
      const [shift, scale] = [l.shift, l.scale];
      l.shift = tf.keep(tf.randomNormal(shift.shape, 0, 0.5, 'float32', 2 * i)) as tf.Tensor1D;
      l.scale = tf.keep(tf.randomUniform(scale.shape, 0.3, 1.5, 'float32', 2 * i + 1)) as tf.Tensor1D;
      tf.dispose([shift, scale]);
    });
    const x = tf.randomUniform([2, 21, 30, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const batch = fastStyle(tf, x, net);
    for (const i of [0, 1]) {
      const one = tf.slice(x, [i, 0, 0, 0], [1, 21, 30, 3]);
      const fast = fastStyle(tf, one, net);
      // Under a gradient the plain ops run (tfjs-wasm has no gradient for the fused depthwise conv).
      const { value } = tf.valueAndGrad((y: tf.Tensor4D) => tf.sum(fastStyle(tf, y, net)))(one);
      const plain = tf.slice(batch, [i, 0, 0, 0], [1, 21, 30, 3]);
      expect(tf.max(tf.abs(tf.sub(fast, plain))).dataSync()[0]).toBeLessThan(1e-3);
      expect(Math.abs(value.dataSync()[0]! - tf.sum(fast).dataSync()[0]!)).toBeLessThan(0.05);
      expect(tf.moments(fast).variance.dataSync()[0]).toBeGreaterThan(1e-3);
      tf.dispose([one, fast, value, plain]);
    }
    tf.dispose([x, batch]);
    net.dispose();
  });

  it("a 'same' conv on blocks of pixels equals tf.conv2d, at sizes that are not whole blocks", () => {
    for (const [k, cin, cout, bs] of [
      [9, 5, 3, 2],
      [9, 2, 3, 4],
      [3, 4, 2, 3],
    ] as const) {
      const w = tf.randomNormal([k, k, cin, cout], 0, 1, 'float32', k + bs) as tf.Tensor4D;
      const b = blockKernel(w.dataSync() as Float32Array, k, cin, cout, bs);
      const kb = tf.tensor4d(b.data, b.shape);
      for (const [h, wd] of [
        [11, 14],
        [4, 5],
        [1, 3],
      ] as const) {
        const x = tf.randomNormal([1, h, wd, cin], 0, 1, 'float32', h * 7 + wd) as tf.Tensor4D;
        const [want, got] = [tf.conv2d(x, w, 1, 'same'), blocksConvSame(tf, x, kb, k, bs)];
        expect(got.shape).toEqual(want.shape);
        expect(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]).toBeLessThan(1e-4);
        tf.dispose([x, want, got]);
      }
      tf.dispose([w, kb]);
    }
    // Space-to-depth by hand at 2x2: block (m, n) holds rows 2m, 2m + 1 and columns 2n, 2n + 1, row by row.
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 4, 4, 1]);
    expect(Array.from(spaceToDepth(tf, x, 2).dataSync())).toEqual([
      1, 2, 5, 6, 3, 4, 7, 8, 9, 10, 13, 14, 11, 12, 15, 16,
    ]);
    x.dispose();
  });

  it('counts its multiply-adds layer by layer (hand-counted at 4 x 4)', () => {
    // 4x4: conv 9x9 3->32 at 16 px; 3x3 32->64 at 4; 3x3 64->128 at 1; ten 3x3 128->128 at 1; up 128->64 from 1; up 64->32 from 4; 9x9 32->3 at 16.
    const hand =
      16 * 81 * 3 * 32 +
      4 * 9 * 32 * 64 +
      9 * 64 * 128 +
      10 * 9 * 128 * 128 +
      9 * 128 * 64 +
      4 * 9 * 64 * 32 +
      16 * 81 * 32 * 3;
    expect(fastStyleMacs(4, 4)).toBe(hand);
  });
});
