import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';
import { presetPicture, useMicroastMirror } from './microast-mirror';
import { colourDistance, resizeNearest, type Rgba } from '../picture-stats';

/**
 * Painted regions end to end: the MicroAST regions preset (painting A inside the region, B outside) opened in the
 * editor, two regions painted with the mouse in the mask painter (the preset's region cleared and filled, a second
 * region added and brushed across the middle, the bottom filled with it, undone and redone with the keys), Done as
 * one graph edit, then a run with MicroAST's real networks from ../shared/fixtures/microast through a loopback
 * mirror: the output's top half has colour statistics nearer painting A's and its bottom half nearer B's. Skipped
 * with a message where the fixtures are absent.
 */
const { present } = useMicroastMirror('mask-regions');
const editor = useEditor();

interface GraphView {
  nodes: { id: string; type: string; params: Record<string, unknown> }[];
  undoSteps: number;
}
/** The editor's graph, as plain data. */
const graphOf = (page: Page): Promise<GraphView> =>
  page.evaluate(() => {
    const g = (
      window as unknown as {
        stylegraph: { graph: { model: { nodes: GraphView['nodes'] }; past: unknown[] } };
      }
    ).stylegraph.graph;
    return { nodes: JSON.parse(JSON.stringify(g.model.nodes)) as GraphView['nodes'], undoSteps: g.past.length };
  });

/** The overlay's colour at a point of the painting (fractions of its width and height): the regions shown there. */
const overlayAt = (page: Page, fx: number, fy: number): Promise<number[]> =>
  page.evaluate(
    ([x, y]) => {
      const c = document.querySelector('[data-test=painter-canvas]') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(Math.floor(x! * c.width), Math.floor(y! * c.height), 1, 1).data;
      return [...d];
    },
    [fx, fy],
  );

/** How far the overlay's colour at a point is from `want` (the largest channel difference: the canvas keeps
 * colours premultiplied by alpha, so a half-opaque colour may come back one off). */
const offBy = async (page: Page, fx: number, fy: number, want: number[]) =>
  Math.max(...(await overlayAt(page, fx, fy)).map((v, i) => Math.abs(v - want[i]!)));

/** A grey PNG data: URL's pixels. */
function decodeMask(url: unknown): { width: number; height: number; grey: number[] } {
  const png = PNG.sync.read(Buffer.from(String(url).replace(/^data:image\/png;base64,/, ''), 'base64'));
  return { width: png.width, height: png.height, grey: [...png.data].filter((_, i) => i % 4 === 0) };
}

/** The mean grey of rows [from, to) of a mask. */
const rowsMean = (m: { width: number; grey: number[] }, from: number, to: number) =>
  m.grey.slice(from * m.width, to * m.width).reduce((a, v) => a + v, 0) / ((to - from) * m.width);

async function paintTwoRegions(page: Page) {
  const canvas = page.locator('[data-test=painter-canvas]');
  await canvas.waitFor({ timeout: 30_000 });
  const box = (await canvas.boundingBox())!;
  const size = await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  const scale = box.width / size[0]!;
  // Region 1 (the preset's "top"): cleared, then filled everywhere.
  await page.click('[data-test=painter-region-0]');
  await page.click('[data-test=painter-clear]');
  await page.click('[data-test=tool-fill]');
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 4);
  // Region 2, new: a 32 px brush across the middle with its upper edge on the middle row, then the bottom filled.
  await page.click('[data-test=painter-add]');
  await page.click('[data-test=tool-brush]');
  const y = box.y + (size[1]! / 2 + 16) * scale;
  await page.mouse.move(box.x + 1, y);
  await page.mouse.down();
  for (let k = 1; k <= 12; k++) await page.mouse.move(box.x + 1 + ((box.width - 2) * k) / 12, y);
  await page.mouse.up();
  await page.click('[data-test=tool-fill]');
  await page.mouse.click(box.x + box.width / 2, box.y + box.height * 0.9);
  return [size[0]!, size[1]!] as const;
}

