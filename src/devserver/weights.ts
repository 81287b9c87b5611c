import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import { configuredWeightsMirror } from '../cli/security/plugins';
import { checkedFetch, weightsAddressPolicy } from '../cli/security/address-guard';
import {
  cachedDownload,
  cachedFolder,
  defaultCacheDir,
  folderIntact,
  listCache,
  type DownloadOptions,
  type Progress,
} from '../cli/weights/weights-cache';
import { knownHash, manifestLimits } from '../cli/weights/weights-fetch';
import {
  folderFiles,
  isFolderEntry,
  MANIFEST,
  manifestEntry,
  weightsUrl,
  type ManifestEntry,
} from '../models/weights/manifest';
import {
  WEIGHTS_ROUTE,
  type WeightsFolderInfo,
  type WeightsServerInfo,
  type WeightsServerProgress,
} from '../web/weights-route';

/**
 * The editor's server (Vite's dev server under `npm start`, and `vite preview`) fetches manifest checkpoints into
 * the command line's disk cache and serves them to the page, so hosts that send no CORS header (GitHub releases,
 * download.pytorch.org) work from the editor. Only names in the manifest are served: the page cannot make the
 * server fetch any other URL. A mirror (the page's `?mirror=`, else `STYLEGRAPH_WEIGHTS_MIRROR`) changes only the
 * base; the file name stays the manifest's. The server's own mirror is the CLI's setting.
 */
export interface WeightsServerOptions {
  /** The cache folder, read per request (default: the CLI's, `STYLEGRAPH_CACHE` or ~/.cache/stylegraph/weights). */
  cacheDir?: () => string;
  /** The server's mirror, read per request (default: the CLI's, `STYLEGRAPH_WEIGHTS_MIRROR` or `weightsMirror` in its config). */
  mirror?: () => string | null | Promise<string | null>;
  fetch?: typeof fetch;
  /**
   * Host names the server answers to besides localhost and IP addresses (Vite's `server.allowedHosts`; `true`: any).
   * A page on another name (DNS rebinding) may not make this server fetch.
   */
  allowedHosts?: () => string[] | true | undefined;
}

type Next = (err?: unknown) => void;

interface Download {
  done: Promise<string>;
  progress: Progress | null;
  waiters: number;
  settled: boolean;
  controller: AbortController;
}

/** A mirror base the page may name: http(s) only, nothing else. */
function validMirror(text: string | null): string | null {
  if (!text) return null;
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Whether a Host header names this machine, an IP address, or a host the server was told to answer to. */
export function hostAllowed(host: string | undefined, allowed: string[] | true | undefined): boolean {
  if (allowed === true) return true;
  if (!host) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.startsWith('[')) return true;
  return (allowed ?? []).some((a) => {
    const h = a.toLowerCase();
    return h.startsWith('.') ? name === h.slice(1) || name.endsWith(h) : name === h;
  });
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(body));
}

/**
 * The download of `url` into the cache: the one in progress for it, or a new one. Two pages (or a page and its
 * progress poll) share one; it leaves `downloads` once it settles.
 */
function startDownload(
  downloads: Map<string, Download>,
  options: WeightsServerOptions,
  cacheDir: () => string,
  url: string,
  entry: ManifestEntry,
  mirror: string | null,
  trusted: string | null,
): Download {
  const running = downloads.get(url);
  if (running) return running;
  const controller = new AbortController();
  // Only the server's own mirror (the user's setting) may be on the local network. A mirror the page names (a link's
  // ?weightsMirror=) is held to the public-address rule like a manifest host and every redirect: a link must not
  // make this server fetch from the user's network.
  const get = options.fetch ?? checkedFetch(weightsAddressPolicy(trusted));
  const d: Download = { progress: null, waiters: 0, settled: false, controller, done: Promise.resolve('') };
  // The manifest name goes in the cache's index, so the CLI finds a file fetched from a mirror by its name.
  // Held to the manifest's size (exact where known), the deadline and the stall timeout, as on the command line.
  const opts: DownloadOptions = {
    name: entry.name,
    onProgress: (p: Progress) => (d.progress = p),
    fetch: ((input, init) =>
      get(input, {
        ...init,
        signal: init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal,
      })) as typeof fetch,
  };
  // A folder checkpoint is fetched file by file into a cached folder (each file at its path below the mirror's root).
  const done = isFolderEntry(entry)
    ? cachedFolder(url, folderFiles(entry, mirror), cacheDir(), opts)
    : cachedDownload(url, cacheDir(), { ...opts, ...knownHash(entry), ...manifestLimits(entry) });
  d.done = done.finally(() => {
    d.settled = true;
    downloads.delete(url);
  });
  // A failure is reported to whoever waits; an abandoned download must not be an unhandled rejection.
  d.done.catch(() => {});
  downloads.set(url, d);
  return d;
}

/** A cached checkpoint file as the answer, with the URL it came from (HEAD: the headers only). */
async function sendCachedFile(req: IncomingMessage, res: ServerResponse, path: string, source: string): Promise<void> {
  const size = (await stat(path)).size;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(size));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-StyleGraph-Source', source);
  if (req.method === 'HEAD') return void res.end();
  createReadStream(path)
    .on('error', (e) => res.destroy(e))
    .pipe(res);
}

