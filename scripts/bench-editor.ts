/**
 * The editor with a big graph: how long a 300-node graph takes to open (the store's open until every node is on the
 * canvas and painted) and how smoothly the canvas pans (requestAnimationFrame timestamps while the pointer drags
 * the empty canvas), in headless Chromium against the built app. Prints a markdown section for docs/benchmarks.md.
 *
 *   npx tsx scripts/bench-editor.ts [--build] [--nodes 300] [--pans 3] [--dist FOLDER] [--profile]
 *
 * --profile prints the functions that took the most time while opening (build with --minify false and pass
 * --dist for readable names).
 *
 * Builds first with --build or when dist/ is missing. Targets (issue 18): open under 1 s, panning above 30 frames/s.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const { values: v } = parseArgs({
  options: {
    build: { type: 'boolean' },
    nodes: { type: 'string' },
    pans: { type: 'string' },
    dist: { type: 'string' },
    profile: { type: 'boolean' },
  },
});
const count = Number(v.nodes ?? 300);
const pans = Number(v.pans ?? 3);
const root = new URL('..', import.meta.url).pathname;

if (v.build || !existsSync(`${root}dist/index.html`)) {
  const r = spawnSync('npx', ['vite', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

interface DocNode {
  id: string;
  type: string;
  position: { x: number; y: number };
  params: Record<string, unknown>;
  title?: string;
}
interface DocEdge {
  from: { node: string; output: string };
  to: { node: string; input: string };
}

/** `count` nodes: copies of the Gatys graph side by side and below each other (the last copy cut short), wired as it is. */
function bigGraph(n: number): string {
  const gatys = JSON.parse(readFileSync(`${root}presets/gatys.json`, 'utf8')) as {
    nodes: DocNode[];
    edges: DocEdge[];
    [k: string]: unknown;
  };
  const xs = gatys.nodes.map((d) => d.position.x);
  const ys = gatys.nodes.map((d) => d.position.y);
  const w = Math.max(...xs) - Math.min(...xs) + 400;
  const h = Math.max(...ys) - Math.min(...ys) + 300;
  const nodes: DocNode[] = [];
  const edges: DocEdge[] = [];
  for (let c = 0; nodes.length < n; c++) {
    const ox = (c % 4) * w;
    const oy = Math.floor(c / 4) * h;
    const ids = new Set<string>();
    for (const d of gatys.nodes) {
      if (nodes.length >= n) break;
      ids.add(d.id);
      nodes.push({
        ...structuredClone(d),
        id: `${d.id}_${c}`,
        position: { x: d.position.x + ox, y: d.position.y + oy },
      });
    }
    for (const e of gatys.edges)
      if (ids.has(e.from.node) && ids.has(e.to.node))
        edges.push({ from: { ...e.from, node: `${e.from.node}_${c}` }, to: { ...e.to, node: `${e.to.node}_${c}` } });
  }
  return JSON.stringify({ ...gatys, metadata: { title: `${n} nodes` }, nodes, edges });
}

