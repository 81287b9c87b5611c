import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 28 item 1: Run pressed while a network is still downloading. The mirror (loopback, no CORS, as GitHub
 * releases) sends the encoder's first half and then holds the rest until the test lets it go, so the download is
 * caught half way without timing. Run waits for it and says so; the weights panel never says "all loaded" while a
 * row downloads; the output banner and the panel agree about what is loaded.
 */
const shots = new URL('../../test-results/', import.meta.url).pathname;
const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const vgg = fixture('vgg_normalised-tiny.pth');
const decoder = fixture('decoder-tiny.pth');
let release: () => void = () => {};
const released = new Promise<void>((r) => (release = r));
let halfSent: () => void = () => {};
const half = new Promise<void>((r) => (halfSent = r));
let mirror: Server;
let server: PreviewServer;
let browser: Browser;
let base = '';

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  mirror = createServer((req, res) => {
    const body = req.url === '/weights/vgg_normalised.pth' ? vgg : req.url === '/weights/decoder.pth' ? decoder : null;
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    if (body === decoder) return res.end(body);
    // The encoder: half now, the rest once the test has seen Run wait for it.
    res.write(body.subarray(0, body.length >> 1), () => halfSent());
    void released.then(() => res.end(body.subarray(body.length >> 1)));
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  process.env.STYLEGRAPH_WEIGHTS_MIRROR = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/weights/`;
  process.env.STYLEGRAPH_CACHE = mkdtempSync(join(tmpdir(), 'stylegraph-e2e-wait-'));
  server = await preview({
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
    preview: { port: 0, host: '127.0.0.1' },
    ...(process.env.E2E_DIST ? { build: { outDir: process.env.E2E_DIST } } : {}),
  });
  base = server.resolvedUrls!.local[0]!;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
  });
});
afterAll(async () => {
  release();
  await browser?.close();
  await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
  mirror?.close();
});

const status = (page: Page) => page.textContent('[data-test=status]');
const finished = (page: Page) =>
  page.waitForFunction(
    () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
    null,
    {
      timeout: 180_000,
    },
  );
const state = (page: Page, name: string) => page.textContent(`[data-weights="${name}"] [data-test=weights-state]`);
const bannerSays = (page: Page, name: string) =>
  page.getAttribute(`[data-test=random-weights] [data-random="${name}"]`, 'data-now');

describe('Run while a network downloads (issue 28 item 1)', () => {
  it('waits for the download and says so, then runs on the loaded weights; the panel and the banner agree', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}?preset=adain.json&backend=wasm&size=32&fresh`);
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    await page.waitForFunction(
      () => document.querySelectorAll('[data-test=weights-needed] > li [data-test=weights-state]').length === 2,
      null,
      {
        timeout: 30_000,
      },
    );

    // A first run on random weights: the banner names both networks as missing, as the panel does.
    await page.click('[data-test=run]');
    await finished(page);
    expect(await bannerSays(page, 'vgg_normalised')).toBe('missing');
    expect(await bannerSays(page, 'adain-decoder')).toBe('missing');

    // The decoder comes at once; the banner says it is loaded now, as the panel does.
    await page.click('[data-weights="adain-decoder"] [data-test=weights-get]');
    await expect.poll(() => state(page, 'adain-decoder'), { timeout: 60_000 }).toBe('cached');
    await expect.poll(() => bannerSays(page, 'adain-decoder'), { timeout: 30_000 }).toBe('loaded');

    // The encoder stops half way.
    await page.click('[data-weights="vgg_normalised"] [data-test=weights-get]');
    await half;
    await expect.poll(() => state(page, 'vgg_normalised'), { timeout: 30_000 }).toMatch(/MiB/);
    expect(await page.textContent('[data-test=weights-summary]')).toBe('1 of 2 downloading');
    expect(await bannerSays(page, 'vgg_normalised')).toBe('loading');

    // Run now waits for it, and says for what.
    await page.click('[data-test=run]');
    await expect.poll(() => status(page), { timeout: 30_000 }).toMatch(/^waiting for vgg_normalised \(.*MiB\)/);
    await page.screenshot({ path: `${shots}run-waits-for-download.png` });
    expect(await page.textContent('[data-test=weights-summary]')).toBe('1 of 2 downloading');

    release();
    await expect.poll(() => state(page, 'vgg_normalised'), { timeout: 60_000 }).toBe('cached');
    await finished(page);
    expect(await status(page)).toMatch(/^done/);
    expect(await page.textContent('[data-test=weights-summary]')).toBe('all 2 loaded');
    // The run used both checkpoints: no random-weights banner, and the weights lines name them.
    expect(await page.locator('[data-test=random-weights]').count()).toBe(0);
    const used = (await page.textContent('[data-test=run-weights]'))!;
    expect(used).toMatch(/vgg_normalised from .*vgg_normalised\.pth \(cached\)/);
    expect(used).toMatch(/adain-decoder from .*decoder\.pth \(cached\)/);
    await page.screenshot({ path: `${shots}run-after-download.png` });
    expect(errors).toEqual([]);
    await page.close();
  }, 400_000);
});
