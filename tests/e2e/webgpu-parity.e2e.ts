import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useEditor } from './editor';

/**
 * The editor's GPU path: presets' step-0 loss in the page's run worker on Chromium's WebGPU (SwiftShader here: no
 * GPU on this machine, so 24 px) against wasm in the same browser. tests/webgpu-parity.test.ts covers every preset
 * and the custom kernels in Node; this checks the browser's webgpu backend, the worker and the run bar agree.
 */
const { open } = useEditor(['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader']);

interface Run {
  backend: string | null;
  status: string;
  steps: { step: number; loss: number; terms: Record<string, number> }[];
}

type Stylegraph = {
  stylegraph: { graph: { setParam(n: string, p: string, v: unknown): void }; run: { steps: Run['steps'] } };
};

/** Opens a preset on a backend, runs step 0 only, and reads what the run store recorded. */
async function stepZero(preset: string, backend: 'wasm' | 'webgpu'): Promise<Run & { page: Page; errors: string[] }> {
  const { page, errors } = await open(`backend=${backend}&size=24&fresh&preset=${preset}`);
  // The stores are on the window once the canvas has mounted (App.vue), which can be after Run is enabled.
  await page.waitForFunction(() => !!(window as unknown as Partial<Stylegraph>).stylegraph, null, { timeout: 60_000 });
  await page.evaluate(() => {
    const g = (window as unknown as Stylegraph).stylegraph.graph;
    g.setParam('optim', 'steps', 0);
    g.setParam('optim', 'previewEvery', 0);
  });
  await page.click('[data-test=run]');
  await page.waitForFunction(
    () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
    null,
    { timeout: 300_000 },
  );
  const status = (await page.textContent('[data-test=status]')) ?? '';
  const steps = await page.evaluate(() =>
    (window as unknown as Stylegraph).stylegraph.run.steps.map((s) => ({
      step: s.step,
      loss: s.loss,
      terms: { ...s.terms },
    })),
  );
  const used = await page.getAttribute('.backend', 'data-backend');
  return { page, errors, backend: used, status, steps };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

describe('presets on WebGPU in the editor against wasm', () => {
  it.each(['gatys.json', 'lesson-style-by-layer.json', 'gatys-resnet50.json'])(
    '%s: the step-0 loss within 1e-4, each term within 5e-3',
    async (preset) => {
      const wasm = await stepZero(preset, 'wasm');
      expect(wasm.backend).toBe('wasm');
      expect(wasm.status).toMatch(/^done/);
      const gpu = await stepZero(preset, 'webgpu');
      // The page says which backend it took: webgpu, not a fallback to webgl or wasm.
      expect(gpu.backend, `${gpu.status} ${gpu.errors.join('; ')}`).toBe('webgpu');
      expect(gpu.status).toMatch(/^done/);
      expect(gpu.steps.length).toBe(1);
      expect(wasm.steps.length).toBe(1);
      const [a, b] = [gpu.steps[0]!, wasm.steps[0]!];
      expect(Number.isFinite(b.loss) && b.loss > 0).toBe(true);
      expect(rel(a.loss, b.loss)).toBeLessThan(1e-4);
      // Each term within 5e-3: a deep layer's Gram sums float32 products in another order on the GPU (measured up to
      // 1.5e-3 on ResNet-50's layer3 with random weights); the total within 1e-4.
      for (const [k, v] of Object.entries(b.terms)) expect(rel(a.terms[k]!, v), k).toBeLessThan(5e-3);
      expect([...wasm.errors, ...gpu.errors]).toEqual([]);
      await wasm.page.close();
      await gpu.page.close();
    },
    600_000,
  );
});
