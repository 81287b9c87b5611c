import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * The CLI's weight cache: a folder of downloaded checkpoints with an index (URL, file, size, sha256); a checkpoint
 * that is a folder of files is kept as a folder. Downloads stream to `<file>.part`, held to a size cap, a deadline
 * and a stall timeout, and resume with an HTTP Range request where the server allows.
 */
export interface CacheEntry {
  url: string;
  /** The manifest name it was fetched for, where known (a mirror's URL differs from the manifest's). */
  name?: string;
  file: string;
  size: number;
  sha256: string;
  added: string;
  /** A folder checkpoint's files (`file` is then the folder; `sha256` the digest of this list). */
  files?: CachedFile[];
}

/** One file of a cached folder: its name in the folder, size and sha256. */
export interface CachedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Progress {
  received: number;
  total: number | null;
}

export const defaultCacheDir = (): string =>
  process.env.STYLEGRAPH_CACHE ?? join(homedir(), '.cache', 'stylegraph', 'weights');

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
 * How far a download may go (docs/security.md, Limits). A body that runs past `maxBytes` is stopped while it is
 * read, a Content-Length above it is refused before reading, and the download ends when it takes longer than
 * `deadlineMs` in all or waits longer than `stallMs` for its headers or its next bytes.
 */
export interface DownloadLimits {
  /** The most bytes the file may have. */
  maxBytes: number;
  /** What set `maxBytes`, in words, for the message (`the manifest's size of adain-decoder`). */
  maxFrom: string;
  /** The whole download's deadline, in milliseconds. */
  deadlineMs: number;
  /** The longest wait for the response's headers or the next bytes of its body, in milliseconds. */
  stallMs: number;
}

/** A plain URL's cap (`--weights NAME=URL`; mirrors and manifest files are held to the manifest's size): 2 GiB. */
export const DEFAULT_MAX_BYTES = 2 * 2 ** 30;
/** The whole download's deadline: 2 hours (VGG19's 548 MiB at about 0.6 Mbit/s). */
export const DEFAULT_DEADLINE_S = 2 * 60 * 60;
/** No bytes for this long ends a download: 60 s. */
export const DEFAULT_STALL_S = 60;

