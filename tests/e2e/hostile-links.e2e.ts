import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLink } from '../../src/codecs/link';
import { MAX_SHOWN_NODES } from '../../src/web/share-decode';

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
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
    preview: { port: 0, host: '127.0.0.1' },
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
  await new Promise<void>((r) => elsewhere?.close(() => r()));
  await new Promise<void>((r) => server?.httpServer.close(() => r()));
});

describe('a shared link with disguised remote sources', () => {
  it('fetches no thumbnail when it opens, names the origin, and Run asks before fetching', async () => {
    const doc = JSON.parse(readFileSync(`${root}presets/gatys.json`, 'utf8')) as {
      nodes: { id: string; type: string; position: { x: number; y: number }; params: Record<string, unknown> }[];
    };
    const host = `127.0.0.1:${port}`;
    doc.nodes.find((n) => n.id === 'content')!.params.source = ` //${host}/space.jpg`;
    doc.nodes.find((n) => n.id === 'style')!.params.source = `/\\${host}/backslash.jpg`;
    // Two more image nodes that feed nothing: their thumbnails still show.
    doc.nodes.push({
      id: 'tab',
      type: 'image',
      position: { x: -400, y: 0 },
      params: { source: `ht\ttp://${host}/tab.jpg` },
    });
    doc.nodes.push({
      id: 'newline',
      type: 'image',
      position: { x: -400, y: 300 },
      params: { source: `\n//${host}/newline.jpg` },
    });
    const link = `${base}?backend=wasm&size=32&fresh#${encodeLink(JSON.stringify(doc)).fragment}`;

    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const seen: string[] = [];
    page.on('request', (r) => seen.push(r.url()));
    await page.goto(link);
    await page.waitForSelector('[data-node="newline"]');
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${shots}hostile-link.png` });
    expect(requests).toEqual([]);
    expect(seen.filter((u) => u.includes(host))).toEqual([]);
    expect(await page.locator('[data-node="content"] img.thumb').count()).toBe(0);
    expect(await page.textContent('[data-test=remote-origins]')).toContain(`http://${host}`);

    await page.click('[data-test=run]');
    await expect.poll(() => page.textContent('[data-test=fetch-consent]')).toContain(`http://${host}`);
    await page.click('[data-test=fetch-deny]');
    await expect
      .poll(() => page.textContent('[data-test=status]'))
      .toMatch(new RegExp(`not run: the graph reads from http://${host.replace(/\./g, '\\.')}`));
    await page.waitForTimeout(500);
    expect(requests).toEqual([]);
    expect(seen.filter((u) => u.includes(host))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});

/** A chain of `n` weighted sums, every node at the same place (so the editor lays it out), as a share link's fragment. */
function chainLink(n: number): string {
  const nodes = Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    type: 'sum',
    position: { x: 0, y: 0 },
    params: { weight: 1 },
  }));
  const edges = nodes
    .slice(1)
    .map((_, i) => ({ from: { node: `s${i}`, output: 'total' }, to: { node: `s${i + 1}`, input: 'terms' } }));
  return encodeLink(JSON.stringify({ format: 'stylegraph', version: 1, metadata: { title: 'big' }, nodes, edges }))
    .fragment;
}

/**
 * Records, from before the page's first script: each animation frame (its gap from the one before and how many
 * nodes the canvas holds then) and the long tasks (over 50 ms) the browser reports. `window.__frames()` sums them up.
 */
