import type { GraphModel } from '../graph/model';
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

/** A node parameter that refers to an image dropped in this browser. */
export interface UploadRef {
  nodeId: string;
  /** The node's title, or its id. */
  label: string;
  param: string;
  source: string;
  /** The dropped file's name ("my_painting.jpg"). */
  file: string;
}

/** Every `upload:` reference in a graph, node by node. */
export function uploadsIn(model: GraphModel): UploadRef[] {
  return model.nodes.flatMap((n) =>
    Object.entries(n.params).flatMap(([param, v]) =>
      typeof v === 'string' && isUpload(v)
        ? [{ nodeId: n.id, label: n.title ?? n.id, param, source: v, file: v.replace(/^upload:[^/]*\//, '') }]
        : [],
    ),
  );
}