/** A positive number from the environment, or the default; a value that is not one is an error naming the variable. */
function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${text}: expected a positive number`);
  return n;
}

/**
 * The limits for a download: the defaults, or `STYLEGRAPH_DOWNLOAD_MAX_BYTES`, `STYLEGRAPH_DOWNLOAD_DEADLINE_S` and
 * `STYLEGRAPH_DOWNLOAD_STALL_S` (for tests and slow links); `maxBytes` here is a plain URL's cap.
 */
export function downloadLimits(env: NodeJS.ProcessEnv = process.env): DownloadLimits {
  const fromEnv = env.STYLEGRAPH_DOWNLOAD_MAX_BYTES;
  return {
    maxBytes: Math.floor(envNumber(env, 'STYLEGRAPH_DOWNLOAD_MAX_BYTES', DEFAULT_MAX_BYTES)),
    maxFrom: fromEnv
      ? 'STYLEGRAPH_DOWNLOAD_MAX_BYTES'
      : 'the cap for a download of unknown size (STYLEGRAPH_DOWNLOAD_MAX_BYTES)',
    deadlineMs: 1000 * envNumber(env, 'STYLEGRAPH_DOWNLOAD_DEADLINE_S', DEFAULT_DEADLINE_S),
    stallMs: 1000 * envNumber(env, 'STYLEGRAPH_DOWNLOAD_STALL_S', DEFAULT_STALL_S),
  };
}

export interface DownloadOptions {
  /** The full sha256, where its source publishes one: checked on the finished download and on every later use. */
  sha256?: string | null;
  /** The leading hex digits of the sha256 a file name carries (torchvision's `vgg19-dcbb9e9d.pth`), checked the same way. */
  hashPrefix?: string | null;
  /** The exact size, where it is known (a manifest file whose size was taken from its bytes): also the cap. */
  exactBytes?: number | null;
  /** Limits other than the defaults (`downloadLimits()`); `maxBytes` is ignored where `exactBytes` is given. */
  limits?: Partial<DownloadLimits>;
  /** The manifest name, recorded in the index so a file fetched from a mirror is found by name. */
  name?: string;
  onProgress?: (p: Progress) => void;
  fetch?: typeof fetch;
}

/** Why a download failed: the network or TLS, an HTTP status, a limit, or a checksum; `network` and `http` can be worked around with a mirror or a file. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'http' | 'limit' | 'checksum',
  ) {
    super(message);
  }
}

/** Whether a digest agrees with what is known of the file's hash (nothing known: yes). */
export const hashMatches = (digest: string, opts: Pick<DownloadOptions, 'sha256' | 'hashPrefix'>): boolean =>
  (!opts.sha256 || digest === opts.sha256) && (!opts.hashPrefix || digest.startsWith(opts.hashPrefix));

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

/**
 * What a failed `fetch` means, in words: fetch says only "fetch failed"; its cause names DNS, a refused or timed-out
 * connection, a reset, or TLS.
 */
export function describeFetchError(e: unknown, url: string): string {
  const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code ?? '';
  const { host, hostname } = new URL(url);
  const detail = err.cause?.message ?? err.message;
  if (/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL|EAI_NODATA)$/.test(code))
    return `the name ${hostname} could not be resolved (DNS: ${code}); is this machine offline, or the name mistyped?`;
  if (code === 'ECONNREFUSED') return `${host} refused the connection (ECONNREFUSED): nothing listens there`;
  if (/^(ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT)$/.test(code))
    return `the connection to ${host} timed out (${code})`;
  if (/^(ENETUNREACH|EHOSTUNREACH|ENETDOWN)$/.test(code))
    return `no route to ${host} (${code}); is this machine offline?`;
  if (/^(ECONNRESET|EPIPE|UND_ERR_SOCKET)$/.test(code))
    return `the connection to ${host} was closed by the other end (${code})`;
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_SSL/.test(code) || /certificate|tls|ssl/i.test(detail))
    return `the TLS (https) connection to ${host} failed (${code || 'TLS'}: ${detail}); a proxy that rewrites https, or a wrong clock?`;
  return code ? `${detail} (${code})` : detail;
}

/** Where a download writes and how it is held to its limits: one file, its `.part`, the hashes known of it. */
interface Target {
  url: string;
  path: string;
  sha256?: string | null | undefined;
  hashPrefix?: string | null | undefined;
  exactBytes?: number | null | undefined;
  limits: DownloadLimits;
  onProgress?: ((p: Progress) => void) | undefined;
  fetch: typeof fetch;
}

/**
 * Streams `url` to `path` (through `path.part`), held to its limits, resumed with a Range request where a `.part`
 * is there. The `.part` is kept for the next attempt only where it can be right: the server takes ranges, it is
 * within the cap, and the failure was a cut, a stall or the deadline (not a body that ran past the cap). Returns
 * the file's size and sha256, checked against what is known.
 */
async function downloadFile(t: Target): Promise<{ size: number; sha256: string }> {
  const { url, path } = t;
  const part = `${path}.part`;
  const cap = t.exactBytes ?? t.limits.maxBytes;
  const capWords =
    t.exactBytes != null
      ? `${cap} bytes (the size the manifest gives this file)`
      : `${cap} bytes (${t.limits.maxFrom})`;
  let have = await resumablePart(part, cap);
  const watch = new Watchdog(t.limits);
  let received = 0;
  let total: number | null = null;
  let ranges = false;
  let fh: FileHandle | null = null;
  const stoppedError = async (keep: boolean) => {
    if (!keep) await rm(part, { force: true });
    const got = `${mib(received)}${total ? ` of ${mib(total)}` : ''}`;
    return new DownloadError(
      `download of ${url} stopped after ${got}: ${watch.stopped}; ` +
        (keep
          ? 'the part kept resumes when you run the same command again'
          : received > 0
            ? 'nothing was kept (the server does not resume downloads)'
            : 'nothing was kept'),
      'limit',
    );
  };
  try {
    watch.arm();
    let res: Response;
    try {
      res = await requestRest(t, watch.controller.signal, part, have, () => (have = 0));
    } catch (e) {
      if (watch.stopped) throw await stoppedError(have > 0);
      throw new DownloadError(`download of ${url} failed: ${describeFetchError(e, url)}`, 'network');
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      throw new DownloadError(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`.trimEnd(), 'http');
    }
    const resumed = res.status === 206;
    ranges = resumed || /\bbytes\b/i.test(res.headers.get('accept-ranges') ?? '');
    const lengthText = res.headers.get('content-length');
    const length = lengthText === null ? NaN : Number(lengthText);
    total = Number.isFinite(length) ? length + (resumed ? have : 0) : null;
    if (total !== null && total > cap) {
      await res.body.cancel().catch(() => {});
      await rm(part, { force: true });
      throw new DownloadError(
        `download of ${url} refused before reading: the server announces ${total} bytes (Content-Length), more than the ${capWords} allowed`,
        'limit',
      );
    }
    received = resumed ? have : 0;
    if (!resumed) have = 0;
    fh = await open(part, resumed ? 'a' : 'w');
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        watch.arm();
        if (received + value.length > cap) {
          watch.controller.abort();
          await fh.close();
          fh = null;
          await rm(part, { force: true });
          throw new DownloadError(
            `download of ${url} stopped: the body ran past ${capWords}; nothing was kept`,
            'limit',
          );
        }
        await fh.write(value);
        received += value.length;
        t.onProgress?.({ received, total });
      }
    } catch (e) {
      if (e instanceof DownloadError) throw e;
      await fh?.close();
      fh = null;
      if (watch.stopped) throw await stoppedError(ranges);
      const keep = ranges;
      if (!keep) await rm(part, { force: true });
      throw new DownloadError(
        `download of ${url} was cut off after ${mib(received)}${total ? ` of ${mib(total)}` : ''} (${describeFetchError(e, url)}); ` +
          (keep
            ? 'run the same command again to resume from there'
            : 'nothing was kept (the server does not resume downloads); run the same command again'),
        'network',
      );
    }
    await fh.close();
    fh = null;
    const expected = total ?? t.exactBytes ?? null;
    if (expected !== null && received < expected) {
      if (!ranges) await rm(part, { force: true });
      throw new DownloadError(
        `download of ${url} ended after ${mib(received)} of ${mib(expected)}; ` +
          (ranges
            ? 'run the same command again to resume from there'
            : 'nothing was kept (the server does not resume downloads); run the same command again'),
        'network',
      );
    }
  } finally {
    watch.clear();
    await fh?.close().catch(() => {});
  }
  const digest = await checkedPart(t, part, received);
  await rename(part, path);
  return { size: received, sha256: digest };
}

