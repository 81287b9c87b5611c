import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';

/**
 * Issue 18, items 2-5, in the built editor at 1600x1000 (Debian's Chromium, wasm at 32 px): a readable first
 * view, the right-click menu's search, pasting into free space, the eye's preview covering no node, and the Gram
 * loss's inspector showing target, generated and difference. Screenshots go to test-results/.
 */
const editor = useEditor(['--no-first-run', '--disable-background-networking']);
const open = () =>
  editor.open('backend=wasm&size=32&fresh&preset=gatys.json', { viewport: { width: 1600, height: 1000 } });

type Rect = { x: number; y: number; width: number; height: number };
const overlap = (a: Rect, b: Rect) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
/** Screen boxes of every node on the canvas, by id. */
const nodeRects = (page: Page) =>
  page.$$eval('.sg-node', (els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { id: (e as HTMLElement).dataset.node!, x: r.x, y: r.y, width: r.width, height: r.height };
    }),
  );
const zoom = (page: Page) =>
  page.evaluate(
    () =>
      (window as unknown as { stylegraph: { canvas: { area: { area: { transform: { k: number } } } } } }).stylegraph
        .canvas.area.area.transform.k,
  );
const modelNodes = (page: Page) =>
  page.evaluate(() =>
    (
      window as unknown as { stylegraph: { graph: { model: { nodes: { id: string; type: string }[] } } } }
    ).stylegraph.graph.model.nodes.map((n) => ({ id: n.id, type: n.type })),
  );

