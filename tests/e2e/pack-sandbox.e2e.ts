import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';

/**
 * Issue 16: node packs in the editor run in the sandboxed worker (an iframe without allow-same-origin, a policy
 * with no network access), where they can compute and nothing else. A hostile pack tries storage, cookies, the
 * page's DOM and the network (a loopback server that counts what reaches it) at its top level and in its node's
 * compute, and reports what it got; every attempt fails and nothing reaches the server. The example pack still
 * installs and runs, and no pack code runs on the page. (E2E_DIST=folder serves another build.)
 */
const editor = useEditor();

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/** Every request the hostile pack gets out (any method, path, or a WebSocket upgrade). */
const trapped: string[] = [];
const trap = createServer((req: IncomingMessage, res) => {
  trapped.push(`${req.method} ${req.url}`);
  res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': 'text/javascript' });
  res.end('export default 1;');
});
trap.on('upgrade', (req: IncomingMessage, socket) => {
  trapped.push(`UPGRADE ${req.url}`);
  socket.destroy();
});
/** The packs, on another origin, as a user would host them. */
const packs = new Map<string, string>();
const packServer = createServer((req, res) => {
  const body = packs.get(req.url ?? '');
  res.writeHead(body ? 200 : 404, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' });
  res.end(body ?? '');
});
let trapUrl = '';
let packUrl = '';
beforeAll(async () => {
  trapUrl = await listen(trap);
  packUrl = await listen(packServer);
  packs.set(
    '/hostile.js',
    readFileSync(new URL('./fixtures/hostile-pack.js', import.meta.url), 'utf8').replaceAll('__TRAP__', trapUrl),
  );
  packs.set('/wct.js', readFileSync(new URL('../../examples/pack-wct/index.js', import.meta.url), 'utf8'));
});
afterAll(() => {
  trap.close();
  packServer.close();
});

const status = (page: Page) => page.textContent('[data-test=status]');
const finished = (page: Page) =>
  page.waitForFunction(
    () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
    null,
    { timeout: 120_000 },
  );

async function install(page: Page, url: string) {
  await page.click('[data-test=plugins-open]');
  await page.fill('[data-test=pack-url]', url);
  await page.click('[data-test=pack-install]');
  await expect.poll(() => page.textContent('[data-test=consent]')).toContain(new URL(url).origin);
  await page.click('[data-test=consent-allow]');
}

/** content image -> hostile/probe -> output. */
const probeGraph = JSON.stringify({
  format: 'stylegraph',
  version: 1,
  metadata: { title: 'sandbox probe' },
  packs: [{ name: 'hostile', version: '^1.0.0' }],
  nodes: [
    {
      id: 'content',
      type: 'image',
      position: { x: 0, y: 0 },
      params: { source: 'images/astronaut.jpg', slot: 'content' },
    },
    { id: 'probe', type: 'hostile/probe', position: { x: 300, y: 0 }, params: {} },
    { id: 'output', type: 'output', position: { x: 600, y: 0 }, params: {} },
  ],
  edges: [
    { from: { node: 'content', output: 'image' }, to: { node: 'probe', input: 'image' } },
    { from: { node: 'probe', output: 'image' }, to: { node: 'output', input: 'image' } },
  ],
});

describe('node packs in the sandbox (issue 16)', () => {
  it('moves the worker into an opaque-origin iframe with a policy that allows no network once a pack is installed', async () => {
    const { page, errors } = await editor.open('backend=wasm&size=32&fresh');
    // No pack, no pack code: the worker is a plain one (WebGPU needs a secure context, which the sandbox's worker is not).
    expect(await page.locator('iframe[data-test=run-sandbox]').count()).toBe(0);
    await install(page, `${packUrl}/hostile.js`);
    await expect.poll(() => page.textContent('[data-test=pack-list]')).toMatch(/hostile 1\.0\.0/);
    const frame = page.locator('iframe[data-test=run-sandbox]');
    expect(await frame.getAttribute('sandbox')).toBe('allow-scripts');
    const policy = await frame.evaluate((f: HTMLIFrameElement) => /content="([^"]*)"/.exec(f.srcdoc)?.[1] ?? '');
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain('connect-src blob: data:');
    expect(policy).not.toMatch(/connect-src[^;]*(https?:|\*)/);
    // A build hands the worker in as text: no script URL is allowed either (a pack cannot import even the app's files).
    expect(policy).not.toMatch(/script-src[^;]*(https?:|\*|'self')/);
    // The worker started again in there, and the run bar is ready.
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a hostile pack gets no storage, cookies, DOM or network, at its top level or in compute, and nothing reaches the loopback server', async () => {
    const { page, errors } = await editor.open('backend=wasm&size=32&fresh');
    // What the page holds that a pack must not read.
    await page.evaluate(() => {
      document.cookie = 'session=secret-cookie';
      localStorage.setItem('secret', 'secret-storage');
    });
    await install(page, `${packUrl}/hostile.js`);
    await expect
      .poll(() => page.textContent('[data-test=pack-list]'))
      .toMatch(/hostile 1\.0\.0[\s\S]*hostile\/probe[\s\S]*enabled/);
    await page.click('[data-test=plugins] header button');
    // The pack's node type reached the page as data: the palette offers it.
    expect(await page.locator('.palette [data-type="hostile/probe"]').count()).toBe(1);
    await page.evaluate(
      (text) =>
        (window as unknown as { stylegraph: { graph: { open(t: string, n: string): boolean } } }).stylegraph.graph.open(
          text,
          'probe.json',
        ),
      probeGraph,
    );
    await page.waitForSelector('[data-node="probe"]:not(.placeholder)');
    // Its shapes were checked in the sandbox: the graph is valid and Run is enabled.
    await expect.poll(() => page.locator('[data-test=run]').isEnabled(), { timeout: 30_000 }).toBe(true);
    await page.click('[data-test=run]');
    await finished(page);
    const text = (await status(page)) ?? '';
    const report = /SANDBOX-REPORT (\{.*\}) END/.exec(text);
    expect(report, text).not.toBeNull();
    const got = JSON.parse(report![1]!) as Record<string, string>;
    console.log(got);
    const tried = [
      'top localStorage',
      'top indexedDB',
      'top document.cookie',
      'top fetch',
      'localStorage',
      'sessionStorage',
      'indexedDB',
      'caches',
      'document.cookie',
      'document',
      'window.parent',
      'self.parent',
      'top',
      'fetch',
      'fetch no-cors',
      'XMLHttpRequest',
      'WebSocket',
      'EventSource',
      'importScripts',
      'import()',
      'new Worker',
      'navigator.sendBeacon',
      'page fetch, another site',
      "page fetch, the app's site",
      // Issue 29: the probe declares a model parameter defaulting to '/' and an image parameter defaulting to /packs.json.
      "page fetch, a pack's source",
      'page fetch, the page',
      'run uploads of a default',
    ];
    expect(Object.keys(got).sort()).toEqual([...tried].sort());
    for (const name of tried) expect(got[name], name).toMatch(/^refused: /);
    // The page's secrets appear nowhere in what the pack reported.
    expect(text).not.toMatch(/secret-(cookie|storage)/);
    // Give anything in flight a moment to land, then check that nothing did.
    await page.waitForTimeout(1000);
    expect(trapped).toEqual([]);
    // The pack's module never ran on the page (its top level marks the global object it runs in).
    expect(
      await page.evaluate(() => (window as unknown as { __hostilePackRan?: number }).__hostilePackRan),
    ).toBeUndefined();
    await page.screenshot({ path: `${shots}pack-sandbox-hostile.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the example pack (wct-pack.json) still installs and runs, and the consent dialog says what a pack can do', async () => {
    const { page, errors } = await editor.open('backend=wasm&size=32&fresh');
    await page.click('[data-test=plugins-open]');
    await page.fill('[data-test=pack-url]', `${packUrl}/wct.js`);
    await page.click('[data-test=pack-install]');
    await expect
      .poll(() => page.textContent('[data-test=consent]'))
      .toMatch(/runs its code in a sandbox[\s\S]*compute on the tensors[\s\S]*nothing else/);
    await page.click('[data-test=consent-allow]');
    await expect
      .poll(() => page.textContent('[data-test=pack-list]'))
      .toMatch(/wct 1\.0\.0[\s\S]*wct\/whiten-colour, wct\/histogram-loss[\s\S]*enabled/);
    await page.click('[data-test=plugins] header button');
    await page.click('[data-test=presets]');
    await page.click('[data-preset="wct-pack.json"]');
    await page.waitForSelector('[data-node="wct"]:not(.placeholder)');
    expect(await page.locator('[data-test=missing-packs]').count()).toBe(0);
    await page.fill('[data-test=steps]', '2');
    await page.dispatchEvent('[data-test=steps]', 'change');
    await expect.poll(() => page.locator('[data-test=run]').isEnabled(), { timeout: 30_000 }).toBe(true);
    await page.click('[data-test=run]');
    await finished(page);
    expect(await status(page)).toMatch(/^done after 2 steps/);
    expect(trapped).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
