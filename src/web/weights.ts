import { readDlCheckpoint } from '../models/weights/dl-checkpoint';
import { folderFiles, hashPrefix, isFolderEntry, weightsUrl, type ManifestEntry } from '../models/weights/manifest';
import { readCheckpoint } from '../models/weights/read';
import { writeSafetensors } from '../models/weights/safetensors';
import { objectStore } from './idb';
import type { LoadedCheckpoint } from '../plugin/types';
import type { WeightBytes } from './protocol';
import {
  WEIGHTS_ROUTE,
  type WeightsFolderInfo,
  type WeightsServerInfo,
  type WeightsServerProgress,
} from './weights-route';

/**
 * The browser's weight cache: checkpoint bytes in IndexedDB, keyed by name, with their sha256.
 * Sources: a file the user picks or drops, or a URL streamed with progress (most checkpoint hosts
 * send no CORS header, so a file is the usual way in).
 */
const DB = 'stylegraph-weights';
const STORE = 'checkpoints';

export interface CachedWeights {
  name: string;
  source: string;
  size: number;
  sha256: string;
  added: string;
  bytes: ArrayBuffer;
}

const tx = objectStore(DB, STORE, { keyPath: 'name' });

export async function sha256(bytes: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Checks that the bytes are a checkpoint we can read, then stores them under `name`. */
export async function storeWeights(name: string, source: string, bytes: ArrayBuffer): Promise<LoadedCheckpoint> {
  const tensors = readCheckpoint(new Uint8Array(bytes), source);
  const entry: CachedWeights = {
    name,
    source,
    size: bytes.byteLength,
    sha256: await sha256(bytes),
    added: new Date().toISOString(),
    bytes,
  };
  await tx('readwrite', (s) => s.put(entry));
  return { name, source, tensors };
}

export const listWeights = async (): Promise<Omit<CachedWeights, 'bytes'>[]> =>
  (await tx<CachedWeights[]>('readonly', (s) => s.getAll())).map(({ bytes: _bytes, ...rest }) => rest);

export const clearWeights = (): Promise<undefined> => tx('readwrite', (s) => s.clear());

/** Every cached checkpoint, read and checked against its stored checksum. */
export async function loadCachedWeights(): Promise<{ loaded: LoadedCheckpoint[]; errors: string[] }> {
  const { entries, errors } = await readCachedWeightBytes();
  const parsed = parseWeightBytes(entries);
  return { loaded: parsed.loaded, errors: [...errors, ...parsed.errors] };
}

/**
 * The cached checkpoints' bytes, each checked against its stored checksum (on the page: the run worker may live in
 * an opaque-origin sandbox, which has neither IndexedDB nor crypto.subtle, and gets the bytes by message).
 */
export async function readCachedWeightBytes(): Promise<{ entries: WeightBytes[]; errors: string[] }> {
  const entries: WeightBytes[] = [];
  const errors: string[] = [];
  for (const e of await tx<CachedWeights[]>('readonly', (s) => s.getAll())) {
    if ((await sha256(e.bytes)) === e.sha256) entries.push({ name: e.name, source: e.source, bytes: e.bytes });
    else errors.push(`${e.name}: checksum mismatch; load it again`);
  }
  return { entries, errors };
}

/** Checkpoints from their bytes (in the worker). */
export function parseWeightBytes(entries: readonly WeightBytes[]): { loaded: LoadedCheckpoint[]; errors: string[] } {
  const loaded: LoadedCheckpoint[] = [];
  const errors: string[] = [];
  for (const e of entries) {
    try {
      loaded.push({
        name: e.name,
        source: `${e.source} (cached)`,
        tensors: readCheckpoint(new Uint8Array(e.bytes), e.source),
      });
    } catch (err) {
      errors.push(`${e.name}: ${(err as Error).message}`);
    }
  }
  return { loaded, errors };
}

/** Streams a URL with progress; the caller stores the result. */
export async function download(
  url: string,
  onProgress: (received: number, total: number | null) => void,
  signal?: AbortSignal,
): Promise<ArrayBuffer> {
  const res = await fetch(url, signal ? { signal } : {});
  return readBody(res, onProgress);
}

/**
 * A response's body with progress; with `maxBytes`, a Content-Length above it is refused before reading and a body
 * that runs past it is stopped while read (docs/security.md, Limits).
 */
async function readBody(
  res: Response,
  onProgress: (received: number, total: number | null) => void,
  maxBytes = Infinity,
): Promise<ArrayBuffer> {
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || null;
  if (total !== null && total > maxBytes) {
    await res.body.cancel().catch(() => {});
    throw new Error(
      `${res.url || 'the download'} announces ${total} bytes, more than the ${maxBytes} its manifest entry allows`,
    );
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new Error(`${res.url || 'the download'} ran past the ${maxBytes} bytes its manifest entry allows; stopped`);
    }
    chunks.push(value);
    received += value.length;
    onProgress(received, total);
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.length) - c.length);
  return out.buffer;
}

