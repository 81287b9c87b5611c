import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The built editor in Debian's Chromium (`npm run test:e2e` builds first). Functional checks run on wasm at
 * 64 px; webgl gets one tiny smoke run (a software GPU here is slow). Screenshots go to test-results/.
 */
const shots = new URL('../../test-results/', import.meta.url).pathname;
let server: PreviewServer;
let browser: Browser;
let base = '';

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  server = await preview({
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
    preview: { port: 0, host: '127.0.0.1' },
    // E2E_DIST=folder serves another build (as tests/e2e/editor.ts does).
    ...(process.env.E2E_DIST ? { build: { outDir: process.env.E2E_DIST } } : {}),
  });
  base = server.resolvedUrls!.local[0]!;
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
      '--enable-unsafe-webgpu',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => server?.httpServer.close(() => r()));
});

interface Editor {
  page: Page;
  errors: string[];
}

/**
 * A fresh browser profile on the editor; waits until the backend is up and Run is enabled. These tests work on the Gatys
 * preset (a first visit opens MicroAST): without a preset in the query, Gatys is asked for.
 */
async function open(query: string): Promise<Editor> {
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}?${query}${/(^|&)preset=/.test(query) ? '' : '&preset=gatys.json'}`);
  await page.waitForFunction(
    () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
    null,
    { timeout: 60_000 },
  );
  return { page, errors };
}

/** The store's view of the graph, read through the handle the app leaves on window for tests and the console. */
const model = (page: Page) =>
  page.evaluate(() => {
    const sg = (
      window as unknown as { stylegraph: { graph: { model: { nodes: { id: string }[]; edges: unknown[] } } } }
    ).stylegraph;
    return { nodes: sg.graph.model.nodes.map((n) => n.id), edges: sg.graph.model.edges.length };
  });

async function setSteps(page: Page, steps: number) {
  await page.fill('[data-test=steps]', String(steps));
  await page.dispatchEvent('[data-test=steps]', 'change');
}

const status = (page: Page) => page.textContent('[data-test=status]');
const finished = (page: Page) =>
  page.waitForFunction(
    () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
    null,
    { timeout: 120_000 },
  );

/** Drags a wire from one node's output socket to another's input socket with the mouse; `over` runs before the drop. */
async function drag(
  page: Page,
  from: [string, string],
  to: [string, string],
  over: () => Promise<void> = async () => {},
) {
  const a = (await page.locator(`[data-node="${from[0]}"] [data-output="${from[1]}"] .sg-socket`).boundingBox())!;
  const b = (await page.locator(`[data-node="${to[0]}"] [data-input="${to[1]}"] .sg-socket`).boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await over();
  await page.mouse.up();
}

describe('the editor', () => {
  it('opens the Gatys preset, runs 5 steps at 64 px on wasm, and updates the output, the loss chart and the previews', async () => {
    const { page, errors } = await open('backend=wasm&size=64');
    const m = await model(page);
    expect(m.nodes).toContain('content_loss');
    expect(await page.locator('.sg-node').count()).toBe(m.nodes.length);
    expect(await page.locator('[data-testid=connection]').count()).toBe(m.edges);
    expect(await page.textContent('.backend')).toContain('backend: wasm');
    // Shapes on the wires, channels first (conv4_2 at 64 px is 512x8x8).
    expect(await page.locator('.sg-wire .shape', { hasText: '512×8×8' }).count()).toBeGreaterThan(0);
    await page.screenshot({ path: `${shots}editor-before-run.png` });

    await setSteps(page, 5);
    await page.click('[data-test=run]');
    await finished(page);
    expect(await status(page)).toMatch(/^done after 5 steps/);
    expect(
      await page.$eval('[data-test=compare] canvas.current', (c) => [
        (c as HTMLCanvasElement).width,
        (c as HTMLCanvasElement).height,
      ]),
    ).toEqual([64, 64]);
    const points = await page.$eval(
      'polyline[data-series=total]',
      (p) => p.getAttribute('points')!.trim().split(/\s+/).length,
    );
    expect(points).toBe(6);
    expect(await page.textContent('[data-test=terms]')).toContain('content_loss');
    // Select the generated image's encoder: the inspector shows its feature-map channels.
    await page.click('[data-node="enc_x"] .head');
    await expect.poll(() => page.locator('.inspector [data-kind=features]').count()).toBe(1);
    await page.screenshot({ path: `${shots}editor-after-run.png` });

    // Changing a loss weight and running again reuses the images, encoder passes and style targets.
    await page.click('[data-node="tv"] .head');
    await page.fill('.inspector [data-test=param-weight] [data-test=number]', '0.5');
    await page.dispatchEvent('.inspector [data-test=param-weight] [data-test=number]', 'change');
    await setSteps(page, 2);
    await page.click('[data-test=run]');
    await finished(page);
    expect(await status(page)).toMatch(/^done after 2 steps.*reused \d+ earlier results/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('runs on tiles when asked (?tile=) and says so under the output', async () => {
    const { page, errors } = await open('backend=wasm&size=48&tile=176&fresh&preset=gatys.json');
    await setSteps(page, 1);
    await page.click('[data-test=run]');
    await finished(page);
    expect(await status(page)).toMatch(/^done after 1 step in/);
    expect(await page.textContent('[data-test=tiling]')).toBe('tiling 48x48 into 9 tiles of 16 px (+80 px halo)');
    await page.screenshot({ path: `${shots}editor-tiled.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('stops a long run within a step', async () => {
    const { page } = await open('backend=wasm&size=64');
    await setSteps(page, 500);
    await page.click('[data-test=run]');
    await page.waitForFunction(
      () => /^[1-9]\d*\/500/.test(document.querySelector('[data-test=stats]')?.textContent?.trim() ?? ''),
      null,
      { timeout: 60_000 },
    );
    await page.click('[data-test=stop]');
    await finished(page);
    expect(await status(page)).toMatch(/^stopped after \d+ steps/);
    await page.close();
  });

  it('refuses a wrong connection and says why, and wires a right one', async () => {
    const { page } = await open('backend=wasm&size=64');
    const before = await model(page);
    await drag(page, ['content', 'image'], ['content_loss', 'input'], async () => {
      // While the wire is in the air, sockets of another type say they cannot take it.
      const target = page.locator('[data-node="content_loss"] [data-input="input"]');
      expect(await target.getAttribute('class')).toMatch(/incompatible/);
      expect(await target.getAttribute('title')).toBe('a Image output cannot feed a Features input');
      expect(await page.locator('[data-node="tv"] [data-input="image"]').getAttribute('class')).not.toMatch(
        /incompatible/,
      );
    });
    expect(await page.locator('.socket-row.incompatible').count()).toBe(0);
    await expect
      .poll(() => page.textContent('[data-test=notice]'))
      .toMatch(/cannot connect: a Image output cannot feed a Features input/);
    expect((await model(page)).edges).toBe(before.edges);
    await page.screenshot({ path: `${shots}editor-refused.png` });
    // Style image into the TV loss's image input replaces the one edge that input takes.
    await drag(page, ['style', 'image'], ['tv', 'image']);
    await expect
      .poll(() =>
        page.evaluate(() =>
          (
            window as unknown as {
              stylegraph: { graph: { model: { edges: { from: { node: string }; to: { node: string } }[] } } };
            }
          ).stylegraph.graph.model.edges
            .filter((e) => e.to.node === 'tv')
            .map((e) => e.from.node),
        ),
      )
      .toEqual(['style']);
    await page.close();
  });

  it('deletes a node with the keyboard, brings it back with undo, and keeps the graph across a reload', async () => {
    const { page } = await open('backend=wasm&size=64');
    const before = await model(page);
    // The first view shows the graph's start at a readable zoom; F fits all of it, the last style loss included.
    await page.keyboard.press('f');
    await page.click('[data-node="style_relu5_1"] .head');
    await page.keyboard.press('Delete');
    await expect.poll(async () => (await model(page)).nodes.includes('style_relu5_1')).toBe(false);
    expect(await page.locator('[data-node="style_relu5_1"]').count()).toBe(0);
    await page.keyboard.press('Control+z');
    await expect.poll(() => model(page)).toEqual(before);
    await expect.poll(() => page.locator('[data-node="style_relu5_1"]').count()).toBe(1);

    // Bypass a term with B, then reload: the autosaved graph comes back as it was left.
    await page.click('[data-node="tv"] .head');
    await page.keyboard.press('b');
    await expect.poll(() => page.locator('[data-node="tv"].bypassed').count()).toBe(1);
    await page.waitForTimeout(600);
    // The editor opened again without a preset in its address: the autosaved graph comes back.
    await page.goto(`${base}?backend=wasm&size=64`);
    await page.waitForSelector('[data-node="tv"]');
    expect(await page.locator('[data-node="tv"].bypassed').count()).toBe(1);
    expect((await model(page)).nodes).toEqual(before.nodes);
    await page.screenshot({ path: `${shots}editor-reloaded.png` });
    await page.close();
  });

  it('groups a selection into one box and expands it again', async () => {
    const { page } = await open('backend=wasm&size=64');
    await page.click('[data-node="content"] .head');
    await page.click('[data-node="enc_content"] .head', { modifiers: ['Shift'] });
    // Dragging one node of the selection moves both by the same amount (one undo step).
    const positions = () =>
      page.evaluate(() =>
        Object.fromEntries(
          (
            window as unknown as {
              stylegraph: { graph: { model: { nodes: { id: string; position: { x: number; y: number } }[] } } };
            }
          ).stylegraph.graph.model.nodes
            .filter((n) => n.id === 'content' || n.id === 'enc_content')
            .map((n) => [n.id, n.position]),
        ),
      );
    const before = await positions();
    const head = (await page.locator('[data-node="content"] .head .title').boundingBox())!;
    await page.mouse.move(head.x + 5, head.y + 5);
    await page.mouse.down();
    await page.mouse.move(head.x + 65, head.y + 45, { steps: 6 });
    await page.mouse.up();
    await expect.poll(async () => (await positions()).content!.x).not.toBe(before.content!.x);
    const after = await positions();
    const moved = (id: string) =>
      [after[id]!.x - before[id]!.x, after[id]!.y - before[id]!.y].map((d) => Math.round(d));
    expect(moved('enc_content')).toEqual(moved('content'));
    expect(moved('content')[0]).toBeGreaterThan(0);
    await page.keyboard.press('Control+g');
    await expect.poll(() => page.locator('.sg-node.group').count()).toBe(1);
    expect(await page.locator('[data-node="content"]').count()).toBe(0);
    await page.fill('[data-test=group-title]', 'Content side');
    await page.dispatchEvent('[data-test=group-title]', 'change');
    await expect.poll(() => page.textContent('.sg-node.group .title')).toBe('Content side');
    await page.screenshot({ path: `${shots}editor-group.png` });
    await page.click('text=Ungroup');
    await expect.poll(() => page.locator('[data-node="content"]').count()).toBe(1);
    await page.close();
  });

  it('takes a dropped image on an image node, runs with it, and compares the result with a pinned one', async () => {
    const { page, errors } = await open('backend=wasm&size=48');
    await setSteps(page, 2);
    await page.click('[data-test=run]');
    await finished(page);
    await page.click('[data-test=pin]');
    const jpeg = readFileSync(new URL('../../presets/images/mosaic.jpg', import.meta.url)).toString('base64');
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'my painting.jpg', { type: 'image/jpeg' }));
      document
        .querySelector('[data-node="style"]')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, jpeg);
    const source = () =>
      page.evaluate(
        () =>
          (
            window as unknown as {
              stylegraph: { graph: { model: { nodes: { id: string; params: Record<string, unknown> }[] } } };
            }
          ).stylegraph.graph.model.nodes.find((n) => n.id === 'style')!.params.source,
      );
    await expect.poll(source).toMatch(/^upload:[0-9a-f]{12}\/my_painting\.jpg$/);
    await page.click('[data-test=run]');
    await finished(page);
    expect(await status(page)).toMatch(/^done after 2 steps/);
    // Both results in the wipe: moving the slider moves the clip.
    const wipe = page.locator('[data-test=compare] input.wipe');
    await wipe.fill('20');
    expect(
      await page.$eval('[data-test=compare] canvas.pinned', (c) => (c as HTMLCanvasElement).style.clipPath),
    ).toMatch(/80%/);
    // The style loss shows the Gram matrix it prepared from the new painting.
    await page.click('[data-node="style_relu1_1"] .head');
    await expect.poll(() => page.locator('.inspector [data-kind=gram]').count()).toBe(1);
    await page.screenshot({ path: `${shots}editor-compare.png` });
    // A link with the image inline would be too long: the editor says so and suggests a file.
    await page.check('[data-test=embed-images]');
    await page.click('text=Share link');
    await expect
      .poll(() => page.textContent('[data-test=notice]'))
      .toMatch(/longer than most chats and browsers take; save it as a file instead/);
    // Saved with "embed images", the file carries the dropped painting itself and runs in another browser.
    const [saved] = await Promise.all([page.waitForEvent('download'), page.click('text=Save')]);
    const text = readFileSync((await saved.path())!, 'utf8');
    expect(text).toMatch(/"source": "data:image\/jpeg;base64,/);
    const other = await browser.newPage();
    await other.goto(`${base}?backend=wasm&size=32`);
    await other.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    await other.setInputFiles('[data-test=open-file]', {
      name: 'shared.json',
      mimeType: 'application/json',
      buffer: Buffer.from(text),
    });
    await expect
      .poll(() =>
        other.evaluate(
          () =>
            (
              window as unknown as {
                stylegraph: { graph: { model: { nodes: { id: string; params: Record<string, unknown> }[] } } };
              }
            ).stylegraph.graph.model.nodes.find((n) => n.id === 'style')!.params.source,
        ),
      )
      .toMatch(/^data:image\/jpeg;base64,/);
    await other.click('[data-test=run]');
    await finished(other);
    expect(await status(other)).toMatch(/^done/);
    await other.close();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('exports a PNG with the graph inside; dropping it on the editor opens that graph', async () => {
    const { page } = await open('backend=wasm&size=32');
    await setSteps(page, 1);
    await page.click('[data-test=run]');
    await finished(page);
    await page.fill('.doc-title', 'Exported graph');
    await page.dispatchEvent('.doc-title', 'change');
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('text=Export PNG')]);
    const png = readFileSync((await file.path())!).toString('base64');
    await page.fill('.doc-title', 'Something else');
    await page.dispatchEvent('.doc-title', 'change');
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'result.png', { type: 'image/png' }));
      document
        .querySelector('[data-test=canvas]')!
        .dispatchEvent(
          new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true, clientX: 400, clientY: 300 }),
        );
    }, png);
    await expect.poll(() => page.inputValue('.doc-title')).toBe('Exported graph');
    await page.close();
  });

  it('opens a share link, and a broken one leaves the editor working', async () => {
    const { page } = await open('backend=wasm&size=32');
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.click('[data-test=presets]');
    await page.click('[data-preset="adain.json"]');
    await page.click('text=Share link');
    await expect.poll(() => page.textContent('[data-test=notice]')).toMatch(/copied/);
    const link = await page.evaluate(() => navigator.clipboard.readText());
    expect(link).toMatch(/#graph=/);
    const other = await browser.newPage();
    await other.goto(link.replace(/^https?:\/\/[^/]+\//, base).replace('/#', '/?backend=wasm#'));
    await other.waitForSelector('[data-node="adain"]');
    // A document is data: its strings render as text, and images elsewhere are fetched only with consent.
    const evil = '<img src=x onerror="window.__pwned=1">';
    const crafted = await page.evaluate(async (text) => {
      const sg = (
        window as unknown as {
          stylegraph: {
            graph: {
              setMetadata(m: object): void;
              setTitle(id: string, t: string): void;
              setParam(n: string, p: string, v: unknown): void;
              documentText(): string;
            };
          };
        }
      ).stylegraph.graph;
      sg.setMetadata({ title: text, description: text });
      sg.setTitle('adain', text);
      sg.setParam('style', 'source', 'https://images.example.invalid/painting.jpg');
      await navigator.clipboard.writeText('');
      return sg.documentText();
    }, evil);
    expect(crafted).toContain('images.example.invalid');
    await page.click('text=Share link');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toMatch(/#graph=/);
    const evilLink = await page.evaluate(() => navigator.clipboard.readText());
    const victim = await browser.newPage();
    const victimErrors: string[] = [];
    victim.on('pageerror', (e) => victimErrors.push(e.message));
    const requests: string[] = [];
    victim.on('request', (r) => requests.push(r.url()));
    await victim.goto(evilLink.replace(/^https?:\/\/[^/]+\//, base).replace('/#', '/?backend=wasm#'));
    await victim.waitForSelector('[data-node="adain"]');
    await victim.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    expect(await victim.inputValue('.doc-title')).toBe(evil);
    expect(await victim.textContent('[data-node="adain"] .title')).toBe(evil);
    await victim.click('[data-test=run]');
    await expect
      .poll(() => victim.textContent('[data-test=fetch-consent]'))
      .toContain('https://images.example.invalid');
    await victim.click('[data-test=fetch-deny]');
    await expect
      .poll(() => victim.textContent('[data-test=status]'))
      .toMatch(/not run: the graph reads from https:\/\/images.example.invalid/);
    expect(await victim.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(requests.filter((u) => u.includes('example.invalid'))).toEqual([]);
    expect(victimErrors).toEqual([]);
    await victim.close();

    const bad = await browser.newPage();
    await bad.goto(`${base}?backend=wasm#graph=%%%not-base64`);
    await expect.poll(() => bad.textContent('[data-test=notice]')).toMatch(/the link does not hold a graph/);
    expect(await bad.locator('.sg-node').count()).toBeGreaterThan(0);
    await Promise.all([other.close(), bad.close(), page.close()]);
  });

  it('teaches a lesson step by step and runs its sweep into a contact sheet', async () => {
    const { page, errors } = await open('backend=wasm&size=32&preset=lesson-style-by-layer.json&teach');
    await expect.poll(() => page.textContent('[data-test=lesson-position]')).toBe('Step 1 of 6');
    expect(await page.textContent('[data-test=lesson-text]')).toMatch(/which layers carry its style/);
    await page.click('[data-test=lesson-next]');
    expect(await page.textContent('[data-test=lesson-title]')).toMatch(/enc_style/);
    expect(await page.locator('.palette').count()).toBe(0);
    expect(await page.isChecked('[data-test=sweep]')).toBe(true);
    await setSteps(page, 2);
    await page.click('[data-test=run]');
    await finished(page);
    expect(await status(page)).toMatch(/^done/);
    // Five 32 px tiles side by side with their labels: the sheet is wider than five tiles.
    const [w, h] = await page.$eval('[data-test=compare] canvas.current', (c) => [
      (c as HTMLCanvasElement).width,
      (c as HTMLCanvasElement).height,
    ]);
    expect(w).toBeGreaterThan(5 * 32);
    expect(h).toBeGreaterThan(32);
    await page.screenshot({ path: `${shots}editor-lesson.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('installs the example node pack from a URL after consent, adds a WCT node from the palette, wires it and runs', async () => {
    // The pack on another origin, as a user would host it.
    const source = readFileSync(new URL('../../examples/pack-wct/index.js', import.meta.url), 'utf8');
    const packServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' });
      res.end(source);
    });
    await new Promise<void>((r) => packServer.listen(0, '127.0.0.1', () => r()));
    const packUrl = `http://127.0.0.1:${(packServer.address() as AddressInfo).port}/pack-wct.js`;
    try {
      const { page, errors } = await open('backend=wasm&size=32');
      await page.click('[data-test=plugins-open]');
      await page.fill('[data-test=pack-url]', packUrl);
      await page.click('[data-test=pack-install]');
      await expect.poll(() => page.textContent('[data-test=consent]')).toContain(new URL(packUrl).origin);
      expect(await page.locator('.palette [data-type="wct/whiten-colour"]').count()).toBe(0);
      await page.screenshot({ path: `${shots}editor-consent.png` });
      await page.click('[data-test=consent-allow]');
      await expect
        .poll(() => page.textContent('[data-test=pack-list]'))
        .toMatch(/wct 1\.0\.0[\s\S]*wct\/whiten-colour, wct\/histogram-loss[\s\S]*enabled/);
      await page.click('[data-test=plugins] header button');

      await page.click('[data-test=presets]');
      await page.click('[data-preset="wct-pack.json"]');
      await page.waitForSelector('[data-node="hist_relu1_1"]');
      expect(await page.locator('[data-test=missing-packs]').count()).toBe(0);
      // Replace the preset's WCT node with one from the palette, wired by hand.
      await page.click('[data-node="wct"] .head');
      await page.keyboard.press('Delete');
      await page.click('.palette [data-type="wct/whiten-colour"]');
      const id = 'wct_whiten-colour';
      await page.waitForSelector(`[data-node="${id}"]`);
      await page.click('text=Arrange');
      await page.keyboard.press('f');
      await drag(page, ['enc_c_wct', 'relu4_1'], [id, 'content']);
      await drag(page, ['enc_s_wct', 'relu4_1'], [id, 'style']);
      await drag(page, [id, 'features'], ['decoder', 'features']);
      await expect.poll(() => page.locator('[data-test=run]').isEnabled()).toBe(true);
      await setSteps(page, 2);
      await page.click('[data-test=run]');
      await finished(page);
      expect(await status(page)).toMatch(/^done after 2 steps/);
      await page.screenshot({ path: `${shots}editor-pack.png` });
      // The pack stays installed across a reload (without a preset in the address: the autosaved graph), and the worker has it again.
      await page.goto(`${base}?backend=wasm&size=32`);
      await page.waitForFunction(
        () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
        null,
        { timeout: 60_000 },
      );
      await page.waitForSelector(`[data-node="${id}"]:not(.placeholder)`);
      await page.click('[data-test=run]');
      await finished(page);
      expect(await status(page)).toMatch(/^done/);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      packServer.close();
    }
  });

  const darknet = new URL('../../../shared/fixtures/darknet-tiny-imagenet/', import.meta.url).pathname;
  it.skipIf(!existsSync(darknet))(
    'taps a real tfjs model (Darknet-tiny from another site) after consent, picking layers with their shapes',
    async () => {
      const server = createServer((req, res) => {
        const file = join(darknet, basename(new URL(req.url!, 'http://x').pathname));
        if (!existsSync(file)) return void res.writeHead(404).end();
        res.writeHead(200, {
          'access-control-allow-origin': '*',
          'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        });
        res.end(readFileSync(file));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.json`;
      try {
        const { page, errors } = await open('backend=wasm&size=224');
        const enc = { model: url, taps: 'leaky_re_lu_1' };
        const doc = {
          format: 'stylegraph',
          version: 1,
          metadata: { title: 'Darknet texture' },
          nodes: [
            { id: 'style', type: 'image', params: { source: 'images/mosaic.jpg' } },
            { id: 'x', type: 'variable', params: { init: 'noise' } },
            { id: 'ex', type: 'tfjs-encoder', params: enc },
            { id: 'es', type: 'tfjs-encoder', params: enc },
            { id: 's1', type: 'style-loss', params: { normalisation: 'johnson' } },
            { id: 'o', type: 'optimiser', params: { method: 'adam', steps: 2, learningRate: 0.02 } },
            { id: 'out', type: 'output' },
          ],
          edges: [
            ['style.image', 'x.content'],
            ['x.image', 'ex.image'],
            ['style.image', 'es.image'],
            ['ex.leaky_re_lu_1', 's1.input'],
            ['es.leaky_re_lu_1', 's1.target'],
            ['x.image', 'o.variable'],
            ['s1.loss', 'o.loss'],
            ['o.image', 'out.image'],
          ].map(([a, b]) => ({
            from: { node: a!.split('.')[0], output: a!.split('.')[1] },
            to: { node: b!.split('.')[0], input: b!.split('.')[1] },
          })),
        };
        await page.setInputFiles('[data-test=open-file]', {
          name: 'darknet.json',
          mimeType: 'application/json',
          buffer: Buffer.from(JSON.stringify(doc)),
        });
        await page.waitForSelector('[data-node="ex"]');
        // Nothing is fetched from the model's site before the user allows it; Run says why it cannot start.
        await expect.poll(() => page.textContent('[data-test=remote-origins]')).toContain(new URL(url).origin);
        expect(await page.isDisabled('[data-test=run]')).toBe(true);
        await page.click('[data-test=allow-remote]');
        await page.click('[data-node="ex"] .head');
        const picker = page.locator('.inspector [data-test=param-taps]');
        await expect.poll(() => picker.textContent(), { timeout: 30_000 }).toMatch(/leaky_re_lu_4\s*128×56×56/);
        await picker.locator('label[data-layer="leaky_re_lu_4"] input').check();
        await expect
          .poll(() =>
            page.evaluate(
              () =>
                (
                  window as unknown as {
                    stylegraph: { graph: { model: { nodes: { id: string; params: Record<string, unknown> }[] } } };
                  }
                ).stylegraph.graph.model.nodes.find((n) => n.id === 'ex')!.params.taps,
            ),
          )
          .toBe('leaky_re_lu_1, leaky_re_lu_4');
        await expect.poll(() => page.locator('[data-node="ex"] [data-output="leaky_re_lu_4"]').count()).toBe(1);
        await page.screenshot({ path: `${shots}editor-tfjs-model.png` });
        await page.click('[data-test=run]');
        await finished(page);
        expect(await status(page)).toMatch(/^done after 2 steps/);
        expect(errors).toEqual([]);
        await page.close();
      } finally {
        server.close();
      }
    },
  );

  it('keeps a picked checkpoint in IndexedDB across a reload, and refuses a bad one', async () => {
    const { page } = await open('backend=wasm&size=64');
    // The panel is open; the browser's cache (list, load a file under a name) is folded inside it.
    await page.click('.weights .cache summary');
    await page.selectOption('[data-test=weights-name]', 'adain-decoder');
    await page.setInputFiles(
      '[data-test=weights-file]',
      new URL('../fixtures/decoder-tiny.pth', import.meta.url).pathname,
    );
    await expect.poll(() => page.textContent('[data-test=weights-list]')).toMatch(/adain-decoder: decoder-tiny.pth/);
    await page.setInputFiles(
      '[data-test=weights-file]',
      new URL('../fixtures/malicious.pth', import.meta.url).pathname,
    );
    await expect.poll(() => page.textContent('[data-test=weights-error]')).toMatch(/refused/);
    await page.reload();
    await page.waitForSelector('.weights .cache summary');
    await page.click('.weights .cache summary');
    await expect.poll(() => page.textContent('[data-test=weights-list]')).toMatch(/adain-decoder: decoder-tiny.pth/);
    await page.close();
  });

  it('runs on webgl (smoke, 32 px, one step)', async () => {
    const { page } = await open('backend=webgl&size=32');
    expect(await page.textContent('.backend')).toContain('backend: webgl');
    await setSteps(page, 1);
    await page.click('[data-test=run]');
    await finished(page);
    expect(await status(page)).toMatch(/^done after 1 step in/);
    await page.close();
  });
});
