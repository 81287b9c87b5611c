/**
 * What the pack sandbox (issue 16) costs: two builds of the editor (before and after the run worker moved into the
 * sandboxed iframe) in headless Chromium on wasm: the time from opening the page to a ready backend, a Gatys run of
 * the default preset at 64 px, and installing the example pack (consent to listed in the dialog). Prints a markdown
 * section for docs/benchmarks.md, with after/before ratios from one run of each.
 *
 *   npx tsx scripts/bench-sandbox.ts --before FOLDER --after FOLDER [--steps 5] [--size 64]
 *
 * Build each with `npx vite build --outDir FOLDER` (for "before", from a checkout of the commit before the sandbox).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview } from 'vite';

const { values: v } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string' },
    steps: { type: 'string' },
    size: { type: 'string' },
  },
});
if (!v.before || !v.after) throw new Error('usage: --before FOLDER --after FOLDER');
const root = new URL('..', import.meta.url).pathname;
const steps = Number(v.steps ?? 5);
const size = Number(v.size ?? 64);

const source = readFileSync(`${root}examples/pack-wct/index.js`, 'utf8');
const packServer = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' });
  res.end(source);
});
await new Promise<void>((r) => packServer.listen(0, '127.0.0.1', () => r()));
const packUrl = `http://127.0.0.1:${(packServer.address() as AddressInfo).port}/wct.js`;

interface Timing {
  readyMs: number;
  runS: number;
  installMs: number;
  packRunS: number;
}

/** Runs the open graph; the seconds the run bar reports. */
async function runOnce(page: Page): Promise<number> {
  await page.click('[data-test=run]');
  await page.waitForFunction(
    () => /^(done|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
    null,
    { timeout: 300_000 },
  );
  const status = (await page.textContent('[data-test=status]')) ?? '';
  return Number(/in ([\d.]+) s/.exec(status)?.[1] ?? NaN);
}

async function measure(browser: Browser, dist: string): Promise<Timing> {
  const server = await preview({
    configFile: `${root}vite.config.ts`,
    preview: { port: 0, host: '127.0.0.1' },
    build: { outDir: dist },
    logLevel: 'error',
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const t0 = Date.now();
    await page.goto(`${server.resolvedUrls!.local[0]}?backend=wasm&size=${size}&fresh`);
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 120_000 },
    );
    const readyMs = Date.now() - t0;
    await page.fill('[data-test=steps]', String(steps));
    await page.dispatchEvent('[data-test=steps]', 'change');
    const runS = await runOnce(page);
    await page.click('[data-test=plugins-open]');
    await page.fill('[data-test=pack-url]', packUrl);
    await page.click('[data-test=pack-install]');
    await page.waitForSelector('[data-test=consent-allow]');
    const t1 = Date.now();
    await page.click('[data-test=consent-allow]');
    await page.waitForFunction(
      () => /wct\/whiten-colour/.test(document.querySelector('[data-test=pack-list]')?.textContent ?? ''),
      null,
      { timeout: 60_000 },
    );
    // Run enabled again: after the sandbox, the worker restarted in the pack sandbox.
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 120_000 },
    );
    const installMs = Date.now() - t1;
    await page.click('[data-test=plugins] header button');
    const packRunS = await runOnce(page);
    await page.close();
    return { readyMs, runS, installMs, packRunS };
  } finally {
    await new Promise<void>((r) => server.httpServer.close(() => r()));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const before = await measure(browser, v.before);
  const after = await measure(browser, v.after);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  console.log(`## Editor: the pack sandbox's cost (issue 16)

One run of \`npx tsx scripts/bench-sandbox.ts --before ... --after ... --steps ${steps} --size ${size}\` on ${new Date().toISOString().slice(0, 10)},
this machine (${cpus().length} cores, shared), headless Chromium with \`--disable-gpu\`, wasm, a fresh profile (random weights).

| | before (worker in the page's origin, packs on the page too) | after (plain worker; the sandboxed one once a pack is installed) | after / before |
|---|---|---|---|
| page opened to Run enabled | ${before.readyMs} ms | ${after.readyMs} ms | ${ratio(after.readyMs, before.readyMs)} |
| Gatys (gatys.json), ${steps} steps at ${size} px, as the run bar reports it | ${before.runS} s | ${after.runS} s | ${ratio(after.runS, before.runS)} |
| install pack-wct: consent to Run enabled again (after: the worker restarts in the sandbox) | ${before.installMs} ms | ${after.installMs} ms | ${ratio(after.installMs, before.installMs)} |
| the same Gatys run with the pack installed (after: in the sandbox) | ${before.packRunS} s | ${after.packRunS} s | ${ratio(after.packRunS, before.packRunS)} |
`);
} finally {
  await browser.close();
  packServer.close();
}
