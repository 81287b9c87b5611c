import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';

/**
 * Issue 29: the editor decides about packs from its own records, not from what the sandboxed worker (where pack
 * code runs) says. Hostile packs (tests/e2e/fixtures/) hide themselves from the worker's answers while forging a
 * 'pack-disabled' about another pack, name themselves differently on each load, spin at their top level, and
 * spin in a compute that never yields; the page lists what it stored, removes by hash, leaves a pack that does not
 * finish loading out, offers `?nopacks`, and ends a run that does not stop within a second.
 *
 * Packs "installed earlier" are put in the page's storage as an install stores them (the record and the sha256 of
 * the bytes): a pack that hides itself or spins from its first load could not be installed through the dialog.
 */
const editor = useEditor();

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const sources: Record<string, string> = {
  '/hider.js': fixture('hider-pack.js'),
  '/shifty.js': fixture('shifty-pack.js'),
  '/spin.js': fixture('spin-pack.js'),
  '/hostile.js': fixture('hostile-pack.js').replaceAll('__TRAP__', 'http://127.0.0.1:9'),
  '/wct.js': readFileSync(new URL('../../examples/pack-wct/index.js', import.meta.url), 'utf8'),
};
const packServer: Server = createServer((req, res) => {
  const body = sources[req.url ?? ''];
  res.writeHead(body ? 200 : 404, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' });
  res.end(body ?? '');
});
let packUrl = '';
beforeAll(async () => {
  await new Promise<void>((r) => packServer.listen(0, '127.0.0.1', () => r()));
  packUrl = `http://127.0.0.1:${(packServer.address() as AddressInfo).port}`;
});
afterAll(() => void packServer.close());

/** The record an install stores for a pack (src/web/pack-store.ts). */
const record = (file: string, name: string, types: string[]) => ({
  name,
  origin: `${packUrl}${file}`,
  source: sources[file]!,
  enabled: true,
  sha256: createHash('sha256').update(sources[file]!).digest('hex'),
  version: '1.0.0',
  description: name,
  types,
});

type Win = {
  stylegraph: {
    graph: { tell(t: string, e?: boolean): void; notice: { text: string } | null; open(t: string, n: string): boolean };
    run: { phase: string };
  };
  __told: string[];
};

/** Puts packs in the page's storage, as installs would have, and reloads; waits for a runnable editor. */
async function seeded(page: Page, packs: unknown[], query = 'backend=wasm&size=32&fresh') {
  await page.evaluate((list) => localStorage.setItem('stylegraph.packs', JSON.stringify(list)), packs);
  await page.goto(page.url().replace(/\?.*$/, `?${query}`));
  await page.waitForFunction(
    () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
    null,
    { timeout: 120_000 },
  );
  await told(page);
}
/** Keeps every notice the page shows in window.__told. */
const told = (page: Page) =>
  page.evaluate(() => {
    const w = window as unknown as Win;
    w.__told = [];
    const graph = w.stylegraph.graph;
    const tell = graph.tell.bind(graph);
    graph.tell = (text: string, error?: boolean) => {
      w.__told.push(text);
      tell(text, error);
    };
  });
const notices = (page: Page) => page.evaluate(() => (window as unknown as Win).__told);
const stored = (page: Page) =>
  page.evaluate(
    () => JSON.parse(localStorage.getItem('stylegraph.packs') ?? '[]') as { name: string; enabled: boolean }[],
  );
const openPlugins = async (page: Page) => {
  if (!(await page.locator('[data-test=plugins]').count())) await page.click('[data-test=plugins-open]');
};
const row = (page: Page, name: string) => page.locator(`[data-test=pack-list] tr[data-pack="${name}"]`);
const runnable = (page: Page, timeout = 120_000) =>
  page.waitForFunction(() => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled, null, {
    timeout,
  });

describe('the editor decides about packs from its own records (issue 29)', () => {
  it("a pack that hides itself from the worker's answers is listed with Remove; its forged pack-disabled changes nothing stored; Remove ends its code", async () => {
    const { page, errors } = await editor.open('backend=wasm&size=32&fresh');
    await seeded(page, [
      record('/wct.js', 'wct', ['wct/whiten-colour', 'wct/histogram-loss']),
      record('/hider.js', 'hider', ['hider/pass']),
    ]);
    await openPlugins(page);
    // Listed from the page's records, whatever the worker said about it.
    await expect.poll(() => row(page, 'hider').count(), { timeout: 60_000 }).toBe(1);
    expect(await row(page, 'hider').locator('[data-test=pack-remove]').count()).toBe(1);
    await expect
      .poll(() => row(page, 'hider').textContent(), { timeout: 60_000 })
      .toMatch(/not loaded[\s\S]*did not load/);
    // Its code runs: it forges 'pack-disabled' about wct every second. The page shows it as the worker's word only.
    await expect
      .poll(() => notices(page), { timeout: 30_000 })
      .toContainEqual(expect.stringMatching(/the run worker says node pack "wct" failed: HIDER-ALIVE/));
    expect((await stored(page)).map((p) => [p.name, p.enabled])).toEqual([
      ['wct', true],
      ['hider', true],
    ]);
    await expect
      .poll(() => row(page, 'wct').locator('[data-test=pack-state]').textContent())
      .toMatch(/^\s*enabled\s*$/);
    await page.screenshot({ path: `${shots}hostile-packs-hider.png` });
    // Remove: the record goes, and with it the worker the pack's code ran in.
    const frame = await page.locator('iframe[data-test=run-sandbox]').elementHandle();
    await row(page, 'hider').locator('[data-test=pack-remove]').click();
    await expect.poll(() => stored(page).then((s) => s.map((p) => p.name))).toEqual(['wct']);
    await expect.poll(() => frame!.evaluate((f) => f.isConnected)).toBe(false);
    await expect
      .poll(() => row(page, 'wct').locator('[data-test=pack-state]').textContent(), { timeout: 120_000 })
      .toMatch(/^\s*enabled\s*$/);
    await page.evaluate(() => ((window as unknown as Win).__told = []));
    await page.waitForTimeout(3000);
    expect(await notices(page)).not.toContainEqual(expect.stringMatching(/HIDER-ALIVE/));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a pack that names itself differently on each load is listed as installed and Remove removes it for good', async () => {
    const { page, errors } = await editor.open('backend=wasm&size=32&fresh');
    await page.click('[data-test=plugins-open]');
    await page.fill('[data-test=pack-url]', `${packUrl}/shifty.js`);
    await page.click('[data-test=pack-install]');
    await expect.poll(() => page.textContent('[data-test=consent]')).toContain(packUrl);
    await page.click('[data-test=consent-allow]');
    await expect
      .poll(() => page.textContent('[data-test=pack-list]'), { timeout: 60_000 })
      .toMatch(/shifty-\w+ 1\.0\.0/);
    const installedAs = (await stored(page))[0]!.name;
    // A reload: the pack names itself otherwise, the page keeps its record.
    await page.reload();
    await runnable(page);
    await openPlugins(page);
    await expect
      .poll(() => row(page, installedAs).textContent(), { timeout: 60_000 })
      .toMatch(/named itself "shifty-\w+" this time/);
    await page.locator('[data-test=pack-list] [data-test=pack-remove]').first().click();
    await expect.poll(() => stored(page)).toEqual([]);
    await page.reload();
    await runnable(page);
    await openPlugins(page);
    expect(await page.textContent('[data-test=plugins]')).toContain('No packs installed.');
    // No pack left: the worker is a plain one again.
    expect(await page.locator('iframe[data-test=run-sandbox]').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a pack that spins at its top level is left out after its deadline, the editor runs, and Remove takes it out; ?nopacks starts without packs', async () => {
    const { page, errors } = await editor.open('backend=wasm&size=32&fresh');
    await page.evaluate(
      (list) => localStorage.setItem('stylegraph.packs', JSON.stringify(list)),
      [record('/spin.js', 'spin', ['spin/x'])],
    );
    await page.reload();
    // The worker is ready before packs load, and a pack that does not answer in 15 s is left out in a new worker.
    await runnable(page);
    await openPlugins(page);
    await expect
      .poll(() => row(page, 'spin').textContent(), { timeout: 120_000 })
      .toMatch(/did not finish loading within 15 s/);
    await runnable(page);
    expect((await stored(page)).map((p) => [p.name, p.enabled])).toEqual([['spin', true]]);
    // ?nopacks: the plain worker, no pack code, every pack listed with Remove.
    await page.goto(page.url().replace(/\?.*$/, '?backend=wasm&size=32&fresh&nopacks'));
    await runnable(page, 60_000);
    expect(await page.locator('iframe[data-test=run-sandbox]').count()).toBe(0);
    await openPlugins(page);
    await expect.poll(() => row(page, 'spin').textContent()).toMatch(/packs off/);
    await row(page, 'spin').locator('[data-test=pack-remove]').click();
    await expect.poll(() => stored(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Stop ends a compute that never yields within seconds: the worker is replaced and the editor runs again', async () => {
    const { page, errors } = await editor.open('backend=wasm&size=32&fresh');
    await seeded(page, [record('/hostile.js', 'hostile', ['hostile/probe', 'hostile/spin'])]);
    // The pack's node types reached the palette.
    await page.waitForSelector('.palette [data-type="hostile/spin"]', { state: 'attached', timeout: 60_000 });
    const graph = JSON.stringify({
      format: 'stylegraph',
      version: 1,
      metadata: { title: 'spin' },
      packs: [{ name: 'hostile', version: '^1.0.0' }],
      nodes: [
        {
          id: 'content',
          type: 'image',
          position: { x: 0, y: 0 },
          params: { source: 'images/astronaut.jpg', slot: 'content' },
        },
        { id: 'spin', type: 'hostile/spin', position: { x: 300, y: 0 }, params: {} },
        { id: 'output', type: 'output', position: { x: 600, y: 0 }, params: {} },
      ],
      edges: [
        { from: { node: 'content', output: 'image' }, to: { node: 'spin', input: 'image' } },
        { from: { node: 'spin', output: 'image' }, to: { node: 'output', input: 'image' } },
      ],
    });
    await page.evaluate((text) => (window as unknown as Win).stylegraph.graph.open(text, 'spin.json'), graph);
    await expect.poll(() => page.locator('[data-test=run]').isEnabled(), { timeout: 60_000 }).toBe(true);
    await page.click('[data-test=run]');
    // Give the worker time to reach the node's compute (it loads the image first).
    await page.waitForTimeout(4000);
    expect(await page.evaluate(() => (window as unknown as Win).stylegraph.run.phase)).toBe('running');
    await page.click('[data-test=stop]');
    await expect
      .poll(() => notices(page), { timeout: 20_000 })
      .toContainEqual(expect.stringMatching(/did not stop within 1 s, so its worker was ended and a new one started/));
    await runnable(page);
    expect(await page.evaluate(() => (window as unknown as Win).stylegraph.run.phase)).toBe('ready');
    // The pack loads again in the new worker.
    await openPlugins(page);
    await expect
      .poll(() => row(page, 'hostile').locator('[data-test=pack-state]').textContent(), { timeout: 60_000 })
      .toMatch(/^\s*enabled\s*$/);
    expect(errors).toEqual([]);
    await page.close();
  });
});
