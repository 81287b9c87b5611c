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
  /** The manifest name it was fetched for, where known (a mirror's URL differs from the manifest's). */
  name?: string;
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

export interface DownloadOptions {
  /** The full sha256, where its source publishes one: checked on the finished download and on every later use. */
  sha256?: string | null;
  /** The leading hex digits of the sha256 a file name carries (torchvision's `vgg19-dcbb9e9d.pth`), checked the same way. */
  hashPrefix?: string | null;
  /** The manifest name, recorded in the index so a file fetched from a mirror is found by name. */
  name?: string;
  onProgress?: (p: Progress) => void;
  fetch?: typeof fetch;
}

/** Whether a digest agrees with what is known of the file's hash (nothing known: yes). */
export const hashMatches = (digest: string, opts: Pick<DownloadOptions, 'sha256' | 'hashPrefix'>): boolean =>
  (!opts.sha256 || digest === opts.sha256) && (!opts.hashPrefix || digest.startsWith(opts.hashPrefix));

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * Returns the cached file for `url`, downloading it first if needed. `sha256` or `hashPrefix`, when known, are
 * checked on the finished download (a mismatch deletes it and throws) and on every later use of the cache.
 * A download that is cut off keeps its `.part`; the next call resumes it with a Range request.
 */
export async function cachedDownload(url: string, dir: string, opts: DownloadOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const entries = await listCache(dir);
  const hit = entries.find((e) => e.url === url);
  if (hit) {
    const path = join(dir, hit.file);
    const ok = await stat(path).then((s) => s.size === hit.size, () => false);
    if (ok && hashMatches(hit.sha256, opts)) return path;
  }
  const file = `${createHash('sha256').update(url).digest('hex').slice(0, 12)}-${basename(new URL(url).pathname) || 'weights'}`;
  const path = join(dir, file);
  const part = `${path}.part`;
  let have = await stat(part).then((s) => s.size, () => 0);
  const get = opts.fetch ?? fetch;
  let res = await get(url, have ? { headers: { Range: `bytes=${have}-` } } : {});
  if (res.status === 416 && have) {
    // The .part is already whole (or longer than the file now is): start again.
    await res.body?.cancel();
    await rm(part, { force: true });
    have = 0;
    res = await get(url);
  }
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
  try {
    await pipeline(counted, createWriteStream(part, { flags: resumed ? 'a' : 'w' }));
  } catch (e) {
    // What arrived stays in the .part for the next attempt to resume.
    throw new Error(`download of ${url} was cut off after ${mib(received)}${total ? ` of ${mib(total)}` : ''} (${(e as Error).message}); ` +
      `run the same command again to resume from there`);
  }
  if (total !== null && received < total)
    throw new Error(`download of ${url} ended after ${mib(received)} of ${mib(total)}; run the same command again to resume from there`);
  const digest = await sha256File(part);
  if (!hashMatches(digest, opts)) {
    await rm(part, { force: true });
    const expected = opts.sha256 ?? `${opts.hashPrefix}… (the first digits, from the file name)`;
    throw new Error(`download of ${url} does not match its checksum (sha256 ${digest}, expected ${expected}); it was deleted`);
  }
  await rename(part, path);
  const size = (await stat(path)).size;
  const entry: CacheEntry = { url, ...(opts.name ? { name: opts.name } : {}), file, size, sha256: digest, added: new Date().toISOString() };
  // Read again: another download may have finished meanwhile.
  const next = (await listCache(dir)).filter((e) => e.url !== url).concat(entry);
  await writeFile(indexPath(dir), JSON.stringify(next, null, 2));
  return path;
}