/** The size of the `.part` an earlier attempt left, to resume from; one longer than the file may be (not a prefix of it) is deleted. */
async function resumablePart(part: string, cap: number): Promise<number> {
  const have = await stat(part).then(
    (s) => s.size,
    () => 0,
  );
  if (have <= cap) return have;
  await rm(part, { force: true });
  return 0;
}

/** A download's deadline and stall timeout: the first to pass aborts the fetch and says why (`stopped`). */
class Watchdog {
  readonly controller = new AbortController();
  stopped: string | null = null;
  private readonly deadline: NodeJS.Timeout;
  private stall: NodeJS.Timeout | undefined;

  constructor(private readonly limits: DownloadLimits) {
    this.deadline = setTimeout(
      () =>
        this.stop(
          `it did not finish within ${seconds(limits.deadlineMs)}, the download deadline (STYLEGRAPH_DOWNLOAD_DEADLINE_S)`,
        ),
      limits.deadlineMs,
    );
  }

  private stop(why: string): void {
    this.stopped ??= why;
    this.controller.abort();
  }

  /** Data came: the stall timeout starts again. */
  arm(): void {
    clearTimeout(this.stall);
    this.stall = setTimeout(
      () =>
        this.stop(`no data came for ${seconds(this.limits.stallMs)}, the stall timeout (STYLEGRAPH_DOWNLOAD_STALL_S)`),
      this.limits.stallMs,
    );
  }