describe('the editor at 1600x1000', () => {
  it('opens the Gatys graph at a readable zoom (>= 0.75), its start in view', async () => {
    const { page, errors } = await open();
    await page.screenshot({ path: `${shots}view-first.png` });
    expect(await zoom(page)).toBeGreaterThanOrEqual(0.75);
    const canvas = (await page.locator('[data-test=canvas]').boundingBox())!;
    const content = (await page.locator('[data-node=content]').boundingBox())!;
    expect(content.x).toBeGreaterThanOrEqual(canvas.x);
    expect(content.y).toBeGreaterThanOrEqual(canvas.y);
    // Node titles are about 13 px * zoom: readable, not the 5 px of a 0.44 fit.
    const title = await page.$eval('[data-node=content] .title', (e) => e.getBoundingClientRect().height);
    expect(title).toBeGreaterThanOrEqual(10);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('right-click, type "gram": the menu lists the Gram matrix and the Gram style loss, stays in the window, and Enter adds the first', async () => {
    const { page, errors } = await open();
    const canvas = (await page.locator('[data-test=canvas]').boundingBox())!;
    // Near the bottom-right corner, where a menu opening down and right would leave the window.
    await page.mouse.click(canvas.x + canvas.width - 30, canvas.y + canvas.height - 30, { button: 'right' });
    await page.waitForSelector('[data-test=canvas-menu]');
    await page.keyboard.type('gram');
    const items = await page.locator('[data-test=canvas-menu] .item .label').allTextContents();
    expect(items.slice(0, 2)).toEqual(['Gram matrix', 'Gram style loss']);
    const menu = (await page.locator('[data-test=canvas-menu]').boundingBox())!;
    expect(menu.x + menu.width).toBeLessThanOrEqual(1600);
    expect(menu.y + menu.height).toBeLessThanOrEqual(1000);
    await page.screenshot({ path: `${shots}menu-search-gram.png` });
    const before = await modelNodes(page);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      (n) =>
        (window as unknown as { stylegraph: { graph: { model: { nodes: unknown[] } } } }).stylegraph.graph.model.nodes
          .length ===
        n + 1,
      before.length,
    );
    const added = (await modelNodes(page)).filter((n) => !before.some((b) => b.id === n.id));
    expect(added.map((n) => n.type)).toEqual(['gram']);
    expect(await page.locator('[data-test=canvas-menu]').count()).toBe(0);
    // Escape closes without adding.
    await page.mouse.click(canvas.x + 200, canvas.y + canvas.height - 30, { button: 'right' });
    await page.keyboard.type('loss');
    expect(await page.locator('[data-test=canvas-menu] .item .label').allTextContents()).toContain('Content loss');
    await page.keyboard.press('Escape');
    expect(await page.locator('[data-test=canvas-menu]').count()).toBe(0);
    expect((await modelNodes(page)).length).toBe(before.length + 1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('pastes a copied node where the pointer is without covering other nodes, and the eye opens its preview beside it', async () => {
    const { page, errors } = await open();
    await page.click('[data-node=style_relu1_1] .head .title');
    await page.keyboard.press('Control+c');
    // The pointer over another node: the copy goes to the nearest free space instead.
    const target = (await page.locator('[data-node=style_relu2_1]').boundingBox())!;
    await page.mouse.move(target.x + 20, target.y + 20);
    await page.keyboard.press('Control+v');
    await page.waitForSelector('[data-node=style_relu1_1_2]');
    await page.waitForTimeout(300);
    const rects = await nodeRects(page);
    const pasted = rects.find((r) => r.id === 'style_relu1_1_2')!;
    expect(rects.filter((r) => r.id !== pasted.id && overlap(r, pasted)).map((r) => r.id)).toEqual([]);
    await page.screenshot({ path: `${shots}paste-free-space.png` });

    await page.fill('[data-test=steps]', '3');
    await page.dispatchEvent('[data-test=steps]', 'change');
    await page.click('[data-test=run]');
    await page.waitForFunction(
      () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
      null,
      { timeout: 120_000 },
    );
    expect(await page.textContent('[data-test=status]')).toMatch(/^done/);
    await page.click('[data-node=style_relu2_1] [data-test=eye]');
    await page.waitForSelector('[data-node=style_relu2_1] [data-test=node-preview] canvas');
    const pop = (await page.locator('[data-node=style_relu2_1] [data-test=node-preview]').boundingBox())!;
    expect(pop.height).toBeGreaterThan(40);
    const covered = (await nodeRects(page)).filter((r) => overlap(r, pop) && r.id !== 'style_relu2_1').map((r) => r.id);
    expect(covered).toEqual([]);
    await page.screenshot({ path: `${shots}eye-preview-beside.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a Gram loss's target, generated and difference Grams in the inspector, in view without scrolling the panel", async () => {
    const { page, errors } = await open();
    await page.fill('[data-test=steps]', '3');
    await page.dispatchEvent('[data-test=steps]', 'change');
    await page.click('[data-test=run]');
    await page.waitForFunction(
      () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
      null,
      { timeout: 120_000 },
    );
    expect(await page.textContent('[data-test=status]')).toMatch(/^done/);
    await page.click('[data-node=style_relu1_1] .head .title');
    await page.waitForSelector('[data-test=loss-compare]');
    for (const k of ['target', 'generated', 'difference']) {
      const c = page.locator(`[data-test=loss-compare] [data-gram=${k}] canvas`);
      expect(await c.evaluate((e) => (e as HTMLCanvasElement).width)).toBeGreaterThan(1);
      const box = (await c.boundingBox())!;
      // On screen as the panel opens: no scrolling past the output, the chart and the table.
      expect(box.y + box.height).toBeLessThanOrEqual(1000);
      expect(box.x + box.width).toBeLessThanOrEqual(1600);
    }
    // The generated image's Gram is not the target's: the difference is not all dark.
    const dark = await page.locator('[data-test=loss-compare] [data-gram=difference] canvas').evaluate((e) => {
      const c = e as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i]! + d[i + 1]! + d[i + 2]! > 200) lit++;
      return lit;
    });
    expect(dark).toBeGreaterThan(0);
    expect(await page.locator('[data-test=loss-compare] [data-stat=mean] rect').count()).toBeGreaterThan(0);
    expect(await page.textContent('[data-test=loss-compare]')).toMatch(/log scale/);
    expect(await page.$eval('[data-test=right-panel]', (e) => e.scrollTop)).toBe(0);
    await page.screenshot({ path: `${shots}gram-target-generated-difference.png` });
    expect(errors).toEqual([]);
    await page.close();
  });
});
