/**
 * How a big shared link (issue 16) holds up the editor's page: a link carrying a chain of N weighted sums without a
 * layout is opened in headless Chromium, for each build given; the page records the gaps between animation frames
 * and the long tasks (over 50 ms) from its first script until every node is drawn (or the link is refused).
 * One run of each; the machine's load average is printed with them (timings on a shared machine are rough).
 *
 *   npx tsx scripts/bench-share-link.ts --build FOLDER [--build FOLDER ...] [--nodes 600,2000]
 *
 * Build each with `npx vite build --outDir FOLDER` (for "before", from a checkout of the commit before the share worker).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { encodeLink } from '../src/codecs/link';

const { values: v } = parseArgs({ options: { build: { type: 'string', multiple: true }, nodes: { type: 'string' } } });
if (!v.build?.length) throw new Error('usage: --build FOLDER [--build FOLDER ...] [--nodes 600,2000]');
const counts = (v.nodes ?? '600,2000').split(',').map(Number);
const config = new URL('../vite.config.ts', import.meta.url).pathname;

// Plain text, so that no transform of this file reaches the page.
const recorder = `window.__g = []; window.__l = []; let last = performance.now();
  const tick = (t) => { window.__g.push(t - last); last = t; requestAnimationFrame(tick); }; requestAnimationFrame(tick);
  new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__l.push(e.duration))).observe({ type: 'longtask', buffered: true });`;

function chain(n: number): string {
  const nodes = Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    type: 'sum',
    position: { x: 0, y: 0 },
    params: { weight: 1 },
  }));
  const edges = nodes
    .slice(1)
    .map((_, i) => ({ from: { node: `s${i}`, output: 'total' }, to: { node: `s${i + 1}`, input: 'terms' } }));
  return encodeLink(JSON.stringify({ format: 'stylegraph', version: 1, nodes, edges })).fragment;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
console.log('| build | nodes | shown after | largest frame gap | long tasks (total, longest) |\n|---|---|---|---|---|');
for (const outDir of v.build) {
  const server = await preview({
    configFile: config,
    preview: { port: 0, host: '127.0.0.1' },
    build: { outDir },
    logLevel: 'silent',
  });
  const base = server.resolvedUrls!.local[0]!;
  for (const n of counts) {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.addInitScript({ content: recorder });
    const t0 = Date.now();
    await page.goto(`${base}?backend=cpu&fresh#${chain(n)}`);
    const shown = await page.waitForSelector(`[data-node="s${n - 1}"]`, { state: 'visible', timeout: 180_000 }).then(
      () => Date.now() - t0,
      () => null,
    );
    await page.waitForTimeout(300);
    const r = (await page.evaluate(
      '({ gap: Math.max(...window.__g), long: window.__l.length, ms: window.__l.reduce((a, b) => a + b, 0), longest: Math.max(0, ...window.__l) })',
    )) as { gap: number; long: number; ms: number; longest: number };
    console.log(
      `| ${outDir} | ${n} | ${shown === null ? 'refused' : `${shown} ms`} | ${r.gap.toFixed(0)} ms | ${r.long} (${r.ms.toFixed(0)} ms, ${r.longest.toFixed(0)} ms) |`,
    );
    await page.close();
  }
  await new Promise<void>((r) => server.httpServer.close(() => r()));
}
await browser.close();
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
