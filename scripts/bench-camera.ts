/**
 * The editor's live camera: frames per second of a camera preset (presets/adain-camera.json, or `--preset
 * microast-camera.json`, `fast-style-camera.json`) on wasm in
 * headless Chromium with its fake camera (a 640x480 moving test pattern at 30 frames/s), at each size. After a
 * warm-up (the first frames load the networks and encode the painting), it times the next `--frames` answers from the
 * worker (wall time on the page). Prints a markdown section for docs/benchmarks.md.
 *
 *   npx tsx scripts/bench-camera.ts [--build] [--dist FOLDER] [--sizes 128,256] [--frames 10] [--preset NAME.json]
 *     [--threads N]
 *
 * `--threads N` pins wasm's threads (the page's `?threads=`); without it the page times 1 and 2 threads when it
 * starts, and on a busy machine that choice varies from run to run (pin it to compare two builds).
 *
 * Builds first with --build or when the dist folder is missing. Random weights unless the browser profile has cached
 * ones (a fresh headless profile has none): the speed does not depend on them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { preview } from 'vite';

const { values: v } = parseArgs({
  options: {
    build: { type: 'boolean' },
    dist: { type: 'string' },
    sizes: { type: 'string' },
    frames: { type: 'string' },
    preset: { type: 'string' },
    threads: { type: 'string' },
  },
});
const preset = v.preset ?? 'adain-camera.json';
const root = new URL('..', import.meta.url).pathname;
const dist = v.dist ?? `${root}dist`;
const sizes = (v.sizes ?? '128,256').split(',').map(Number);
const count = Number(v.frames ?? 10);

if (v.build || !existsSync(`${dist}/index.html`)) {
  const r = spawnSync('npx', ['vite', 'build', '--outDir', dist], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const server = await preview({
  configFile: `${root}vite.config.ts`,
  preview: { port: 0, host: '127.0.0.1' },
  build: { outDir: dist },
});
const base = server.resolvedUrls!.local[0]!;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ],
});

const panel = (page: Page) =>
  page.evaluate(() => {
    const p = document.querySelector('[data-test=camera-panel]');
    const statsNode = document.querySelector('[data-test=camera-stats]');
    const stats = statsNode?.textContent ?? '';
    return {
      stages: JSON.parse(statsNode?.getAttribute('data-stages') || '{}') as Record<string, number>,
      frames: Number(p?.getAttribute('data-frames') ?? 0),
      dropped: Number(/(\d+) dropped/.exec(stats)?.[1] ?? 0),
      lastMs: Number(/last (\d+) ms/.exec(stats)?.[1] ?? 0),
      shown: document.querySelector('[data-test=camera-fps]')?.textContent?.trim() ?? '',
      weights: document.querySelector('[data-test=random-weights]') ? 'random' : 'cached',
      backend: document.querySelector('.backend')?.textContent?.trim() ?? '',
    };
  });

interface Row {
  size: number;
  fps: number;
  msPerFrame: number;
  workerMs: number[];
  /** Each timed frame's stages (the camera panel's data-stages: the worker's and the page's, ms). */
  stages: Record<string, number>[];
  droppedShare: number;
  shown: string;
  weights: string;
  backend: string;
}
const rows: Row[] = [];
const loadBefore = loadavg()[0]!;
try {
  for (const size of sizes) {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const threads = v.threads ? `&threads=${Number(v.threads)}` : '';
    await page.goto(`${base}?backend=wasm&size=${size}&fresh&preset=${preset}${threads}`);
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 120_000 },
    );
    await page.click('[data-test=camera-start]');
    // Warm-up: the first frames build the networks and encode the painting (kept in the run memo after that).
    await page.waitForFunction(
      () => Number(document.querySelector('[data-test=camera-panel]')?.getAttribute('data-frames') ?? 0) >= 3,
      null,
      { timeout: 300_000 },
    );
    const a = await panel(page);
    const t0 = Date.now();
    const workerMs: number[] = [];
    const stages: Record<string, number>[] = [];
    // Each answer's worker time, as the panel shows it after every frame.
    let seen = a.frames;
    while (seen < a.frames + count) {
      await page.waitForFunction(
        (n) => Number(document.querySelector('[data-test=camera-panel]')?.getAttribute('data-frames') ?? 0) > n,
        seen,
        { timeout: 120_000, polling: 5 },
      );
      const p = await panel(page);
      // A frame answered between two polls is counted but its stages are not seen (the panel shows the last one's).
      if (p.frames === seen + 1) stages.push(p.stages);
      seen = p.frames;
      workerMs.push(p.lastMs);
    }
    const b = await panel(page);
    const dt = (Date.now() - t0) / 1000;
    const frames = b.frames - a.frames;
    const offered = frames + (b.dropped - a.dropped);
    rows.push({
      size,
      fps: frames / dt,
      msPerFrame: (dt * 1000) / Math.max(1, frames),
      workerMs,
      stages,
      droppedShare: offered ? (b.dropped - a.dropped) / offered : 0,
      shown: b.shown,
      weights: b.weights,
      backend: b.backend,
    });
    if (errors.length) console.error(`size ${size}: page errors: ${errors.join('; ')}`);
    await page.close();
  }
} finally {
  await browser.close();
  await new Promise<void>((r) => server.httpServer.close(() => r()));
}

