import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLink } from '../../src/codecs/link';

/**
 * A shared link fetches nothing from elsewhere (issue 16): sources written so that a pattern would take them for
 * local paths (` //host`, `/\host`, a tab or a newline in the URL) are parsed as the browser parses them, so their
 * thumbnails are not fetched when the link opens and Run asks first. A loopback server on another port (another
 * origin) counts every request that reaches it.
 */
const root = new URL('../../', import.meta.url).pathname;
const shots = new URL('../../test-results/', import.meta.url).pathname;
let server: PreviewServer;
let browser: Browser;
let base = '';
let elsewhere: Server;
let port = 0;
const requests: string[] = [];

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  server = await preview({
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname, preview: { port: 0, host: '127.0.0.1' },
    // E2E_DIST=folder serves another build (as tests/e2e/editor.ts does).
    ...(process.env.E2E_DIST ? { build: { outDir: process.env.E2E_DIST } } : {}),
  });
  base = server.resolvedUrls!.local[0]!;
  elsewhere = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('content-type', 'image/jpeg');
    res.end(readFileSync(`${root}presets/images/astronaut.jpg`));
  });
  await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
  port = (elsewhere.address() as { port: number }).port;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => elsewhere?.close(() => r()));
  await new Promise<void>((r) => server?.httpServer.close(() => r()));
});

describe('a shared link with disguised remote sources', () => {
  it('fetches no thumbnail when it opens, names the origin, and Run asks before fetching', async () => {
    const doc = JSON.parse(readFileSync(`${root}presets/gatys.json`, 'utf8')) as { nodes: { id: string; type: string; position: { x: number; y: number }; params: Record<string, unknown> }[] };
    const host = `127.0.0.1:${port}`;
    doc.nodes.find((n) => n.id === 'content')!.params.source = ` //${host}/space.jpg`;
    doc.nodes.find((n) => n.id === 'style')!.params.source = `/\\${host}/backslash.jpg`;
    // Two more image nodes that feed nothing: their thumbnails still show.
    doc.nodes.push({ id: 'tab', type: 'image', position: { x: -400, y: 0 }, params: { source: `ht\ttp://${host}/tab.jpg` } });
    doc.nodes.push({ id: 'newline', type: 'image', position: { x: -400, y: 300 }, params: { source: `\n//${host}/newline.jpg` } });
    const link = `${base}?backend=wasm&size=32&fresh#${encodeLink(JSON.stringify(doc)).fragment}`;

    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const seen: string[] = [];
    page.on('request', (r) => seen.push(r.url()));
    await page.goto(link);
    await page.waitForSelector('[data-node="newline"]');
    await page.waitForFunction(() => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled, null, { timeout: 60_000 });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${shots}hostile-link.png` });
    expect(requests).toEqual([]);
    expect(seen.filter((u) => u.includes(host))).toEqual([]);
    expect(await page.locator('[data-node="content"] img.thumb').count()).toBe(0);
    expect(await page.textContent('[data-test=remote-origins]')).toContain(`http://${host}`);

    await page.click('[data-test=run]');
    await expect.poll(() => page.textContent('[data-test=fetch-consent]')).toContain(`http://${host}`);
    await page.click('[data-test=fetch-deny]');
    await expect.poll(() => page.textContent('[data-test=status]')).toMatch(new RegExp(`not run: the graph reads from http://${host.replace(/\./g, '\\.')}`));
    await page.waitForTimeout(500);
    expect(requests).toEqual([]);
    expect(seen.filter((u) => u.includes(host))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
