import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The built page in Debian's Chromium (`npm run test:e2e` builds first). Functional checks run on wasm
 * at 64 px; webgl gets one tiny smoke run (a software GPU here is slow). Screenshots go to test-results/.
 */
const shots = new URL('../../test-results/', import.meta.url).pathname;
let server: PreviewServer;
let browser: Browser;
let base = '';

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  server = await preview({ configFile: new URL('../../vite.config.ts', import.meta.url).pathname, preview: { port: 0, host: '127.0.0.1' } });
  base = server.resolvedUrls!.local[0]!;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'],
  });
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => server?.httpServer.close(() => r()));
});

async function open(query: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}?${query}`);
  await page.waitForFunction(() => !(document.querySelector('#run') as HTMLButtonElement).disabled, null, { timeout: 60_000 });
  expect(errors).toEqual([]);
  return page;
}

const runStatus = (page: Page) => page.waitForFunction(() => document.body.dataset.runStatus, null, { timeout: 120_000 }).then((h) => h.jsonValue());

describe('the page', () => {
  it('runs the Gatys preset on wasm and shows the result and the loss terms', async () => {
    const page = await open('backend=wasm&size=64&steps=5');
    expect(await page.textContent('#backend')).toBe('backend: wasm');
    await page.screenshot({ path: `${shots}before-run.png` });
    await page.click('#run');
    expect(await runStatus(page)).toBe('done');
    await page.screenshot({ path: `${shots}after-run.png` });
    expect(await page.$eval('#result', (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([64, 64]);
    expect(await page.textContent('#terms')).toContain('content_loss');
    expect(await page.textContent('#status')).toMatch(/done after 5 steps/);
    await page.close();
  });

  it('stops a long run', async () => {
    const page = await open('backend=wasm&size=64&steps=500');
    await page.click('#run');
    await page.waitForFunction(() => /step [1-9]/.test(document.querySelector('#status')!.textContent ?? ''));
    await page.click('#stop');
    expect(await runStatus(page)).toBe('cancelled');
    expect(await page.textContent('#status')).toMatch(/stopped after \d+ steps/);
    await page.close();
  });

  it('keeps a picked checkpoint in IndexedDB across a reload, and refuses a bad one', async () => {
    const page = await open('backend=wasm&size=64&steps=1');
    await page.selectOption('#weights-name', 'adain-decoder');
    await page.setInputFiles('#weights-file', new URL('../fixtures/decoder-tiny.pth', import.meta.url).pathname);
    await expect.poll(() => page.textContent('#weights-list')).toMatch(/adain-decoder: decoder-tiny.pth/);
    await page.setInputFiles('#weights-file', new URL('../fixtures/malicious.pth', import.meta.url).pathname);
    await expect.poll(() => page.textContent('#status')).toMatch(/refused/);
    await page.reload();
    await page.waitForFunction(() => !(document.querySelector('#run') as HTMLButtonElement).disabled);
    await expect.poll(() => page.textContent('#weights-list')).toMatch(/adain-decoder: decoder-tiny.pth/);
    await page.screenshot({ path: `${shots}weights.png` });
    await page.close();
  });

  it('runs on webgl (smoke, 32 px, one step)', async () => {
    const page = await open('backend=webgl&size=32&steps=1');
    expect(await page.textContent('#backend')).toBe('backend: webgl');
    await page.click('#run');
    const status = await runStatus(page);
    expect(status, (await page.textContent('#status')) ?? '').toBe('done');
    await page.close();
  });
});
