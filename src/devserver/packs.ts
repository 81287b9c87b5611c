import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, join, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { PACKS_INDEX, type ProjectPack } from '../web/pack-store';

/**
 * The node packs the project lists for the command line (`"stylegraph": { "plugins": [...] }` in package.json),
 * served to the editor as the files the page can install: `packs.json` (what there is) and `packs/NAME.js` (each
 * pack's ES module). The dev server and `vite preview` serve them; a build writes them beside the page, so a
 * static host serves them too. Only local folders are listed: a URL in the list is the page's to fetch itself.
 */
export async function projectPacks(root: string): Promise<{ pack: ProjectPack; file: string }[]> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { stylegraph?: { plugins?: unknown } };
  const listed = Array.isArray(pkg.stylegraph?.plugins)
    ? pkg.stylegraph.plugins.filter((p): p is string => typeof p === 'string')
    : [];
  const out: { pack: ProjectPack; file: string }[] = [];
  for (const path of listed) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) continue;
    const dir = resolve(root, path);
    const meta = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8').catch(() => '{}')) as {
      exports?: unknown;
      main?: string;
      description?: string;
    };
    const entry = typeof meta.exports === 'string' ? meta.exports : (meta.main ?? 'index.js');
    const id = basename(dir).replace(/[^A-Za-z0-9_-]/g, '_');
    out.push({
      pack: { id, path, url: `packs/${id}.js`, ...(meta.description ? { description: meta.description } : {}) },
      file: join(dir, entry),
    });
  }
  return out;
}

export function examplePacks(root: string): Plugin {
  const serve = async (req: IncomingMessage, res: ServerResponse, next: (e?: unknown) => void) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' || (path !== `/${PACKS_INDEX}` && !path.startsWith('/packs/'))) return next();
    try {
      const packs = await projectPacks(root);
      if (path === `/${PACKS_INDEX}`) {
        res.setHeader('Content-Type', 'application/json');
        return res.end(JSON.stringify(packs.map((p) => p.pack)));
      }
      const found = packs.find((p) => `/${p.pack.url}` === path);
      if (!found) {
        res.statusCode = 404;
        res.setHeader('Content-Type', 'text/plain');
        return res.end(
          `no node pack at ${path}; the project's packs: ${packs.map((p) => p.pack.url).join(', ') || 'none'}`,
        );
      }
      res.setHeader('Content-Type', 'text/javascript');
      res.end(await readFile(found.file));
    } catch (e) {
      next(e);
    }
  };
  return {
    name: 'stylegraph-example-packs',
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
    async generateBundle() {
      const packs = await projectPacks(root);
      this.emitFile({ type: 'asset', fileName: PACKS_INDEX, source: JSON.stringify(packs.map((p) => p.pack)) });
      for (const p of packs)
        this.emitFile({ type: 'asset', fileName: p.pack.url, source: await readFile(p.file, 'utf8') });
    },
  };
}