describe.runIf(present)('painted regions', () => {
  it('paints two regions with the mouse, writes them as one edit, and each half of the run takes its painting', async () => {
    const { page, errors } = await editor.open('fresh&backend=wasm&size=128&preset=microast-regions.json', {
      runnable: false,
    });
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    const before = await graphOf(page);
    const regionNode = before.nodes.find((n) => n.id === 'region')!;
    expect(regionNode.type).toBe('mask');

    // A double-click on the region opens the painter; Cancel changes nothing.
    await page.click('[data-node="region"]', { position: { x: 60, y: 12 } });
    await page.dblclick('[data-node="region"]', { position: { x: 60, y: 12 } });
    await paintTwoRegions(page);
    await page.click('[data-test=painter-cancel]');
    expect(await page.locator('[data-test=mask-painter]').count()).toBe(0);
    expect(await graphOf(page)).toEqual(before);

    // The inspector's button opens it too.
    await page.click('[data-test=paint-regions]');
    const [w, h] = await paintTwoRegions(page);
    // Undo and redo with the keys: the bottom goes back to region 1's colour, then to region 2's.
    // Region 1 is #4f8cff, region 2 #ff5a5a, each at half opacity (alpha 128) over the photo.
    const top = [0x4f, 0x8c, 0xff, 128];
    const bottom = [0xff, 0x5a, 0x5a, 128];
    await expect.poll(() => offBy(page, 0.5, 0.1, top)).toBeLessThanOrEqual(2);
    await expect.poll(() => offBy(page, 0.5, 0.9, bottom)).toBeLessThanOrEqual(2);
    await page.keyboard.press('Control+z');
    await expect.poll(() => offBy(page, 0.5, 0.9, top)).toBeLessThanOrEqual(2);
    await page.keyboard.press('Control+Shift+z');
    await expect.poll(() => offBy(page, 0.5, 0.9, bottom)).toBeLessThanOrEqual(2);
    expect(await graphOf(page)).toEqual(before); // the painter's undo is not the graph's
    await page.screenshot({ path: `${shots}mask-regions-painter.png` });
    await page.click('[data-test=painter-done]');

    // One graph edit: the preset's region repainted, a second region added.
    const after = await graphOf(page);
    expect(after.undoSteps).toBe(before.undoSteps + 1);
    const regions = after.nodes.filter((n) => n.type === 'mask');
    expect(regions.map((n) => n.params.name)).toEqual(['top', 'region 2']);
    const [one, two] = regions.map((n) => decodeMask(n.params.source));
    // The astronaut is square: the masks are 384 x 384 like the photo (the preset's was 32 x 32).
    expect([one!.width, one!.height, two!.width, two!.height]).toEqual([w, h, w, h]);
    expect([w, h]).toEqual([384, 384]);
    expect(rowsMean(one!, 0, h / 2 - 1)).toBe(255);
    expect(rowsMean(one!, h / 2 + 1, h)).toBe(0);
    expect(rowsMean(two!, 0, h / 2 - 1)).toBe(0);
    expect(rowsMean(two!, h / 2 + 1, h)).toBe(255);

    await page.click('[data-test=first-picture-get]');
    await page.waitForFunction(
      () => /^done/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
      null,
      { timeout: 240_000 },
    );
    expect(await page.locator('[data-test=random-weights]').count()).toBe(0);
    await page.screenshot({ path: `${shots}mask-regions-result.png` });
    await page.locator('.output').screenshot({ path: `${shots}mask-regions-output.png` });
    const out = await page.evaluate(() => {
      const o = (
        window as unknown as {
          stylegraph: { run: { output: { data: Uint8ClampedArray; width: number; height: number } } };
        }
      ).stylegraph.run.output;
      return { data: Array.from(o.data), width: o.width, height: o.height };
    });
    const half = (from: number, to: number): Rgba => ({
      data: out.data.slice(from * out.width * 4, to * out.width * 4),
      width: out.width,
      height: to - from,
    });
    const [upper, lower] = [half(0, Math.floor(out.height / 2)), half(Math.ceil(out.height / 2), out.height)];
    const [a, b] = ['swirls.jpg', 'brick.jpg'].map((f) =>
      resizeNearest(presetPicture(f), out.width, Math.floor(out.height / 2)),
    );
    const d = {
      upperA: colourDistance(upper, a!),
      upperB: colourDistance(upper, b!),
      lowerA: colourDistance(lower, a!),
      lowerB: colourDistance(lower, b!),
    };
    console.log(`colour distances (mean and spread): ${JSON.stringify(d, (_, v: number) => v.toFixed?.(1) ?? v)}`);
    expect(d.upperA).toBeLessThan(d.upperB);
    expect(d.lowerB).toBeLessThan(d.lowerA);
    expect(errors).toEqual([]);
    await page.close();
  }, 360_000);
});
