import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli';

/**
 * WebGPU from the command line (Dawn's Node binding, the optional `webgpu` package). This machine has no GPU; Debian's
 * chromium ships SwiftShader's Vulkan driver, on which Dawn finds a (software) adapter when VK_ICD_FILENAMES points at
 * it. Parity runs tiny sizes: SwiftShader is tens of times slower than wasm, with the same numbers.
 */
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-webgpu-'));
const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
const vulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(
  existsSync,
);
const canRun = existsSync(icd) && vulkan;
if (!canRun && process.env.CI)
  throw new Error('SwiftShader (chromium) and libvulkan1 are missing: .ci/run installs them');
const xdg = join(tmp, 'xdg');
mkdirSync(xdg, { mode: 0o700 });

const cli = (env: Record<string, string>, ...args: string[]) =>
  runCli(args, { env: { ...process.env, ...env }, timeout: 600_000 });
const swiftshader = { VK_ICD_FILENAMES: icd, XDG_RUNTIME_DIR: xdg };
const report = (path: string) =>
  JSON.parse(readFileSync(path, 'utf8')) as {
    backend: string;
    steps: { loss: number; terms: Record<string, number> }[];
  };
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

describe('--backend webgpu in Node', () => {
  it('auto says why it did not take WebGPU, and goes on with wasm', async () => {
    const r = await cli({}, 'run', 'presets/adain.json', '--size', '24', '--out', join(tmp, 'auto.png'));
    expect(r.code, r.stderr).toBe(0);
    // Here: no GPU driver, or only the software one, which auto leaves for wasm; on a machine with a GPU, webgpu.
    // On a busy machine the thread count carries its own note: "wasm, 1 thread (busy machine: timed ...)".
    expect(r.stderr).toMatch(/backend (webgpu|wasm(, \d+ threads?( \(busy machine: [^)]*\))?)? \(webgpu: .+\)), 24 px/);
  });

  it.skipIf(!canRun)(
    'runs Gatys on WebGPU with the step-0 loss of wasm within 1e-4, each term within 1e-3',
    async () => {
      const args = ['run', 'presets/gatys.json', '--size', '24', '--steps', '0'];
      const wasm = await cli(
        {},
        ...args,
        '--backend',
        'wasm',
        '--out',
        join(tmp, 'g-wasm.png'),
        '--report',
        join(tmp, 'g-wasm.json'),
      );
      const gpu = await cli(
        swiftshader,
        ...args,
        '--backend',
        'webgpu',
        '--out',
        join(tmp, 'g-gpu.png'),
        '--report',
        join(tmp, 'g-gpu.json'),
      );
      expect(wasm.code, wasm.stderr).toBe(0);
      expect(gpu.code, gpu.stderr).toBe(0);
      const [a, b] = [report(join(tmp, 'g-gpu.json')), report(join(tmp, 'g-wasm.json'))];
      expect([a.backend, b.backend]).toEqual(['webgpu', 'wasm']);
      expect(rel(a.steps[0]!.loss, b.steps[0]!.loss)).toBeLessThan(1e-4);
      // Each term within 1e-3 (a deep Gram sums float32 products in another order on the GPU), the total within 1e-4.
      for (const [k, v] of Object.entries(b.steps[0]!.terms))
        expect(rel(a.steps[0]!.terms[k]!, v), k).toBeLessThan(1e-3);
    },
    600_000,
  );

  it.skipIf(!canRun)(
    'runs AdaIN on WebGPU to the same picture as wasm (within 2/255)',
    async () => {
      const args = ['run', 'presets/adain.json', '--size', '32'];
      await cli({}, ...args, '--backend', 'wasm', '--out', join(tmp, 'a-wasm.png'));
      const gpu = await cli(swiftshader, ...args, '--backend', 'webgpu', '--out', join(tmp, 'a-gpu.png'));
      expect(gpu.code, gpu.stderr).toBe(0);
      const [x, y] = [
        PNG.sync.read(readFileSync(join(tmp, 'a-gpu.png'))),
        PNG.sync.read(readFileSync(join(tmp, 'a-wasm.png'))),
      ];
      let worst = 0;
      for (let i = 0; i < x.data.length; i++) worst = Math.max(worst, Math.abs(x.data[i]! - y.data[i]!));
      expect(worst).toBeLessThanOrEqual(2);
    },
    600_000,
  );

  it('refuses --backend webgpu with the reason when no adapter can be had', async () => {
    const r = await cli(
      { VK_ICD_FILENAMES: join(tmp, 'no-such-driver.json'), XDG_RUNTIME_DIR: xdg },
      'run',
      'presets/adain.json',
      '--size',
      '24',
      '--backend',
      'webgpu',
      '--out',
      join(tmp, 'none.png'),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /--backend webgpu cannot start: (no WebGPU adapter|the optional "webgpu" package cannot load)/,
    );
  });
});
