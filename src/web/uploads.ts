import { objectStore } from './idb';

/**
 * Images the user dropped or pasted: referenced from the graph as `upload:<sha256 prefix>/<file name>`,
 * their bytes kept in IndexedDB so an autosaved graph still has them after a reload.
 */
const DB = 'stylegraph-uploads';
const STORE = 'images';

const request = objectStore(DB, STORE);

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
