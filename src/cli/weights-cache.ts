import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The CLI's weight cache: a folder of downloaded checkpoints with an index (URL, file, size, sha256).
 * Downloads stream to `<file>.part` and resume with an HTTP Range request where the server allows.
 */
export interface CacheEntry {
  url: string;
  file: string;
  size: number;
  sha256: string;
  added: string;
}

export interface Progress {
  received: number;
  total: number | null;
}

export const defaultCacheDir = (): string => process.env.STYLEGRAPH_CACHE ?? join(homedir(), '.cache', 'stylegraph', 'weights');

const indexPath = (dir: string) => join(dir, 'index.json');

export async function listCache(dir: string): Promise<CacheEntry[]> {
  try {
    return JSON.parse(await readFile(indexPath(dir), 'utf8')) as CacheEntry[];
  } catch {
    return [];
  }
}

export async function clearCache(dir: string): Promise<number> {
  const entries = await listCache(dir);
  await rm(dir, { recursive: true, force: true });
  return entries.length;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Returns the cached file for `url`, downloading it first if needed. `sha256`, when known, is checked
 * on the finished download (a mismatch deletes it and throws) and on every later use of the cache.
 */
export async function cachedDownload(
  url: string, dir: string, opts: { sha256?: string | null; onProgress?: (p: Progress) => void; fetch?: typeof fetch } = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const entries = await listCache(dir);
  const hit = entries.find((e) => e.url === url);
  if (hit) {
    const path = join(dir, hit.file);
    const ok = await stat(path).then((s) => s.size === hit.size, () => false);
    if (ok && (!opts.sha256 || opts.sha256 === hit.sha256)) return path;
  }
  const file = `${createHash('sha256').update(url).digest('hex').slice(0, 12)}-${basename(new URL(url).pathname) || 'weights'}`;
  const path = join(dir, file);
  const part = `${path}.part`;
  const have = await stat(part).then((s) => s.size, () => 0);
  const get = opts.fetch ?? fetch;
  const res = await get(url, have ? { headers: { Range: `bytes=${have}-` } } : {});
  if (!res.ok || !res.body) throw new Error(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`);
  const resumed = res.status === 206;
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? length + (resumed ? have : 0) : null;
  let received = resumed ? have : 0;
  const counted = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  counted.on('data', (chunk: Buffer) => {
    received += chunk.length;
    opts.onProgress?.({ received, total });
  });
  await pipeline(counted, createWriteStream(part, { flags: resumed ? 'a' : 'w' }));
  const digest = await sha256File(part);
  if (opts.sha256 && digest !== opts.sha256) {
    await rm(part, { force: true });
    throw new Error(`download of ${url} does not match its checksum (sha256 ${digest}, expected ${opts.sha256}); it was deleted`);
  }
  await rename(part, path);
  const size = (await stat(path)).size;
  const next = entries.filter((e) => e.url !== url).concat({ url, file, size, sha256: digest, added: new Date().toISOString() });
  await writeFile(indexPath(dir), JSON.stringify(next, null, 2));
  return path;
}
