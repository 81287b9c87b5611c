import { readCheckpoint } from '../models/weights/read';
import { objectStore } from './idb';
import type { LoadedCheckpoint } from '../plugin/types';

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
  const entry: CachedWeights = { name, source, size: bytes.byteLength, sha256: await sha256(bytes), added: new Date().toISOString(), bytes };
  await tx('readwrite', (s) => s.put(entry));
  return { name, source, tensors };
}

export const listWeights = async (): Promise<Omit<CachedWeights, 'bytes'>[]> =>
  (await tx<CachedWeights[]>('readonly', (s) => s.getAll())).map(({ bytes: _bytes, ...rest }) => rest);

export const clearWeights = (): Promise<undefined> => tx('readwrite', (s) => s.clear());

/** Every cached checkpoint, read and checked against its stored checksum. */
export async function loadCachedWeights(): Promise<{ loaded: LoadedCheckpoint[]; errors: string[] }> {
  const loaded: LoadedCheckpoint[] = [];
  const errors: string[] = [];
  for (const e of await tx<CachedWeights[]>('readonly', (s) => s.getAll())) {
    try {
      if ((await sha256(e.bytes)) !== e.sha256) throw new Error('checksum mismatch; load it again');
      loaded.push({ name: e.name, source: `${e.source} (cached)`, tensors: readCheckpoint(new Uint8Array(e.bytes), e.source) });
    } catch (err) {
      errors.push(`${e.name}: ${(err as Error).message}`);
    }
  }
  return { loaded, errors };
}

/** Streams a URL with progress; the caller stores the result. */
export async function download(url: string, onProgress: (received: number, total: number | null) => void): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress(received, total);
  }
  const out = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.length) - c.length);
  return out.buffer;
}