/** The editor's server (`npm start`, `vite preview`), if the page came from one: it fetches manifest weights for the page. */
let info: Promise<WeightsServerInfo | null> | null = null;
export function weightsServer(): Promise<WeightsServerInfo | null> {
  info ??= fetch(WEIGHTS_ROUTE, { headers: { Accept: 'application/json' } })
    .then(async (r) => {
      if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) return null;
      const body = (await r.json()) as Partial<WeightsServerInfo>;
      return body.stylegraph === 'weights' ? (body as WeightsServerInfo) : null;
    })
    .catch(() => null);
  return info;
}

/** A direct download the browser refused (a host without CORS headers, or offline): the file picker is the way in. */
export class DirectDownloadError extends Error {
  constructor(
    readonly url: string,
    cause: string,
  ) {
    super(
      `the browser could not download ${url} (${cause}). Hosts such as GitHub releases send no CORS header, so a page cannot read ` +
        `them; the editor's server (npm start) fetches them for it. Download the file yourself and pick or drop it here.`,
    );
  }
}

export interface FetchProgress {
  /** 'server': the editor's server is fetching from the source; 'page': the bytes are on their way to this page. */
  phase: 'server' | 'page';
  received: number;
  total: number | null;
}

/**
 * A manifest checkpoint's bytes: through the editor's server when there is one (any host, the CLI's cache), else
 * straight from its URL (or the mirror's). Checked against the manifest's sha256, or the hash prefix its file name carries.
 */
export async function fetchCheckpoint(
  entry: ManifestEntry,
  opts: { mirror?: string | null; signal?: AbortSignal; onProgress?: (p: FetchProgress) => void } = {},
): Promise<{ bytes: ArrayBuffer; source: string }> {
  const { mirror, signal, onProgress } = opts;
  const server = await weightsServer();
  if (isFolderEntry(entry)) return fetchFolderCheckpoint(entry, server, opts);
  // The manifest's size, exact where it was taken from the bytes (an entry with a sha256), else with 10 % to spare.
  const cap = entry.sha256 ? entry.sizeBytes : Math.ceil(entry.sizeBytes * 1.1);
  let got: { bytes: ArrayBuffer; source: string };
  if (server) {
    const query = mirror ? `?mirror=${encodeURIComponent(mirror)}` : '';
    const res = await throughServer(entry.name, query, signal, onProgress);
    const source = res.headers.get('X-StyleGraph-Source') ?? weightsUrl(entry, mirror ?? server.mirror);
    got = {
      bytes: await readBody(res, (received, total) => onProgress?.({ phase: 'page', received, total }), cap),
      source,
    };
  } else {
    const url = weightsUrl(entry, mirror);
    let res: Response;
    try {
      res = await fetch(url, signal ? { signal } : {});
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new DirectDownloadError(url, (e as Error).message);
    }
    got = {
      bytes: await readBody(res, (received, total) => onProgress?.({ phase: 'page', received, total }), cap),
      source: url,
    };
  }
  const digest = await sha256(got.bytes);
  const prefix = hashPrefix(entry);
  if (entry.sha256 && digest !== entry.sha256)
    throw new Error(`${got.source} does not match the manifest's sha256 (got ${digest})`);
  if (prefix && !digest.startsWith(prefix))
    throw new Error(
      `${got.source} does not match the hash its name carries (${prefix}; got ${digest.slice(0, prefix.length)})`,
    );
  return got;
}

