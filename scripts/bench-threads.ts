/**
 * wasm threads, measured in one run so the ratios compare like with like (docs/benchmarks.md, "Threads"):
 * a Gatys iteration (the preset, Adam) at each size through the CLI's path in Node and the editor's run worker in
 * headless Chromium, threaded (every core) and on one thread, against PyTorch CPU on 1 and 2 threads.
 *
 *   npx tsx scripts/bench-threads.ts [--sizes 128,256] [--steps 4] [--dist DIR] [--no-browser]
 *
 * The editor rows need a build (`npm run build`, or --dist DIR): threaded from `vite preview` (cross-origin
 * isolated), one thread from a plain static server without the isolation headers (what a host that cannot send
 * them gets). Each row's time is the mean over steps 1..N (step 0 warms up).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNodeBackend } from '../src/cli/node/node-tf';
import { gatysBeta as beta, gatysStep, mean } from './gatys-step';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const sizes = opt('--sizes', '128,256').split(',').map(Number);
const steps = Number(opt('--steps', '4'));
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const dist = opt('--dist', here('../dist'));
const cores = availableParallelism();
const fmt = (ms: number | undefined) => (ms === undefined ? '–' : `${ms.toFixed(0)} ms`);
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}x` : '–');

/** The CLI's path: the preset through the compiler and executor on Node's wasm with `threads` threads. */
async function nodeStep(size: number, threads: number): Promise<{ ms: number; threads: number }> {
  const choice = await startNodeBackend('wasm', { threads });
  return { ms: await gatysStep(size, steps), threads: choice.threads ?? 1 };
}

function torchStep(threads: number): Record<string, number> | string {
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [
        here('./bench-torch.py'),
        '--sizes',
        ...sizes.map(String),
        '--threads',
        String(threads),
        '--steps',
        String(steps),
        '--beta',
        String(beta),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return (JSON.parse(out) as { ms: Record<string, number> }).ms;
  } catch (e) {
    return `PyTorch not available: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** A static server for the build without the isolation headers. */
async function plainServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
    '.wasm': 'application/wasm',
    '.json': 'application/json',
    '.jpg': 'image/jpeg',
    '.png': 'image/png',
  };
  const server = createServer(async (req, res) => {
    const p = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dist, p.endsWith('/') ? `${p}index.html` : p);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** The editor's run worker: ms per step and the threads its run bar shows, at each size, from `base`. */
async function editorSteps(base: string): Promise<{ ms: Record<string, number>; threads: number }> {
  const { chromium } = await import('playwright-core');
  const b = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const ms: Record<string, number> = {};
  let threads = 0;
  try {
    for (const size of sizes) {
      const page = await b.newPage();
      // The first-run default is MicroAST (no steps); this table is Gatys.
      await page.goto(`${base}?backend=wasm&size=${size}&fresh&preset=gatys.json`);
      await page.waitForFunction(
        () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
        null,
        { timeout: 120_000 },
      );
      threads = Number(await page.getAttribute('.backend', 'data-threads'));
      await page.evaluate((n) => {
        const g = (window as unknown as { stylegraph: { graph: { setParam(n: string, p: string, v: unknown): void } } })
          .stylegraph.graph;
        g.setParam('optim', 'method', 'adam');
        g.setParam('optim', 'steps', n);
      }, steps);
      await page.click('[data-test=run]');
      await page.waitForFunction(
        () => /^(done|stopped|failed)/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
        null,
        { timeout: 600_000 },
      );
      const perStep = await page.evaluate(() =>
        (window as unknown as { stylegraph: { run: { steps: { ms: number }[] } } }).stylegraph.run.steps
          .slice(1)
          .map((s) => s.ms),
      );
      if (!perStep.length)
        throw new Error(
          `the editor's run at ${size} px timed no steps: ${await page.textContent('[data-test=status]')}`,
        );
      ms[String(size)] = mean(perStep);
      await page.close();
    }
  } finally {
    await b.close();
  }
  return { ms, threads };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
const started = load();
// PyTorch first and last around ours, so a change of load shows up as the two PyTorch columns disagreeing.
const torch2 = torchStep(2);
const node: Record<string, { threaded: { ms: number; threads: number }; one: { ms: number; threads: number } }> = {};
for (const size of sizes) node[size] = { threaded: await nodeStep(size, cores), one: await nodeStep(size, 1) };
let editor:
  { threaded: Awaited<ReturnType<typeof editorSteps>>; one: Awaited<ReturnType<typeof editorSteps>> } | string =
  'not measured (--no-browser)';
if (!argv.includes('--no-browser')) {
  if (!existsSync(join(dist, 'index.html'))) editor = `not measured: no build in ${dist} (npm run build)`;
  else {
    const { preview } = await import('vite');
    const isolated = await preview({
      configFile: here('../vite.config.ts'),
      preview: { port: 0, host: '127.0.0.1' },
      build: { outDir: dist },
    });
    const plain = await plainServer();
    try {
      editor = { threaded: await editorSteps(isolated.resolvedUrls!.local[0]!), one: await editorSteps(plain.url) };
    } finally {
      await new Promise<void>((r) => isolated.httpServer.close(() => r()));
      await plain.close();
    }
  }
}
const torch1 = torchStep(1);

const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
console.log(
  `One run of \`npx tsx scripts/bench-threads.ts ${argv.join(' ')}\` on ${date} UTC: ${cores} cores, node ${process.version}, load average ${started} at the start, ${load()} at the end.`,
);
console.log(`Gatys preset, Adam, random VGG19 weights, mean ms per step over steps 1..${steps}.\n`);
console.log(
  '| size | where | threaded | threads | one thread | threaded / one | PyTorch CPU 2 threads | threaded / PyTorch 2 | PyTorch CPU 1 thread |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const size of sizes) {
  const t2 = typeof torch2 === 'string' ? undefined : torch2[String(size)];
  const t1 = typeof torch1 === 'string' ? undefined : torch1[String(size)];
  const n = node[size]!;
  console.log(
    `| ${size} | CLI (Node) | ${fmt(n.threaded.ms)} | ${n.threaded.threads} | ${fmt(n.one.ms)} | ${ratio(n.threaded.ms, n.one.ms)} | ${fmt(t2)} | ${ratio(n.threaded.ms, t2)} | ${fmt(t1)} |`,
  );
  if (typeof editor !== 'string') {
    const [a, o] = [editor.threaded.ms[String(size)], editor.one.ms[String(size)]];
    console.log(
      `| ${size} | editor's worker (Chromium) | ${fmt(a)} | ${editor.threaded.threads} | ${fmt(o)} | ${ratio(a, o)} | ${fmt(t2)} | ${ratio(a, t2)} | ${fmt(t1)} |`,
    );
  }
}
if (typeof editor === 'string') console.log(`\nEditor: ${editor}.`);
if (typeof torch2 === 'string') console.log(`\n${torch2}.`);
process.exit(0);