const server = await preview({
  configFile: `${root}vite.config.ts`,
  preview: { port: 0, host: '127.0.0.1' },
  logLevel: 'warn',
  ...(v.dist ? { build: { outDir: v.dist } } : {}),
});
const base = server.resolvedUrls!.local[0]!;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // tsx keeps function names with a helper the page does not have.
  await page.addInitScript({ content: 'window.__name = (f) => f;' });
  await page.goto(`${base}?backend=wasm&size=64&fresh`);
  await page.waitForFunction(() => document.querySelectorAll('.sg-node').length > 10, null, { timeout: 60_000 });
  await page.waitForTimeout(1000);
  const text = bigGraph(count);

  const cdp = v.profile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  // Open: from the store's open() until every node is drawn and a frame has been painted after it.
  const open = await page.evaluate(
    async ({ text, count, edges }) => {
      const s = (
        window as unknown as {
          stylegraph: {
            graph: { open(t: string, n: string): boolean };
            canvas: { fit(floor?: number): Promise<void> };
          };
        }
      ).stylegraph;
      const frame = () => new Promise<number>((r) => requestAnimationFrame(r));
      const t0 = performance.now();
      s.graph.open(text, 'big.json');
      const shown = () =>
        [...document.querySelectorAll<HTMLElement>('.sg-node')].filter((e) => e.offsetParent !== null).length;
      while (shown() < count) await frame();
      const drawn = performance.now() - t0;
      // Every wire drawn (rete draws one once both its sockets are measured).
      const wires = () =>
        [...document.querySelectorAll('.sg-wire path')].filter((p) => (p.getAttribute('d') ?? '').length > 0).length;
      while (wires() < edges) await frame();
      const wired = performance.now() - t0;
      await s.canvas.fit(0.75);
      await frame();
      await frame();
      return { drawn, wired, painted: performance.now() - t0, nodes: shown(), wires: wires() };
    },
    { text, count, edges: (JSON.parse(text) as { edges: unknown[] }).edges.length },
  );

  if (cdp) {
    const { profile } = (await cdp.send('Profiler.stop')) as unknown as {
      profile: {
        nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
        samples: number[];
        timeDeltas: number[];
      };
    };
    const self = new Map<number, number>();
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    const byName = new Map<string, number>();
    for (const n of profile.nodes) {
      const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\//, '')}:${n.callFrame.lineNumber + 1}`;
      byName.set(key, (byName.get(key) ?? 0) + (self.get(n.id) ?? 0));
    }
    console.log('self time while opening:');
    for (const [k, us] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 30))
      console.log(`  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
  // A point on the empty canvas to drag from.
  const start = await page.evaluate(() => {
    const host = document.querySelector('[data-test=canvas]')!.getBoundingClientRect();
    for (let y = host.top + 40; y < host.bottom - 200; y += 23)
      for (let x = host.left + 40; x < host.right - 200; x += 29) {
        const el = document.elementFromPoint(x, y);
        if (el && !el.closest('.sg-node') && !el.closest('svg') && el.closest('[data-test=canvas]')) return { x, y };
      }
    return null;
  });
  if (!start) throw new Error('no empty spot on the canvas to drag');

  const results: { moved: number; fps: number; worst: number; p95: number; frames: number; ms: number }[] = [];
  for (let p = 0; p < pans; p++) {
    await page.evaluate(() => {
      const w = window as unknown as {
        frames: number[];
        xs: number[];
        recording: boolean;
        stylegraph: { canvas: { area: { area: { transform: { x: number } } } } };
      };
      w.frames = [];
      w.xs = [];
      w.recording = true;
      const tick = (t: number) => {
        if (!w.recording) return;
        w.frames.push(t);
        w.xs.push(w.stylegraph.canvas.area.area.transform.x);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    // About two seconds of dragging, back and forth.
    const moves = 120;
    const t0 = Date.now();
    for (let i = 1; i <= moves; i++) {
      const phase = (i / moves) * Math.PI * 2;
      await page.mouse.move(start.x + 150 * Math.sin(phase), start.y + 60 * Math.sin(phase * 2));
      const due = t0 + i * 16;
      const wait = due - Date.now();
      if (wait > 0) await page.waitForTimeout(wait);
    }
    await page.mouse.up();
    const { frames, xs } = await page.evaluate(() => {
      const w = window as unknown as { frames: number[]; xs: number[]; recording: boolean };
      w.recording = false;
      return { frames: w.frames, xs: w.xs };
    });
    const moved = Math.max(...xs) - Math.min(...xs);
    if (moved < 100) throw new Error(`the drag did not pan the canvas (it moved ${moved} px)`);
    const gaps = frames
      .slice(1)
      .map((t, i) => t - frames[i]!)
      .sort((a, b) => a - b);
    const ms = frames.at(-1)! - frames[0]!;
    results.push({
      moved,
      fps: ((frames.length - 1) / ms) * 1000,
      worst: gaps.at(-1) ?? 0,
      p95: gaps[Math.floor(gaps.length * 0.95)] ?? 0,
      frames: frames.length,
      ms,
    });
  }

  const fps = results.map((r) => r.fps);
  const f = (x: number) => x.toFixed(0);
  console.log(`## Editor: a ${open.nodes}-node graph in headless Chromium (software rendering)\n`);
  console.log(
    `One run of \`npx tsx scripts/bench-editor.ts\` on ${new Date().toISOString().slice(0, 10)}: 1600x1000 window, copies of the Gatys graph (${count} nodes).\n`,
  );
  console.log('| measure | result | target |');
  console.log('|---|---|---|');
  console.log(`| open (store open -> every node shown) | ${f(open.drawn)} ms | |`);
  console.log(`| open, every wire drawn (${open.wires}) | ${f(open.wired)} ms | |`);
  console.log(`| open, fitted and painted | ${f(open.painted)} ms | under 1000 ms |`);
  console.log(
    `| panning (drag on the empty canvas, ${pans} x ~2 s) | ${fps.map((x) => x.toFixed(1)).join(', ')} frames/s | above 30 |`,
  );
  console.log(
    `| slowest frame while panning (p95 / worst) | ${results.map((r) => `${f(r.p95)} / ${f(r.worst)} ms`).join(', ')} | |`,
  );
  console.log(
    `\n(the view moved ${results.map((r) => f(r.moved)).join(', ')} px left to right in each drag; page errors: ${errors.length ? errors.join('; ') : 'none'})`,
  );
} finally {
  await browser.close();
  await new Promise<void>((r) => server.httpServer.close(() => r()));
}