/** Asks the editor's server to fetch a checkpoint (polling its progress meanwhile); its answer, or its error. */
async function throughServer(
  name: string,
  query: string,
  signal: AbortSignal | undefined,
  onProgress: ((p: FetchProgress) => void) | undefined,
): Promise<Response> {
  let waiting = true;
  const poll = (async () => {
    while (waiting && !signal?.aborted) {
      await new Promise((r) => setTimeout(r, 300));
      if (!waiting) break;
      const p = (await fetch(`${WEIGHTS_ROUTE}/${name}/progress${query}`)
        .then((r) => r.json())
        .catch(() => null)) as WeightsServerProgress;
      if (p && waiting) onProgress?.({ phase: 'server', ...p });
    }
  })();
  let res: Response;
  try {
    res = await fetch(`${WEIGHTS_ROUTE}/${name}${query}`, signal ? { signal } : {});
  } finally {
    waiting = false;
    await poll;
  }
  if (!res.ok) {
    const why = await res.json().then(
      (b: { error?: string }) => b.error,
      () => null,
    );
    throw new Error(why ?? `the editor's server answered HTTP ${res.status}`);
  }
  return res;
}

/**
 * A folder checkpoint (a deeplearn.js checkpoint: manifest.json and one file per variable): each file through the
 * editor's server when there is one (it fetches the folder into the CLI's cache first), else straight from the
 * mirror or the repository; each held to and checked against its size and sha256, then read and kept as one
 * safetensors checkpoint (as a dropped tfjs model is).
 */
async function fetchFolderCheckpoint(
  entry: ManifestEntry,
  server: WeightsServerInfo | null,
  opts: { mirror?: string | null; signal?: AbortSignal; onProgress?: (p: FetchProgress) => void },
): Promise<{ bytes: ArrayBuffer; source: string }> {
  const { mirror, signal, onProgress } = opts;
  const wanted = folderFiles(entry, mirror);
  let source = weightsUrl(entry, mirror);
  let urlOf = (name: string) => wanted.find((f) => f.name === name)!.url;
  if (server) {
    const query = mirror ? `?mirror=${encodeURIComponent(mirror)}` : '';
    const res = await throughServer(entry.name, query, signal, onProgress);
    const info = (await res.json()) as WeightsFolderInfo;
    source = info.folder;
    urlOf = (name) => `${WEIGHTS_ROUTE}/${entry.name}/files/${encodeURIComponent(name)}${query}`;
  }
  const total = wanted.reduce((s, f) => s + f.size, 0);
  let done = 0;
  const files = new Map<string, Uint8Array>();
  for (const f of wanted) {
    let res: Response;
    try {
      res = await fetch(urlOf(f.name), signal ? { signal } : {});
    } catch (e) {
      if ((e as Error).name === 'AbortError' || server) throw e;
      throw new DirectDownloadError(f.url, (e as Error).message);
    }
    const bytes = new Uint8Array(
      await readBody(res, (received) => onProgress?.({ phase: 'page', received: done + received, total }), f.size),
    );
    if (bytes.length !== f.size) throw new Error(`${f.url} is ${bytes.length} bytes; the manifest's file is ${f.size}`);
    if (f.sha256) {
      const digest = await sha256(bytes.slice().buffer);
      if (digest !== f.sha256) throw new Error(`${f.url} does not match the manifest's sha256 (got ${digest})`);
    }
    files.set(f.name, bytes);
    done += f.size;
  }
  const manifest = files.get('manifest.json');
  if (!manifest) throw new Error(`${entry.name}: the manifest lists no manifest.json in its folder`);
  const dict = await readDlCheckpoint(
    manifest,
    async (name) => {
      const b = files.get(name);
      if (!b) throw new Error(`${name} is not among ${entry.name}'s files in the weights manifest`);
      return b;
    },
    `${entry.name}/manifest.json`,
  );
  const out = writeSafetensors(dict, { source });
  return { bytes: out.slice().buffer, source: `${source} (${files.size} files)` };
}