/** One file of a folder checkpoint the server has cached whole (from `source`): only the manifest's file names. */
async function serveFolderFile(
  cacheDir: () => string,
  req: IncomingMessage,
  res: ServerResponse,
  entry: ManifestEntry,
  source: string,
  name: string,
): Promise<void> {
  const file = folderFiles(entry).find((f) => f.name === name);
  if (!file) return json(res, 404, { error: `${entry.name} has no file named "${name}"` });
  const dir = cacheDir();
  const cached = (await listCache(dir)).find((e) => e.url === source && e.files);
  if (!cached || !(await folderIntact(join(dir, cached.file), cached.files, folderFiles(entry))))
    return json(res, 409, {
      error: `${entry.name} is not cached whole yet: GET ${WEIGHTS_ROUTE}/${entry.name} first`,
    });
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(file.size));
  res.setHeader('Cache-Control', 'no-store');
  if (req.method === 'HEAD') return void res.end();
  createReadStream(join(dir, cached.file, file.name))
    .on('error', (e) => res.destroy(e))
    .pipe(res);
}

export function weightsMiddleware(options: WeightsServerOptions = {}) {
  const cacheDir = options.cacheDir ?? defaultCacheDir;
  const serverMirror = options.mirror ?? (async () => (await configuredWeightsMirror(process.cwd()))?.url ?? null);
  /** Downloads in progress by source URL: two pages (or a page and its progress poll) share one. */
  const downloads = new Map<string, Download>();

  return async function weights(req: IncomingMessage, res: ServerResponse, next: Next): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== WEIGHTS_ROUTE && !url.pathname.startsWith(`${WEIGHTS_ROUTE}/`)) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'only GET' });
    // Another site's page may not make this server download things.
    if (req.headers['sec-fetch-site'] === 'cross-site')
      return json(res, 403, { error: 'cross-site requests are refused' });
    if (!hostAllowed(req.headers.host, options.allowedHosts?.()))
      return json(res, 403, { error: `this server does not answer to ${req.headers.host ?? 'no host'}` });
    const page = url.searchParams.get('mirror');
    if (page && !validMirror(page))
      return json(res, 400, { error: `the mirror must be an http(s) URL, not "${page}"` });
    let own: string | null;
    try {
      own = validMirror(await serverMirror());
    } catch (e) {
      return json(res, 500, { error: `the server's weights mirror setting: ${(e as Error).message}` });
    }
    const mirror = validMirror(page) ?? own;
    if (url.pathname === WEIGHTS_ROUTE || url.pathname === `${WEIGHTS_ROUTE}/`) {
      const info: WeightsServerInfo = { stylegraph: 'weights', mirror: own, names: MANIFEST.map((e) => e.name) };
      return json(res, 200, info);
    }
    const m = /^([a-z0-9_.-]+)(?:(\/progress)|\/files\/([A-Za-z0-9_.-]+))?$/.exec(
      url.pathname.slice(WEIGHTS_ROUTE.length + 1),
    );
    const entry = m ? manifestEntry(m[1]!) : undefined;
    if (!m || !entry) {
      const asked = m?.[1] ?? 'that';
      return json(res, 404, {
        error: `no checkpoint named "${asked}" in the weights manifest; known: ${MANIFEST.map((e) => e.name).join(', ')}`,
      });
    }
    const source = weightsUrl(entry, mirror);
    if (m[2]) {
      const progress: WeightsServerProgress = downloads.get(source)?.progress ?? null;
      return json(res, 200, progress);
    }
    if (m[3] !== undefined) return serveFolderFile(cacheDir, req, res, entry, source, m[3]);
    const d = startDownload(downloads, options, cacheDir, source, entry, mirror, mirror === own ? own : null);
    d.waiters++;
    let finished = false;
    res.on('close', () => {
      d.waiters--;
      // The last page waiting went away: stop fetching (the part file stays, and the next request resumes it).
      if (!finished && d.waiters <= 0 && !d.settled) d.controller.abort();
    });
    let path: string;
    try {
      path = await d.done;
    } catch (e) {
      finished = true;
      if (res.destroyed) return;
      return json(res, 502, { error: `${entry.name} could not be fetched from ${source}: ${(e as Error).message}` });
    }
    finished = true;
    if (res.destroyed) return;
    if (isFolderEntry(entry)) {
      // The page then asks for each file by its name: GET WEIGHTS_ROUTE/NAME/files/FILE.
      res.setHeader('X-StyleGraph-Source', source);
      const info: WeightsFolderInfo = {
        folder: source,
        files: folderFiles(entry, mirror).map(({ name, size, sha256 }) => ({ name, size, sha256 })),
      };
      return json(res, 200, info);
    }
    return sendCachedFile(req, res, path, source);
  };
}

/** The Vite plugin: the same middleware for `vite` (npm start) and `vite preview`. */
export function weightsServer(options: WeightsServerOptions = {}): Plugin {
  return {
    name: 'stylegraph-weights',
    configureServer: (server) =>
      void server.middlewares.use(
        weightsMiddleware({ allowedHosts: () => server.config.server.allowedHosts, ...options }),
      ),
    configurePreviewServer: (server) =>
      void server.middlewares.use(
        weightsMiddleware({ allowedHosts: () => server.config.preview.allowedHosts, ...options }),
      ),
  };
}
