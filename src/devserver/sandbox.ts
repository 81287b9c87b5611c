import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { ModuleNode, Plugin, ViteDevServer } from 'vite';

/**
 * The run worker lives in a sandboxed iframe with an opaque origin (src/web/sandbox-host.ts). Under `npm start` its
 * modules (the worker and everything it imports, unbundled) are fetched with CORS from origin `null`, and node packs
 * run in that worker, so a pack can ask this server for anything with the same origin. What a request from origin
 * `null` gets (`sandboxRequest`):
 *
 * - a GET for a script or a worker (Sec-Fetch-Dest, set by the browser, not by page script) of a module in the run
 *   worker's own module graph (the worker entry and what it imports, transitively, as Vite's module graph has it):
 *   answered, with `Access-Control-Allow-Origin: null`; those are the app's public code the worker already runs;
 * - anything else: 403, before Vite sees it. So a pack cannot read `/@fs/<checkout>/package.json?raw`, any other
 *   file through `?raw`, `?url`, `?inline` or `?import`, `/@id/` or `/@fs/` paths outside the worker's graph, the
 *   editor's modules (`/editor/...`), `/packs.json` or another pack's source.
 */
export const WORKER_ENTRY = '/web/worker.ts';

/**
 * Query keys that turn a file into a module of its text (or start another worker): never for the sandbox. (`?url`
 * and `?import` only where the worker's graph has that very module: its wasm files' URLs.)
 */
const VITE_QUERIES = ['raw', 'inline', 'worker', 'sharedworker'];

const CLIENT = ['/@vite/client', '/@vite/env'];

/** Whether `url` is a module of the worker's graph: the modules reachable from the entry's, or the entry itself. */
export async function inWorkerGraph(
  server: Pick<ViteDevServer, 'moduleGraph' | 'config'>,
  url: string,
): Promise<boolean> {
  const u = new URL(url, 'http://x');
  if (u.pathname === WORKER_ENTRY && [...u.searchParams.keys()].every((k) => k === 'worker_file' || k === 'type'))
    return true;
  if ([...u.searchParams.keys()].some((k) => VITE_QUERIES.includes(k))) return false;
  // Vite's own client, which it injects into a module that uses import.meta.hot (public code, no project file).
  if (CLIENT.includes(u.pathname) && !u.search) return true;
  const entries = server.moduleGraph.getModulesByFile(join(server.config.root, WORKER_ENTRY)) ?? new Set<ModuleNode>();
  const mod = await server.moduleGraph.getModuleByUrl(url, false).catch(() => undefined);
  if (!mod) return false;
  const seen = new Set<ModuleNode>();
  const todo = [...entries];
  while (todo.length) {
    const m = todo.pop()!;
    if (m === mod) return true;
    if (seen.has(m)) continue;
    seen.add(m);
    for (const i of m.importedModules) if (!seen.has(i)) todo.push(i);
  }
  return false;
}

/**
 * What the dev server does with a request: `pass` (not from the sandbox), `allow` (the worker's own module: CORS
 * for origin `null`), or `refuse` (403).
 */
export async function sandboxRequest(
  server: Pick<ViteDevServer, 'moduleGraph' | 'config'>,
  req: Pick<IncomingMessage, 'method' | 'headers' | 'url'>,
): Promise<'pass' | 'allow' | 'refuse'> {
  if (req.headers.origin !== 'null') return 'pass';
  const dest = req.headers['sec-fetch-dest'];
  if (req.method !== 'GET' || (dest !== 'script' && dest !== 'worker')) return 'refuse';
  return (await inWorkerGraph(server, req.url ?? '/')) ? 'allow' : 'refuse';
}

export function sandboxScripts(): Plugin {
  // Returns nothing: a function returned from these hooks would be installed after Vite's own middlewares.
  const use = (server: ViteDevServer): void => {
    server.middlewares.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
      sandboxRequest(server, req).then(
        (verdict) => {
          if (verdict === 'refuse') {
            res.statusCode = 403;
            res.setHeader('Content-Type', 'text/plain');
            return res.end(
              "refused: the pack sandbox gets only the run worker's own modules (src/devserver/sandbox.ts)",
            );
          }
          if (verdict === 'allow') {
            res.setHeader('Access-Control-Allow-Origin', 'null');
            res.setHeader('Vary', 'Origin');
          }
          next();
        },
        () => {
          res.statusCode = 403;
          res.end();
        },
      );
    });
  };
  // `npm start` only: a build hands the worker to the sandbox as text, so `vite preview` and static hosts need no CORS.
  // First (`enforce: 'pre'`): before the other plugins' middlewares (the project's packs, the weights), and Vite's.
  return { name: 'stylegraph-sandbox-scripts', enforce: 'pre', configureServer: use };
}
