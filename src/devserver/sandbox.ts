import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'vite';

/**
 * The run worker lives in a sandboxed iframe with an opaque origin (src/web/sandbox-host.ts). Under `npm start` its
 * modules (the worker and everything it imports, unbundled) are fetched with CORS from origin `null`. This answers exactly those
 * requests: a GET whose Origin is `null` and whose destination (Sec-Fetch-Dest, set by the browser, not by page
 * script) is a script or a worker. Nothing else gets a CORS header. What it opens: any opaque-origin document
 * (a sandboxed frame on any site) can run this server's scripts and read their exports, which are the app's
 * public code; docs/security.md says so.
 */
export function allowSandboxScripts(req: IncomingMessage, res: ServerResponse): void {
  const dest = req.headers['sec-fetch-dest'];
  if (req.method === 'GET' && req.headers.origin === 'null' && (dest === 'script' || dest === 'worker')) {
    res.setHeader('Access-Control-Allow-Origin', 'null');
    res.setHeader('Vary', 'Origin');
  }
}

export function sandboxScripts(): Plugin {
  // Returns nothing: a function returned from these hooks would be installed after Vite's own middlewares.
  const use = (server: { middlewares: { use(fn: (req: IncomingMessage, res: ServerResponse, next: () => void) => void): unknown } }): void => {
    server.middlewares.use((req, res, next) => {
      allowSandboxScripts(req, res);
      next();
    });
  };
  // `npm start` only: a build hands the worker to the sandbox as text, so `vite preview` and static hosts need no CORS.
  return { name: 'stylegraph-sandbox-scripts', configureServer: use };
}
