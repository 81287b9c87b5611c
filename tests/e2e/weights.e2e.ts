import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
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
const files: Record<string, Buffer> = {
  '/weights/vgg_normalised.pth': fixture('vgg_normalised-tiny.pth'),
  '/weights/decoder.pth': fixture('decoder-tiny.pth'),
};
const mirrorHits: string[] = [];
let mirror: Server;
let mirrorBase = '';
let server: PreviewServer;
/** The same build from a plain static server: no weights middleware, as when the editor is hosted as files. */
let staticServer: Server;
let staticBase = '';
const dist = new URL('../../dist/', import.meta.url).pathname;
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};
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
  server = await preview({
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
    preview: { port: 0, host: '127.0.0.1' },
    // E2E_DIST=folder serves another build (as tests/e2e/editor.ts does).
    ...(process.env.E2E_DIST ? { build: { outDir: process.env.E2E_DIST } } : {}),
  });
  base = server.resolvedUrls!.local[0]!;
  staticServer = createServer((req, res) => {
    const path = normalize(join(dist, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const file =
      path.startsWith(dist) && existsSync(path) && statSync(path).isDirectory() ? join(path, 'index.html') : path;
    if (!file.startsWith(dist) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => staticServer.listen(0, '127.0.0.1', r));
  staticBase = `http://127.0.0.1:${(staticServer.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => server?.httpServer.close(() => r()));
  mirror?.close();
  staticServer?.close();
});

async function ready(page: Page) {
  await page.waitForFunction(
    () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
    null,
    { timeout: 60_000 },
  );
}

const status = (page: Page) => page.textContent('[data-test=status]');
const finished = (page: Page) =>
  page.waitForFunction(
    () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
    null,
    { timeout: 180_000 },
  );
/** The output image's pixels, from the run store. */
const pixels = (page: Page) =>
  page.evaluate(() =>
    Array.from(
      (window as unknown as { stylegraph: { run: { output: { data: Uint8ClampedArray } | null } } }).stylegraph.run
        .output!.data,
    ),
  );
const states = (page: Page) =>
  page.$$eval('[data-test=weights-needed] > li', (lis) =>
    lis.map((li) => [
      li.getAttribute('data-weights'),
      li.querySelector('[data-test=weights-state]')?.textContent?.trim(),
    ]),
  );

async function runOnce(page: Page): Promise<number[]> {
  await page.click('[data-test=run]');
  await page
    .waitForFunction(
      () => !/^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
      null,
      { timeout: 10_000 },
    )
    .catch(() => {});
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
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    // The list fills in once the worker has said which weights it holds (it can come after Run is enabled).
    await page.waitForFunction(
      () => document.querySelectorAll('[data-test=weights-needed] > li [data-test=weights-state]').length === 2,
      null,
      { timeout: 30_000 },
    );

    expect(await states(page)).toEqual([
      ['vgg_normalised', 'random'],
      ['adain-decoder', 'random'],
    ]);
    expect(await page.textContent('[data-weights=vgg_normalised]')).toMatch(
      /76\.4 MiB · MIT \(pytorch-AdaIN\) · github\.com/,
    );

    // With random weights: the banner names both networks and what to load.
    const random = await runOnce(page);
    const banner = await page.textContent('[data-test=random-weights]');
    expect(banner).toMatch(/VGG19 normalised \(enc_content, enc_style\): load vgg_normalised/);
    expect(banner).toMatch(/Decoder \(decoder\): load adain-decoder/);
    await page.locator('.weights').screenshot({ path: `${shots}weights-panel-missing.png` });
    await page.locator('.output').screenshot({ path: `${shots}output-random-weights.png` });
    expect(await page.textContent('[data-test=weights-via]')).toBe(
      `Get goes through the editor's server (mirror ${mirrorBase}).`,
    );

    for (const name of ['vgg_normalised', 'adain-decoder']) {
      await page.click(`[data-weights="${name}"] [data-test=weights-get]`);
      await expect.poll(async () => Object.fromEntries(await states(page))[name], { timeout: 60_000 }).toBe('cached');
    }
    expect(await page.textContent('[data-test=weights-summary]')).toBe('all 2 loaded');
    expect(await page.textContent('[data-weights=adain-decoder]')).toContain(`from ${mirrorBase}decoder.pth`);
    await page.locator('.weights').screenshot({ path: `${shots}weights-panel-loaded.png` });
    // The server fetched them (into the CLI's cache); the page itself never asked the mirror.
    expect(mirrorHits).toEqual(['/weights/vgg_normalised.pth', '/weights/decoder.pth']);
    expect(pageRequests.filter((u) => u.startsWith(mirrorBase))).toEqual([]);
    expect(
      readdirSync(cache)
        .filter((f) => f.endsWith('.pth'))
        .map((f) => f.replace(/^[0-9a-f]+-/, ''))
        .sort(),
    ).toEqual(['decoder.pth', 'vgg_normalised.pth']);

    // The worker has them before the next run starts (the page reads them from IndexedDB and hands them to the
    // sandboxed worker, which checks their sha256: 90 MB on a shared machine can take a few seconds).
    await expect
      .poll(
        () =>
          page.evaluate(() =>
            (window as unknown as { stylegraph: { run: { weights: string[] } } }).stylegraph.run.weights.sort(),
          ),
        { timeout: 30_000 },
      )
      .toEqual(['adain-decoder', 'vgg_normalised']);
    const trained = await runOnce(page);
    expect(await page.locator('[data-test=random-weights]').count()).toBe(0);
    expect(await page.textContent('[data-test=run-weights]')).toContain(
      `Decoder: adain-decoder from ${mirrorBase}decoder.pth (cached)`,
    );
    expect(trained.length).toBe(random.length);
    const meanDiff = trained.reduce((a, v, i) => a + Math.abs(v - random[i]!), 0) / trained.length;
    expect(meanDiff).toBeGreaterThan(5);
    await page.screenshot({ path: `${shots}adain-with-weights.png` });
    console.log(`mean absolute pixel difference, random vs loaded weights: ${meanDiff.toFixed(1)}`);

    // The browser's cache keeps them across a reload.
    await page.reload();
    await page.waitForSelector('[data-test=weights-needed]');
    await expect
      .poll(() => states(page))
      .toEqual([
        ['vgg_normalised', 'cached'],
        ['adain-decoder', 'cached'],
      ]);
    expect(errors).toEqual([]);
    await page.close();
  }, 400_000);

  it('without the editor server (a static build), Get tries the mirror (?weightsMirror=) directly, explains the refusal and offers the file picker', async () => {
    const context = await browser.newContext({ viewport: { width: 1500, height: 950 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(
      `${staticBase}?preset=adain.json&backend=wasm&size=32&weightsMirror=${encodeURIComponent(mirrorBase)}`,
    );
    await ready(page);
    expect(await page.textContent('[data-test=weights-via]')).toMatch(/No editor server/);
    expect(await page.inputValue('[data-test=weights-mirror]')).toBe(mirrorBase);
    await page.click('[data-weights="adain-decoder"] [data-test=weights-get]');
    const failure = page.locator('[data-weights="adain-decoder"] [data-test=weights-failure]');
    await expect
      .poll(() => failure.textContent(), { timeout: 20_000 })
      .toMatch(new RegExp(`could not download ${mirrorBase}decoder\\.pth.*no CORS header`));
    await page.locator('.weights').screenshot({ path: `${shots}weights-panel-static.png` });
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      failure.locator('button', { hasText: 'Pick the file' }).click(),
    ]);
    await chooser.setFiles(new URL('../fixtures/decoder-tiny.pth', import.meta.url).pathname);
    await expect.poll(async () => Object.fromEntries(await states(page))['adain-decoder']).toBe('cached');
    // A checkpoint dropped on the node that needs it loads under that node's name, whatever the file is called.
    const vgg = fixture('vgg_normalised-tiny.pth').toString('base64');
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'some-encoder.pth'));
      document
        .querySelector('[data-node="enc_content"]')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, vgg);
    await expect
      .poll(() => states(page))
      .toEqual([
        ['vgg_normalised', 'cached'],
        ['adain-decoder', 'cached'],
      ]);
    expect(await page.textContent('[data-weights=vgg_normalised]')).toContain('from some-encoder.pth');
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('sharing a graph with a dropped image', () => {
  it('asks before copying the link, and the graph opened in another browser says which node needs an image', async () => {
    const context = await browser.newContext({ viewport: { width: 1500, height: 950 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await context.newPage();
    await page.goto(`${base}?preset=adain.json&backend=wasm&size=32`);
    await ready(page);
    const jpeg = readFileSync(new URL('../../presets/images/mosaic.jpg', import.meta.url)).toString('base64');
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'my painting.jpg', { type: 'image/jpeg' }));
      document
        .querySelector('[data-node="style"]')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, jpeg);
    await expect.poll(() => page.textContent('[data-node="style"]')).toContain('my_painting.jpg');
    await page.click('[data-test=share-link]');
    await expect
      .poll(() => page.textContent('[data-test=share-uploads]'))
      .toMatch(/Style painting \(my_painting\.jpg\)/);
    await page.screenshot({ path: `${shots}share-uploads-dialog.png` });
    await page.click('[data-test=share-without]');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toMatch(/#graph=/);
    const link = await page.evaluate(() => navigator.clipboard.readText());

    // Another browser (a fresh profile) has no copy of the image.
    const elsewhere = await browser.newContext({ viewport: { width: 1500, height: 950 } });
    const other = await elsewhere.newPage();
    await other.goto(link.replace(/^https?:\/\/[^/]+\//, base).replace('/#', '/?backend=wasm&size=32#'));
    await other.waitForSelector('[data-node="style"]');
    await expect
      .poll(() => other.textContent('[data-test=missing-uploads]'))
      .toMatch(/Style painting needs an image: my_painting\.jpg was dropped in the browser this graph comes from/);
    expect(await other.textContent('[data-node="style"] [data-test=needs-image]')).toMatch(/Needs an image/);
    await expect.poll(() => other.textContent('[data-test=why]')).toMatch(/"Style painting" needs an image/);
    expect(await other.locator('[data-test=run]').isDisabled()).toBe(true);
    await other.screenshot({ path: `${shots}shared-missing-upload.png` });
    // Dropping an image there resolves it.
    await other.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'mine.jpg', { type: 'image/jpeg' }));
      document
        .querySelector('[data-node="style"]')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, jpeg);
    await expect.poll(() => other.locator('[data-test=missing-uploads]').count()).toBe(0);
    await Promise.all([elsewhere.close(), context.close()]);
  });
});
