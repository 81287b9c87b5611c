import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';

/**
 * The built editor under `vite preview` is cross-origin isolated (src/devserver/headers.ts), so the run worker
 * starts tfjs-wasm's threaded build: from the minified bundle, where tfjs's own start hangs (src/runtime/wasm-threads.ts),
 * with one thread per logical core (this machine: 2; tfjs alone would take half, so 1). Without `?threads=` the count
 * is timed at start (fewer on a busy machine, as this shared one often is), so the first test pins it.
 */
const editor = useEditor();

const status = (page: import('playwright-core').Page) => page.textContent('[data-test=status]');

describe('wasm threads in the editor', () => {
  it('is cross-origin isolated, runs wasm on more than one thread, completes a Gatys run and shows the count', async () => {
    const { page, errors } = await editor.open('backend=wasm&threads=2&size=32&preset=gatys.json');
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    const threads = Number(await page.getAttribute('.backend', 'data-threads'));
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(cores, 'this test needs a machine with more than one core').toBeGreaterThan(1);
    expect(threads).toBe(2);
    expect(await page.textContent('.backend')).toContain(`backend: wasm, ${threads} threads`);
    await page.fill('[data-test=steps]', '3');
    await page.dispatchEvent('[data-test=steps]', 'change');
    await page.click('[data-test=run]');
    await page.waitForFunction(
      () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
      null,
      { timeout: 120_000 },
    );
    expect(await status(page)).toMatch(/^done after 3 steps/);
    await page.screenshot({ path: `${shots}threads-run-bar.png` });
    expect(errors).toEqual([]);
  });

  it('without ?threads= times the count and says why when it is fewer than the cores', async () => {
    const { page, errors } = await editor.open('backend=wasm&size=32');
    const threads = Number(await page.getAttribute('.backend', 'data-threads'));
    const most = Math.min(8, await page.evaluate(() => navigator.hardwareConcurrency));
    const text = (await page.textContent('.backend')) ?? '';
    expect(threads).toBeGreaterThanOrEqual(1);
    expect(threads).toBeLessThanOrEqual(most);
    // Every core, or fewer with the timing that decided it in the run bar (this shared machine is often busy).
    if (threads < most) expect(text).toMatch(/^backend: wasm, \d threads? \(busy machine: timed 1 thread /);
    else expect(text).toBe(`backend: wasm, ${threads} threads`);
    expect(errors).toEqual([]);
    await page.close();
  });
});

/** The same build from a static host that sends no isolation headers. */
describe('wasm threads without cross-origin isolation', () => {
  const dist = process.env.E2E_DIST ?? new URL('../../dist/', import.meta.url).pathname;
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
    '.wasm': 'application/wasm',
    '.json': 'application/json',
    '.jpg': 'image/jpeg',
    '.png': 'image/png',
  };
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(
        /^(\.\.[/\\])+/,
        '',
      );
      const file = join(dist, path.endsWith('/') ? `${path}index.html` : path);
      try {
        const body = await readFile(file);
        res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('falls back to one thread and says why in the run bar', async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}?backend=wasm&size=32`);
      await page.waitForFunction(() => !!document.querySelector('.backend')?.getAttribute('data-threads'), null, {
        timeout: 60_000,
      });
      expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(false);
      expect(await page.getAttribute('.backend', 'data-threads')).toBe('1');
      expect(await page.textContent('.backend')).toContain('backend: wasm, 1 thread (page not cross-origin isolated)');
    } finally {
      await browser.close();
    }
  });
});