  clear(): void {
    clearTimeout(this.deadline);
    clearTimeout(this.stall);
  }
}

/**
 * The server's answer for `t.url`, from byte `have` on where a `.part` of that many bytes is there. A `.part` the
 * answer does not continue (already whole, longer than the file now is, or another range answered) is deleted,
 * `restarted` is called, and the whole file is asked for.
 */
async function requestRest(
  t: Target,
  signal: AbortSignal,
  part: string,
  have: number,
  restarted: () => void,
): Promise<Response> {
  const get = (range: boolean) =>
    t.fetch(t.url, { signal, ...(range ? { headers: { Range: `bytes=${have}-` } } : {}) });
  const res = await get(have > 0);
  if (!(have > 0 && (res.status === 416 || (res.status === 206 && !contentRangeStartsAt(res, have))))) return res;
  await res.body?.cancel();
  await rm(part, { force: true });
  restarted();
  return get(false);
}

/** A finished `.part`'s sha256, checked against what is known of its hash and size; a mismatch deletes it and throws. */
async function checkedPart(t: Target, part: string, received: number): Promise<string> {
  const digest = await sha256File(part);
  if (!hashMatches(digest, t)) {
    await rm(part, { force: true });
    const what = t.sha256 ?? `${t.hashPrefix}… (the first digits, from the file name)`;
    throw new DownloadError(
      `download of ${t.url} does not match its checksum (sha256 ${digest}, expected ${what}); it was deleted`,
      'checksum',
    );
  }
  if (t.exactBytes != null && received !== t.exactBytes) {
    await rm(part, { force: true });
    throw new DownloadError(
      `download of ${t.url} is ${received} bytes where the manifest's file is ${t.exactBytes}; it was deleted`,
      'checksum',
    );
  }
  return digest;
}

/** Whether a 206 answer's Content-Range starts where the `.part` ends. */
function contentRangeStartsAt(res: Response, at: number): boolean {
  const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
  return m !== null && Number(m[1]) === at;
}

const urlKey = (url: string) => createHash('sha256').update(url).digest('hex').slice(0, 12);

/**
 * Returns the cached file for `url`, downloading it first if needed. `sha256` or `hashPrefix`, when known, are
 * checked on the finished download (a mismatch deletes it and throws) and on every later use of the cache.
 * A download that is cut off keeps its `.part` where the server resumes; the next call resumes it with a Range request.
 */
export async function cachedDownload(url: string, dir: string, opts: DownloadOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const entries = await listCache(dir);
  const hit = entries.find((e) => e.url === url && !e.files);
  if (hit) {
    const path = join(dir, hit.file);
    const ok = await stat(path).then(
      (s) => s.size === hit.size,
      () => false,
    );
    if (ok && hashMatches(hit.sha256, opts)) return path;
  }
  const file = `${urlKey(url)}-${basename(new URL(url).pathname) || 'weights'}`;
  const path = join(dir, file);
  const { size, sha256 } = await downloadFile({
    url,
    path,
    sha256: opts.sha256,
    hashPrefix: opts.hashPrefix,
    exactBytes: opts.exactBytes,
    limits: { ...downloadLimits(), ...opts.limits },
    onProgress: opts.onProgress,
    fetch: opts.fetch ?? fetch,
  });
  await addToIndex(dir, {
    url,
    ...(opts.name ? { name: opts.name } : {}),
    file,
    size,
    sha256,
    added: new Date().toISOString(),
  });
  return path;
}

async function addToIndex(dir: string, entry: CacheEntry) {
  // Read again: another download may have finished meanwhile.
  const next = (await listCache(dir)).filter((e) => e.url !== entry.url).concat(entry);
  await writeFile(indexPath(dir), JSON.stringify(next, null, 2));
}

