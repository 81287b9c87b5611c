import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * From opening AdaIN to a picture made with pretrained weights, in Chromium against the built editor served by
 * `vite preview` with the weights middleware. The checkpoints come from a loopback mirror that sends no CORS headers
 * (as GitHub releases): the page cannot read it directly, the editor's server fetches for it into the CLI's cache.
 */
const shots = new URL('../../test-results/', import.meta.url).pathname;
const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
/** The manifest's file names, under the mirror base. */
const files: Record<string, Buffer> = { '/weights/vgg_normalised.pth': fixture('vgg_normalised-tiny.pth'), '/weights/decoder.pth': fixture('decoder-tiny.pth') };
const mirrorHits: string[] = [];
let mirror: Server;
let mirrorBase = '';
let server: PreviewServer;
let browser: Browser;
let base = '';
const cache = mkdtempSync(join(tmpdir(), 'stylegraph-e2e-cache-'));

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  mirror = createServer((req, res) => {
    mirrorHits.push(req.url ?? '');
    const body = files[req.url ?? ''];
    if (!body) return res.writeHead(404).end();
    // No Access-Control-Allow-Origin: a page on another origin cannot read this.
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  mirrorBase = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/weights/`;
  process.env.STYLEGRAPH_WEIGHTS_MIRROR = mirrorBase;
  process.env.STYLEGRAPH_CACHE = cache;
  server = await preview({ configFile: new URL('../../vite.config.ts', import.meta.url).pathname, preview: { port: 0, host: '127.0.0.1' } });
  base = server.resolvedUrls!.local[0]!;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => server?.httpServer.close(() => r()));
  mirror?.close();
});

const status = (page: Page) => page.textContent('[data-test=status]');
const finished = (page: Page) =>
  page.waitForFunction(() => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''), null, { timeout: 120_000 });
/** The output image's pixels, from the run store. */
const pixels = (page: Page) =>
  page.evaluate(() => Array.from((window as unknown as { stylegraph: { run: { output: { data: Uint8ClampedArray } | null } } }).stylegraph.run.output!.data));
const states = (page: Page) =>
  page.$$eval('[data-test=weights-needed] > li', (lis) => lis.map((li) => [li.getAttribute('data-weights'), li.querySelector('[data-test=weights-state]')?.textContent?.trim()]));

async function runOnce(page: Page): Promise<number[]> {
  await page.click('[data-test=run]');
  await page.waitForFunction(() => !/^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''), null, { timeout: 10_000 }).catch(() => {});
  await finished(page);
  expect(await status(page)).toMatch(/^done/);
  return pixels(page);
}

describe('pretrained weights in the editor', () => {
  it('opens AdaIN, lists the two missing networks, gets each through the editor server from a mirror without CORS, and the output changes', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const pageRequests: string[] = [];
    page.on('request', (r) => pageRequests.push(r.url()));
    await page.goto(`${base}?preset=adain.json&backend=wasm&size=32&fresh`);
    await page.waitForFunction(() => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled, null, { timeout: 60_000 });

    expect(await states(page)).toEqual([['vgg_normalised', 'random'], ['adain-decoder', 'random']]);
    expect(await page.textContent('[data-weights=vgg_normalised]')).toMatch(/76\.4 MiB · MIT \(pytorch-AdaIN\) · github\.com/);

    // With random weights: the banner names both networks and what to load.
    const random = await runOnce(page);
    const banner = await page.textContent('[data-test=random-weights]');
    expect(banner).toMatch(/VGG19 normalised \(enc_content, enc_style\): load vgg_normalised/);
    expect(banner).toMatch(/Decoder \(decoder\): load adain-decoder/);
    await page.locator('.weights').screenshot({ path: `${shots}weights-panel-missing.png` });
    await page.locator('.output').screenshot({ path: `${shots}output-random-weights.png` });
    expect(await page.textContent('[data-test=weights-via]')).toBe(`Get goes through the editor's server (mirror ${mirrorBase}).`);

    for (const name of ['vgg_normalised', 'adain-decoder']) {
      await page.click(`[data-weights="${name}"] [data-test=weights-get]`);
      await expect.poll(async () => Object.fromEntries(await states(page))[name], { timeout: 30_000 }).toBe('cached');
    }
    expect(await page.textContent('[data-test=weights-summary]')).toBe('all 2 loaded');
    expect(await page.textContent('[data-weights=adain-decoder]')).toContain(`from ${mirrorBase}decoder.pth`);
    await page.locator('.weights').screenshot({ path: `${shots}weights-panel-loaded.png` });
    // The server fetched them (into the CLI's cache); the page itself never asked the mirror.
    expect(mirrorHits).toEqual(['/weights/vgg_normalised.pth', '/weights/decoder.pth']);
    expect(pageRequests.filter((u) => u.startsWith(mirrorBase))).toEqual([]);
    expect(readdirSync(cache).filter((f) => f.endsWith('.pth')).map((f) => f.replace(/^[0-9a-f]+-/, '')).sort()).toEqual(['decoder.pth', 'vgg_normalised.pth']);

    // The worker has them before the next run starts.
    await expect.poll(() => page.evaluate(() => (window as unknown as { stylegraph: { run: { weights: string[] } } }).stylegraph.run.weights.sort())).toEqual(['adain-decoder', 'vgg_normalised']);
    const trained = await runOnce(page);
    expect(await page.locator('[data-test=random-weights]').count()).toBe(0);
    expect(await page.textContent('[data-test=run-weights]')).toContain(`Decoder: adain-decoder from ${mirrorBase}decoder.pth (cached)`);
    expect(trained.length).toBe(random.length);
    const meanDiff = trained.reduce((a, v, i) => a + Math.abs(v - random[i]!), 0) / trained.length;
    expect(meanDiff).toBeGreaterThan(5);
    await page.screenshot({ path: `${shots}adain-with-weights.png` });

    // The browser's cache keeps them across a reload.
    await page.reload();
    await page.waitForSelector('[data-test=weights-needed]');
    await expect.poll(() => states(page)).toEqual([['vgg_normalised', 'cached'], ['adain-decoder', 'cached']]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
