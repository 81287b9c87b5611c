import { describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';

/**
 * Auto in a browser without a hardware GPU: this machine's headless Chromium offers WebGL (and, with
 * --enable-unsafe-webgpu, WebGPU) on SwiftShader, a software rasteriser 7x slower than wasm for Gatys. Auto must see
 * that from the adapters' names and take wasm, saying why in the run bar; `?backend=` still forces.
 */
const { open } = useEditor(['--enable-unsafe-webgpu']);

const label = (page: import('playwright-core').Page) => page.textContent('.backend');

describe('the auto backend in headless Chromium', () => {
  it('takes wasm over the software WebGL and WebGPU and says why in the run bar', async () => {
    const { page, errors } = await open('size=32&fresh');
    // The adapters really are software here (otherwise this test proves nothing).
    const renderer = await page.evaluate(() => {
      const gl = new OffscreenCanvas(1, 1).getContext('webgl2') as WebGL2RenderingContext | null;
      const debug = gl?.getExtension('WEBGL_debug_renderer_info');
      return gl && debug ? String(gl.getParameter(debug.UNMASKED_RENDERER_WEBGL)) : '';
    });
    expect(renderer).toMatch(/SwiftShader/);
    expect(await page.getAttribute('.backend', 'data-backend')).toBe('wasm');
    const text = (await label(page)) ?? '';
    expect(text).toMatch(/^backend: wasm, \d threads? .*— /);
    expect(text).toContain('— WebGPU and WebGL are SwiftShader (software)');
    // The software adapters are said once, in the why, not again as a fallback.
    expect(text).not.toContain('fell back');
    await page.screenshot({ path: `${shots}backend-auto-run-bar.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('still runs WebGL when ?backend=webgl forces it', async () => {
    const { page, errors } = await open('size=32&fresh&backend=webgl');
    expect(await page.getAttribute('.backend', 'data-backend')).toBe('webgl');
    expect(await label(page)).toBe('backend: webgl');
    expect(errors).toEqual([]);
    await page.close();
  });
});