const recordFrames = () => {
  const w = window as unknown as {
    __gaps: { gap: number; nodes: number }[];
    __long: number[];
    __frames: () => unknown;
  };
  w.__gaps = [];
  w.__long = [];
  let last = performance.now();
  const tick = (t: number) => {
    w.__gaps.push({ gap: t - last, nodes: document.querySelectorAll('[data-node]').length });
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((l) => l.getEntries().forEach((e) => w.__long.push(e.duration))).observe({
    type: 'longtask',
    buffered: true,
  });
  w.__frames = () => {
    const gaps = w.__gaps.map((g) => g.gap);
    return {
      frames: gaps.length,
      maxGap: Math.max(0, ...gaps),
      long: w.__long.length,
      longMs: w.__long.reduce((a, l) => a + l, 0),
      longest: Math.max(0, ...w.__long),
      nodeCounts: [...new Set(w.__gaps.map((g) => g.nodes))],
    };
  };
};
type Frames = { frames: number; maxGap: number; long: number; longMs: number; longest: number; nodeCounts: number[] };
const frames = (page: Page) => page.evaluate(() => (window as unknown as { __frames: () => Frames }).__frames());

describe('a big shared link', () => {
  it(`is decoded in a worker and drawn over many frames (${MAX_SHOWN_NODES} nodes, the most the editor shows); one more is refused`, async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const workers: string[] = [];
    page.on('worker', (w) => workers.push(w.url()));
    await page.addInitScript(recordFrames);
    const started = Date.now();
    await page.goto(`${base}?backend=cpu&fresh#${chainLink(MAX_SHOWN_NODES)}`);
    // Visible: the canvas shows its layer once every node and connection is in.
    await page.waitForSelector(`[data-node="s${MAX_SHOWN_NODES - 1}"]`, { state: 'visible', timeout: 120_000 });
    const openMs = Date.now() - started;
    await page.waitForTimeout(300);
    const shown = await frames(page);
    // The figures for docs/security.md (timings are reported, not asserted: this machine is shared).
    console.log(
      `share link of ${MAX_SHOWN_NODES} nodes: open ${openMs} ms, ${shown.frames} frames, largest frame gap ${shown.maxGap.toFixed(0)} ms, ` +
        `${shown.long} long tasks (${shown.longMs.toFixed(0)} ms in all, longest ${shown.longest.toFixed(0)} ms), ` +
        `${shown.nodeCounts.filter((c) => c > 0 && c < MAX_SHOWN_NODES).length} frames drawn with part of the graph`,
    );
    expect(await page.locator('[data-node]').count()).toBe(MAX_SHOWN_NODES);
    // Decoded, parsed and laid out in the share worker; the canvas adds the nodes a few at a time, frames in between.
    expect(workers.some((u) => /share-worker/.test(u))).toBe(true);
    expect(shown.nodeCounts.filter((c) => c > 0 && c < MAX_SHOWN_NODES).length).toBeGreaterThanOrEqual(5);
    // Laid out (it came without positions): the chain runs left to right.
    const x = (id: string) => page.locator(`[data-node="${id}"]`).evaluate((el) => el.getBoundingClientRect().x);
    expect(await x('s1')).toBeGreaterThan(await x('s0'));

    const tooBig = await browser.newPage();
    tooBig.on('pageerror', (e) => errors.push(e.message));
    await tooBig.addInitScript(recordFrames);
    await tooBig.goto(`${base}?backend=cpu&fresh#${chainLink(MAX_SHOWN_NODES + 1)}`);
    await expect
      .poll(() => tooBig.textContent('[data-test=notice]'), { timeout: 60_000 })
      .toContain(`has ${MAX_SHOWN_NODES + 1} nodes; the editor shows at most ${MAX_SHOWN_NODES}`);
    // What would have opened without the link opens instead (the MicroAST preset with ?fresh); none of the link is drawn.
    await tooBig.waitForSelector('[data-node="modulator"]');
    expect(await tooBig.locator('[data-node="s0"]').count()).toBe(0);
    const refused = await frames(tooBig);
    console.log(
      `share link of ${MAX_SHOWN_NODES + 1} nodes refused: largest frame gap ${refused.maxGap.toFixed(0)} ms, ${refused.long} long tasks`,
    );
    expect(errors).toEqual([]);
    await page.close();
    await tooBig.close();
  }, 240_000);
});