/** One file of a folder checkpoint to download: its name in the folder, where it comes from, its size and sha256. */
export interface FolderFileSpec {
  name: string;
  url: string;
  size: number;
  sha256: string | null;
}

/** The digest recorded for a folder: the sha256 of its file list (name, size and sha256 of each, in order). */
const listingDigest = (files: readonly { path: string; size: number; sha256: string }[]) =>
  createHash('sha256')
    .update(files.map((f) => `${f.path} ${f.size} ${f.sha256}\n`).join(''))
    .digest('hex');

/**
 * Whether a cached folder holds every expected file whole: recorded with the expected size and sha256 (where one is
 * known), and on disk at that size.
 */
export async function folderIntact(
  folder: string,
  recorded: readonly CachedFile[] | undefined,
  expected: readonly { name: string; size: number; sha256: string | null }[],
): Promise<boolean> {
  if (!recorded) return false;
  for (const f of expected) {
    const r = recorded.find((x) => x.path === f.name);
    if (!r || r.size !== f.size || (f.sha256 && r.sha256 !== f.sha256)) return false;
    if (
      !(await stat(join(folder, f.name)).then(
        (s) => s.isFile() && s.size === f.size,
        () => false,
      ))
    )
      return false;
  }
  return true;
}

/**
 * A checkpoint that is a folder of files (a deeplearn.js checkpoint), cached as a folder: each file downloaded (or
 * resumed) into it, held to its exact size and checked against its sha256, all under one deadline; `key` (the
 * folder's URL) names it in the index. Returns the folder's path.
 */
export async function cachedFolder(
  key: string,
  files: readonly FolderFileSpec[],
  dir: string,
  opts: Omit<DownloadOptions, 'sha256' | 'hashPrefix' | 'exactBytes'> = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const hit = (await listCache(dir)).find((e) => e.url === key && e.files);
  if (hit && (await folderIntact(join(dir, hit.file), hit.files, files))) return join(dir, hit.file);
  const name = `${urlKey(key)}-${basename(new URL(key).pathname) || 'weights'}`;
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  const limits = { ...downloadLimits(), ...opts.limits };
  const deadlineAt = Date.now() + limits.deadlineMs;
  const total = files.reduce((s, f) => s + f.size, 0);
  let done = 0;
  const got: CachedFile[] = [];
  for (const f of files) {
    if (!/^[A-Za-z0-9_.-]+$/.test(f.name) || f.name === '.' || f.name === '..')
      throw new DownloadError(`${key}: "${f.name}" is not a plain file name`, 'checksum');
    const path = join(folder, f.name);
    const present = await stat(path).then(
      (s) => s.isFile() && s.size === f.size,
      () => false,
    );
    const digest = present ? await sha256File(path) : null;
    if (digest && (!f.sha256 || digest === f.sha256)) got.push({ path: f.name, size: f.size, sha256: digest });
    else {
      const left = deadlineAt - Date.now();
      if (left <= 0)
        throw new DownloadError(
          `download of ${key} stopped: it did not finish within ${seconds(limits.deadlineMs)}, the download deadline (STYLEGRAPH_DOWNLOAD_DEADLINE_S)`,
          'limit',
        );
      const r = await downloadFile({
        url: f.url,
        path,
        sha256: f.sha256,
        exactBytes: f.size,
        limits: { ...limits, deadlineMs: left },
        onProgress: opts.onProgress ? (p) => opts.onProgress!({ received: done + p.received, total }) : undefined,
        fetch: opts.fetch ?? fetch,
      });
      got.push({ path: f.name, size: r.size, sha256: r.sha256 });
    }
    done += f.size;
    opts.onProgress?.({ received: done, total });
  }
  await addToIndex(dir, {
    url: key,
    ...(opts.name ? { name: opts.name } : {}),
    file: name,
    size: total,
    sha256: listingDigest(got),
    files: got,
    added: new Date().toISOString(),
  });
  return folder;
}
