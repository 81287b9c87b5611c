import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';

/**
 * Issue 28 item 8, words and layout a new user trips on: a one-pass graph's status and chart, warnings that name
 * nodes by their titles, the camera node's source, the mean/std legend's colours, AdaIN's socket labels, and the
 * canvas menu near the bottom of the window.
 */
const editor = useEditor();

type Store = { stylegraph: { graph: { model: { nodes: unknown[] }; commit(m: unknown): void; selection: string[] } } };
const finished = (page: Page) =>
  page.waitForFunction(
    () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
    null,
    {
      timeout: 180_000,
    },
  );

describe('words and layout (issue 28 item 8)', () => {
  it('a one-pass graph says "done" and "one pass", never "after 0 steps" or "no steps yet"', async () => {
    const { page, errors } = await editor.open('preset=adain.json&backend=wasm&size=32&fresh');
    await page.click('[data-test=run]');
    await finished(page);
    const status = (await page.textContent('[data-test=status]'))!;
    expect(status).toMatch(/^done in \d+\.\d s \(one pass\)/);
    expect(status).not.toMatch(/0 steps/);
    const chart = (await page.textContent('[data-test=loss-chart]'))!;
    expect(chart).toMatch(/one pass/);
    expect(chart).not.toMatch(/no steps yet/);
    await page.locator('.output').screenshot({ path: `${shots}one-pass-status.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the inspector names a loose Gram matrix by its title, not by `$.nodes[17]: node "gram"`', async () => {
    const { page, errors } = await editor.open('preset=gatys.json&backend=wasm&size=32');
    await page.evaluate(() => {
      const g = (window as unknown as Store).stylegraph.graph;
      g.commit({
        ...g.model,
        nodes: [...g.model.nodes, { id: 'gram', type: 'gram', position: { x: 40, y: 40 }, params: {} }],
      });
      g.selection = ['gram'];
    });
    const own = page.locator('[data-test=node-problem]');
    await own.first().waitFor();
    for (const text of await own.allTextContents()) {
      expect(text).not.toMatch(/\$\.nodes|"gram"/);
      expect(text).toMatch(/Gram matrix/);
    }
    await page.locator('.inspector').screenshot({ path: `${shots}inspector-warning-title.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the camera node says where its frames come from', async () => {
    const { page, errors } = await editor.open('preset=adain-camera.json&backend=wasm&size=32');
    const text = (await page.textContent('[data-node=camera] .params'))!.replace(/\s+/g, ' ').trim();
    expect(text).toMatch(/^frames live camera/);
    expect(text).not.toMatch(/camera:$/);
    await page.locator('[data-node=camera]').screenshot({ path: `${shots}camera-node.png` });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("AdaIN's socket labels are read whole and do not overlap, in every node of the AdaIN presets", async () => {
    for (const preset of ['adain.json', 'adain-camera.json', 'gatys.json']) {
      const { page, errors } = await editor.open(`preset=${preset}&backend=wasm&size=32`);
      const problems = await page.evaluate(() => {
        const out: string[] = [];
        for (const n of document.querySelectorAll('.sg-node')) {
          const id = n.getAttribute('data-node');
          const labels = [...n.querySelectorAll<HTMLElement>('.socket-row .label')];
          for (const l of labels) if (l.scrollWidth > l.clientWidth + 1) out.push(`${id}: "${l.textContent}" is cut`);
          const boxes = labels.map((l) => [l.textContent, l.getBoundingClientRect()] as const);
          for (let i = 0; i < boxes.length; i++)
            for (let j = i + 1; j < boxes.length; j++) {
              const [a, r] = boxes[i]!;
              const [b, s] = boxes[j]!;
              if (r.right > s.left && r.left < s.right && r.bottom > s.top && r.top < s.bottom)
                out.push(`${id}: "${a}" overlaps "${b}"`);
            }
        }
        return out;
      });
      expect(problems, preset).toEqual([]);
      if (preset === 'adain.json') {
        const adain = await page.textContent('[data-node=adain] [data-test=node-io]');
        expect(adain).toMatch(/mask \(white: style\)/);
        expect(adain).toMatch(/style outside the mask/);
        await page.locator('[data-node=adain]').screenshot({ path: `${shots}adain-socket-labels.png` });
      }
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it("a wire's shape label is drawn once per output, and never under the nodes a short wire joins", async () => {
    const labelsOf = (page: Page) =>
      page.evaluate(() => {
        const nodes = [...document.querySelectorAll('.sg-node')].map((n) => n.getBoundingClientRect());
        const out: Record<string, { wires: number; labels: string[]; underNode: string[] }> = {};
        for (const w of document.querySelectorAll('.sg-wire')) {
          const from = w.getAttribute('data-edge')!.split('>')[0]!;
          const o = (out[from] ??= { wires: 0, labels: [], underNode: [] });
          o.wires++;
          for (const t of w.querySelectorAll('.shape')) {
            o.labels.push(t.textContent ?? '');
            const r = t.getBoundingClientRect();
            if (nodes.some((n) => r.right > n.left && r.left < n.right && r.bottom > n.top && r.top < n.bottom))
              o.underNode.push(t.textContent ?? '');
          }
        }
        return out;
      });
    // sanet-regions: the content encoder's relu4_1 and relu5_1 each feed both SANet nodes.
    const fanning = await editor.open('preset=sanet-regions.json&backend=wasm&size=32');
    await fanning.page.waitForSelector('.sg-wire .shape');
    const fans = Object.entries(await labelsOf(fanning.page)).filter(([, o]) => o.wires > 1);
    expect(fans.length).toBeGreaterThanOrEqual(2);
    for (const [from, o] of fans) expect(o.labels.length, from).toBeLessThanOrEqual(1);
    await fanning.page.locator('[data-test=canvas]').screenshot({ path: `${shots}wire-labels-once.png` });
    expect(fanning.errors).toEqual([]);
    await fanning.page.close();
    // fast-style at 128 px: three nodes in neighbouring columns; "3×128×128" was drawn half under them.
    const short = await editor.open('preset=fast-style.json&backend=wasm&size=128');
    await short.page.waitForSelector('[data-node=network] [data-output=image] small');
    const wires = await labelsOf(short.page);
    expect(Object.keys(wires).length).toBe(2);
    for (const [from, o] of Object.entries(wires)) expect(o.underNode, from).toEqual([]);
    expect(short.errors).toEqual([]);
    await short.page.close();
  });

  it('the canvas menu opens next to a right-click near the bottom, and stays next to it as a search shortens it', async () => {
    const { page, errors } = await editor.open('preset=gatys.json&backend=wasm&size=32', {
      viewport: { width: 1500, height: 950 },
    });
    const canvas = (await page.locator('[data-test=canvas]').boundingBox())!;
    const at = { x: canvas.x + 200, y: canvas.y + canvas.height - 30 };
    await page.mouse.click(at.x, at.y, { button: 'right' });
    await page.waitForSelector('[data-test=canvas-menu]');
    /** How far the pointer is from the menu's rows (0: beside or over them), and whether it is inside the window. */
    const check = async () => {
      const box = (await page.locator('[data-test=canvas-menu]').boundingBox())!;
      const gap = at.y < box.y ? box.y - at.y : at.y > box.y + box.height ? at.y - (box.y + box.height) : 0;
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height).toBeLessThanOrEqual(950);
      expect(box.x + box.width).toBeLessThanOrEqual(1500);
      return gap;
    };
    expect(await check()).toBeLessThanOrEqual(8);
    await page.keyboard.type('gram');
    await expect.poll(() => page.locator('[data-test=canvas-menu] .item').count()).toBeLessThan(6);
    await expect.poll(check).toBeLessThanOrEqual(8);
    await page.screenshot({ path: `${shots}menu-near-bottom.png` });
    await page.keyboard.press('Escape');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the mean/std legend shows the colours the bars are drawn in', async () => {
    const { page, errors } = await editor.open('preset=gatys.json&backend=wasm&size=32');
    await page.fill('[data-test=steps]', '2');
    await page.dispatchEvent('[data-test=steps]', 'change');
    await page.click('[data-test=run]');
    await finished(page);
    await page.evaluate(() => ((window as unknown as Store).stylegraph.graph.selection = ['style_relu1_1']));
    await page.waitForSelector('[data-test=stats-legend]');
    const colours = await page.evaluate(() => {
      const fill = (el: Element | null) => (el ? getComputedStyle(el).fill : null);
      const bars = document.querySelector('[data-test=loss-compare] .bars')!;
      const legend = document.querySelector('[data-test=stats-legend]')!;
      return Object.fromEntries(
        ['t', 'g', 'up', 'down'].map((c) => [
          c,
          { bar: fill(bars.querySelector(`rect.${c}`)), legend: fill(legend.querySelector(`[data-legend=${c}] rect`)) },
        ]),
      );
    });
    for (const [cls, c] of Object.entries(colours)) if (c.bar) expect(c.legend, cls).toBe(c.bar);
    // The four are told apart: no two share a colour.
    expect(new Set(Object.values(colours).map((c) => c.legend)).size).toBe(4);
    expect(colours.t!.bar && colours.g!.bar).toBeTruthy();
    await page.locator('[data-test=loss-compare]').screenshot({ path: `${shots}mean-std-legend.png` });
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);
});