const median = (xs: number[]) => {
  const s = [...xs].filter((x) => x > 0).sort((p, q) => p - q);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
};
const date = new Date().toISOString().slice(0, 10);
console.log(`## Editor: live camera, ${preset} on wasm (headless Chromium, fake camera)\n`);
console.log(
  `One run of \`npx tsx scripts/bench-camera.ts --sizes ${sizes.join(',')} --frames ${count}${v.threads ? ` --threads ${v.threads}` : ''}\` on ${date}, ${cpus().length} cores, no GPU;`,
);
console.log(
  `${count} frames timed after 3 warm-up frames. Weights: ${[...new Set(rows.map((r) => r.weights))].join(', ')};`,
);
console.log(
  `${[...new Set(rows.map((r) => r.backend))].join(', ')}; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after.\n`,
);
console.log(
  '| size | frames/s | ms per frame (wall) | worker ms per frame (median) | camera frames dropped | panel showed | fps / fps at ' +
    sizes[0] +
    ' |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.size} | ${r.fps.toFixed(2)} | ${r.msPerFrame.toFixed(0)} ms | ${median(r.workerMs).toFixed(0)} ms | ${(r.droppedShare * 100).toFixed(0)}% | ${r.shown} | ${(r.fps / rows[0]!.fps).toFixed(2)}x |`,
  );

// Where a frame's time goes: the median of each stage over the timed frames (a step's time is its node's compute;
// the network's steps are everything named step:, less the camera node's photo -> tensor).
console.log('\nStages, median ms over the timed frames (worker: its stages; page: its own marks):\n');
const names = [...new Set(rows.flatMap((r) => r.stages.flatMap((x) => Object.keys(x))))];
const order = (n: string) => (n.startsWith('page:') ? 2 : n.startsWith('step:') ? 1 : 0);
names.sort((p, q) => order(p) - order(q));
console.log(`| stage | ${rows.map((r) => `${r.size} px`).join(' | ')} |`);
console.log(`|---|${rows.map(() => '---|').join('')}`);
const stageMedian = (r: Row, pick: (x: Record<string, number>) => number | undefined) =>
  median(
    r.stages
      .map(pick)
      .filter((x): x is number => x !== undefined)
      .map((x) => x + 1e-9),
  );
for (const n of names) console.log(`| ${n} | ${rows.map((r) => stageMedian(r, (x) => x[n]).toFixed(1)).join(' | ')} |`);
const network = (x: Record<string, number>) =>
  Object.entries(x)
    .filter(([k]) => k.startsWith('step:') && k !== 'step:content')
    .reduce((a, [, v]) => a + v, 0);
const outside = (x: Record<string, number>) => {
  const steps = Object.entries(x).filter(([k]) => k.startsWith('step:'));
  const worker = ['parse', 'pixels', 'prepare', 'sources', 'compile', 'execute'].reduce((a, k) => a + (x[k] ?? 0), 0);
  return worker - steps.reduce((a, [k, v]) => a + (k === 'step:content' ? 0 : v), 0);
};
console.log(
  `| network (step:*, not step:content) | ${rows.map((r) => stageMedian(r, network).toFixed(1)).join(' | ')} |`,
);
console.log(`| worker, not the network | ${rows.map((r) => stageMedian(r, outside).toFixed(1)).join(' | ')} |`);
