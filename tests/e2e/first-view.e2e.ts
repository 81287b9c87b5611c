import { readdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';

/**
 * Issue 28, item 5: every shipped preset opens at 1600x1000 with its whole path in view, from the inputs to the
 * output, at a readable zoom and clear of the panels and the minimap (the rest is a pan away). Readable: a zoom of
 * at least 0.75 (READABLE_ZOOM in src/editor/canvas/canvas.ts), where a node's 13 px title is drawn about 10 px
 * tall. Inputs are the nodes nothing feeds; the output is the output node, or in a graph without one (training)
 * the nodes that feed nothing. No socket of any node is under the minimap. A screenshot of each first view goes to test-results/first-view-NAME.png.
 */
const editor = useEditor(['--no-first-run', '--disable-background-networking']);
const presets = readdirSync(new URL('../../presets/', import.meta.url)).filter((f) => f.endsWith('.json'));
const MIN_ZOOM = 0.75;

type Rect = { x: number; y: number; width: number; height: number };
const inside = (a: Rect, b: Rect) =>
  a.x >= b.x - 0.5 &&
  a.y >= b.y - 0.5 &&
  a.x + a.width <= b.x + b.width + 0.5 &&
  a.y + a.height <= b.y + b.height + 0.5;
const overlap = (a: Rect, b: Rect) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

interface FirstView {
  zoom: number;
  canvas: Rect;
  covers: Record<string, Rect>;
  nodes: Record<string, Rect>;
  inputs: string[];
  outputs: string[];
  title: number;
  /** Sockets the minimap covers (of any node, not only the ends). */
  socketsUnderMinimap: number;
}

/** What the page shows once the canvas is drawn: node boxes, what floats over or beside the canvas, and the ends. */
async function firstView(page: Page): Promise<FirstView> {
  return page.evaluate(() => {
    type View = {
      nodes: { id: string; type: string; role?: string }[];
      edges: { from: { node: string }; to: { node: string } }[];
    };
    const sg = (
      window as unknown as {
        stylegraph: { graph: { view: View }; canvas: { area: { area: { transform: { k: number } } } } };
      }
    ).stylegraph;
    const rect = (e: Element | null): { x: number; y: number; width: number; height: number } => {
      const r = e!.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const view = sg.graph.view;
    const fed = new Set(view.edges.map((e) => e.to.node));
    const feeding = new Set(view.edges.map((e) => e.from.node));
    // The ends the editor fits: nodes of the output role (a result, saved weights), as src/editor/first-view.ts.
    const outputNodes = view.nodes.filter((n) => n.role === 'output');
    const outputs = (outputNodes.length ? outputNodes : view.nodes.filter((n) => !feeding.has(n.id))).map((n) => n.id);
    const nodes: Record<string, { x: number; y: number; width: number; height: number }> = {};
    for (const e of document.querySelectorAll<HTMLElement>('.sg-node')) nodes[e.dataset.node!] = rect(e);
    const covers: Record<string, { x: number; y: number; width: number; height: number }> = {
      'right panel': rect(document.querySelector('[data-test=right-panel]')),
      minimap: rect(document.querySelector('[data-testid=minimap]')),
      header: rect(document.querySelector('header.top')),
    };
    const palette = document.querySelector('.app > .left');
    if (palette) covers.palette = rect(palette);
    const titles = [...document.querySelectorAll('.sg-node .title')].map((t) => t.getBoundingClientRect().height);
    const m = covers.minimap!;
    const socketsUnderMinimap = [...document.querySelectorAll('.sg-socket')].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.x < m.x + m.width && m.x < r.right && r.y < m.y + m.height && m.y < r.bottom;
    }).length;
    return {
      zoom: sg.canvas.area.area.transform.k,
      canvas: rect(document.querySelector('[data-test=canvas]')),
      covers,
      nodes,
      inputs: view.nodes.filter((n) => !fed.has(n.id)).map((n) => n.id),
      outputs,
      title: Math.min(...titles),
      socketsUnderMinimap,
    };
  });
}

describe('every preset opens with its inputs and output in view (1600x1000)', () => {
  it.each(presets)(
    '%s',
    async (preset) => {
      const { page, errors } = await editor.open(`backend=wasm&size=32&fresh&preset=${preset}`, {
        viewport: { width: 1600, height: 1000 },
        runnable: false,
      });
      // The canvas is drawn and fitted once the stores are on the window; the minimap draws a frame or two later.
      await page.waitForFunction(() => !!(window as unknown as { stylegraph?: unknown }).stylegraph, null, {
        timeout: 60_000,
      });
      await page.waitForSelector('[data-testid=minimap]');
      await page.waitForTimeout(500);
      const v = await firstView(page);
      await page.screenshot({ path: `${shots}first-view-${preset.replace(/\.json$/, '')}.png` });
      expect(v.zoom, 'zoom').toBeGreaterThanOrEqual(MIN_ZOOM - 1e-6);
      expect(v.title, 'title height in px').toBeGreaterThanOrEqual(9.5);
      expect(v.inputs.length).toBeGreaterThan(0);
      expect(v.outputs.length).toBeGreaterThan(0);
      const hidden: string[] = [];
      for (const id of [...v.inputs, ...v.outputs]) {
        const box = v.nodes[id];
        if (!box) hidden.push(`${id}: not drawn`);
        else if (!inside(box, v.canvas)) hidden.push(`${id}: outside the canvas`);
        else
          for (const [what, r] of Object.entries(v.covers))
            if (overlap(box, r)) hidden.push(`${id}: under the ${what}`);
      }
      expect(hidden).toEqual([]);
      expect(errors).toEqual([]);
      await page.close();
    },
    120_000,
  );
});
