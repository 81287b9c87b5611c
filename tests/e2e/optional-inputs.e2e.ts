import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';

/**
 * Optional inputs nothing feeds (a loss's weight and mask) are drawn on small, muted rows below the others
 * (src/editor/view.ts, `compact`), and are still sockets: a wire dropped on one connects it, and the input then
 * takes an ordinary row with the wire ending on its socket.
 */
const editor = useEditor();

type Store = {
  stylegraph: { graph: { model: { edges: { from: { node: string }; to: { node: string; input: string } }[] } } };
};
type Canvas = { stylegraph: { canvas: { toGraph(x: number, y: number): { x: number; y: number } } } };
const feeds = (page: Page, node: string, input: string) =>
  page.evaluate(
    ([n, i]) =>
      (window as unknown as Store).stylegraph.graph.model.edges
        .filter((e) => e.to.node === n && e.to.input === i)
        .map((e) => e.from.node),
    [node, input] as const,
  );

const centre = async (page: Page, selector: string) => {
  const b = (await page.locator(selector).boundingBox())!;
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
};

describe('optional inputs nothing feeds', () => {
  it('are small rows that still take a wire, and become ordinary rows once wired', async () => {
    const { page, errors } = await editor.open('preset=gatys.json&backend=wasm&size=32');
    const mask = '[data-node="content_loss"] [data-input="mask"]';
    const row = (selector: string) =>
      page.$eval(selector, (el) => ({
        compact: el.hasAttribute('data-compact'),
        height: el.getBoundingClientRect().height,
      }));
    const input = await row('[data-node="content_loss"] [data-input="input"]');
    const before = await row(mask);
    expect(input.compact).toBe(false);
    expect(before.compact).toBe(true);
    expect(before.height).toBeLessThan(input.height * 0.8);
    // Every label of the node is whole, the optional ones' included.
    expect(await page.textContent('[data-node="content_loss"] [data-test=node-io]')).toMatch(
      /mask \(where it applies\)/,
    );
    await page.locator('[data-node="content_loss"]').screenshot({ path: `${shots}optional-inputs-compact.png` });

    // Drag the style picture's output onto the compact mask socket with the mouse.
    const from = await centre(page, '[data-node="style"] [data-output="image"] .sg-socket');
    const to = await centre(page, `${mask} .sg-socket`);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 5 });
    await page.mouse.move(to.x, to.y, { steps: 5 });
    // In the air, an Image wire lights the mask row and dims the Scalar weight row.
    expect(await page.getAttribute(mask, 'class')).toMatch(/accepts/);
    expect(await page.getAttribute('[data-node="content_loss"] [data-input="weight"]', 'class')).toMatch(
      /incompatible/,
    );
    await page.mouse.up();
    await expect.poll(() => feeds(page, 'content_loss', 'mask')).toEqual(['style']);

    // Redrawn with the mask on an ordinary row; the wire ends on its socket, not where the compact row was.
    await expect.poll(async () => (await row(mask)).compact).toBe(false);
    expect((await row(mask)).height).toBeCloseTo(input.height, 0);
    // The wire's end (its path's last point, in graph units) is level with the socket's centre, 12 units to its
    // left as rete draws every input's wire; the compact row's socket was 12 units higher, so a stale end fails.
    const socket = await centre(page, `${mask} .sg-socket`);
    await expect
      .poll(() =>
        page.evaluate(
          ({ x, y }) => {
            const sg = (window as unknown as Canvas).stylegraph;
            const at = sg.canvas.toGraph(x, y);
            const d = document.querySelector('[data-edge="style.image>content_loss.mask"] path')?.getAttribute('d');
            const end = d
              ?.trim()
              .split(/[\s,]+/)
              .slice(-2)
              .map(Number);
            if (!end) return 'no wire';
            const [dx, dy] = [at.x - end[0]!, Math.abs(at.y - end[1]!)];
            return dy < 1 && Math.abs(dx - 12) < 2 ? 'on the socket' : `off by ${dx.toFixed(1)}, ${dy.toFixed(1)}`;
          },
          { x: socket.x, y: socket.y },
        ),
      )
      .toBe('on the socket');
    await page.locator('[data-node="content_loss"]').screenshot({ path: `${shots}optional-inputs-wired.png` });
    expect(errors).toEqual([]);
    await page.close();
  });
});
