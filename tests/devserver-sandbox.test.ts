import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 29: under `npm start` the pack sandbox fetches the run worker's modules from the dev server with origin
 * `null`, and a pack in that worker can ask for anything the same way. The dev server answers origin `null` only
 * with the worker's own modules (src/devserver/sandbox.ts); Vite's ways of reading other files (`/@fs/`, `?raw`,
 * `?import`, `?url`, `/@id/`, the editor's modules, the project's packs) are refused. The page itself is unaffected.
 * The requests carry what Chromium sends from the sandbox: `Origin: null` and `Sec-Fetch-Dest: script`.
 */
const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
let server: ViteDevServer;
let port = 0;

beforeAll(async () => {
  server = await createServer({
    configFile: `${root}/vite.config.ts`,
    logLevel: 'silent',
    server: { port: 0, host: '127.0.0.1', hmr: false },
  });
  await server.listen();
  port = (server.httpServer!.address() as { port: number }).port;
}, 120_000);
afterAll(async () => {
  await server?.close();
});

function get(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; cors: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          cors: res.headers['access-control-allow-origin'] as string | undefined,
          body,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
const sandbox = (path: string, dest = 'script') =>
  get(path, { origin: 'null', 'sec-fetch-dest': dest, 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'cross-site' });

/** The module specifiers a transformed module imports (static and dynamic, string literals). */
const importsOf = (code: string) =>
  [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)]
    .map((m) => m[1]!)
    .filter((s) => s.startsWith('/'));

describe('the dev server and the pack sandbox (npm start)', () => {
  it('serves the run worker and its whole module graph to origin null, with CORS', async () => {
    const entry = await sandbox('/web/worker.ts?worker_file&type=module', 'worker');
    expect(entry.status, entry.body.slice(0, 300)).toBe(200);
    expect(entry.cors).toBe('null');
    // Every module the worker imports, transitively, as the sandbox would fetch them.
    const seen = new Set<string>();
    const todo = importsOf(entry.body);
    expect(todo.length).toBeGreaterThan(3);
    while (todo.length) {
      const url = todo.shift()!;
      if (seen.has(url)) continue;
      seen.add(url);
      const r = await sandbox(url);
      expect(r.status, `${url}: ${r.body.slice(0, 200)}`).toBe(200);
      expect(r.cors, url).toBe('null');
      todo.push(...importsOf(r.body));
    }
    console.log(
      `the worker's graph: ${seen.size} modules, ${[...seen].filter((u) => u.startsWith('/@fs/')).length} of them by /@fs/`,
    );
  }, 300_000);

  it("refuses origin null everything else: /@fs/ and ?raw of project files, ?import, ?url, /@id/, the editor's modules, the packs", async () => {
    // The worker's graph is known once it was served (the test before, or here).
    await sandbox('/web/worker.ts?worker_file&type=module', 'worker');
    const attempts = [
      `/@fs${root}/package.json?raw`,
      `/@fs${root}/package.json?import`,
      `/@fs${root}/package.json?url`,
      `/@fs${root}/package.json`,
      `/@fs${root}/README.md?raw`,
      `/@fs${root}/examples/pack-wct/index.js`,
      `/@fs${root}/src/web/worker.ts?raw`,
      '/web/worker.ts?raw',
      '/web/worker.ts?import&raw',
      '/web/pack-store.ts?inline',
      '/editor/main.ts',
      '/editor/stores/plugins.ts',
      '/@id/virtual:anything',
      '/packs.json',
      '/packs/pack-wct.js',
      '/index.html',
    ];
    for (const path of attempts) {
      const r = await sandbox(path);
      expect(r.status, path).toBe(403);
      expect(r.cors, path).toBeUndefined();
      expect(r.body, path).not.toMatch(/stylegraph|export default/);
    }
    // Not a script or a worker (fetch() from the sandbox, JSON modules), or not a GET: refused too.
    for (const dest of ['empty', 'json', 'document'])
      expect((await sandbox('/web/worker.ts?worker_file&type=module', dest)).status, dest).toBe(403);
  }, 120_000);

  it("leaves the page's own requests alone", async () => {
    const r = await get(`/@fs${root}/package.json?raw`, {
      'sec-fetch-dest': 'script',
      'sec-fetch-site': 'same-origin',
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/export default/);
    expect((await get('/packs.json', {})).status).toBe(200);
  }, 120_000);
});
