/**
 * Images the user dropped or pasted: referenced from the graph as `upload:<sha256 prefix>/<file name>`,
 * their bytes kept in IndexedDB so an autosaved graph still has them after a reload.
 */
const DB = 'stylegraph-uploads';
const STORE = 'images';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function request<T>(mode: IDBTransactionMode, run: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const req = run(db.transaction(STORE, mode).objectStore(STORE));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export const isUpload = (source: string) => source.startsWith('upload:');

export async function uploadSource(name: string, bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const hash = Array.from(digest.slice(0, 6), (b) => b.toString(16).padStart(2, '0')).join('');
  return `upload:${hash}/${name.replace(/[^\w.-]/g, '_')}`;
}

export async function putUpload(source: string, bytes: ArrayBuffer): Promise<void> {
  await request('readwrite', (s) => s.put(bytes, source));
}

export async function getUpload(source: string): Promise<ArrayBuffer | undefined> {
  return request<ArrayBuffer | undefined>('readonly', (s) => s.get(source));
}
