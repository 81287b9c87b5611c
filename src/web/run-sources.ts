/**
 * The files a run of a graph reads that the worker cannot read itself (it fetches nothing, and the sandbox has no
 * IndexedDB): uploads, the images the page fetches for it, the folders of the tfjs models it names, and the other
 * sites it would read from (which the user must allow first). Plain functions of the graph; no Vue.
 */
import type { GraphModel } from '../graph/model';
import { sweepOf } from '../graph/sweep';
import type { NodeRegistry } from '../plugin/registry';
import { remoteOrigin } from './source-origin';
import { getUpload, isUpload } from './uploads';
import { allowedFetchOrigins } from './worker-client';

/**
 * The parameter defaults a page may read: a built-in type's, never one a pack declared (it could name '/', or this
 * site's files).
 */
export type TrustedDefault = (type: string, param: string) => unknown;

/** The folders of the tfjs models these graphs name (a model.json and its weight files). */
export function modelFolders(
  models: readonly (GraphModel | null | undefined)[],
  registry: NodeRegistry,
  trustedDefault: TrustedDefault,
): string[] {
  const folders = new Set<string>();
  for (const m of models)
    for (const n of m?.nodes ?? [])
      for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
        const v = n.params[name] ?? trustedDefault(n.type, name);
        if (p.kind !== 'model' || typeof v !== 'string' || !v) continue;
        try {
          folders.add(new URL('.', new URL(v, location.href)).href);
        } catch {
          // Not a URL: nothing to fetch for it.
        }
      }
  return [...folders];
}

/** The other sites the graph reads images or models from that the user has not allowed. */
export function unallowedOrigins(model: GraphModel, registry: NodeRegistry): string[] {
  const found = new Set<string>();
  for (const n of model.nodes)
    for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
      if (p.kind !== 'image' && p.kind !== 'model') continue;
      const v = n.params[name];
      // Parsed as the browser will fetch it (` //host`, `/\host`, a tab in the scheme are remote), not by a pattern.
      const origin = typeof v === 'string' ? remoteOrigin(v, location.href) : null;
      if (origin) found.add(origin);
    }
  const allowed = allowedFetchOrigins();
  return [...found].filter((o) => !allowed.includes(o));
}

/** The image sources of a run of `model` that are files to fetch: its image parameters, and their values in its sweep. */
export function fetchedImages(model: GraphModel, registry: NodeRegistry, trustedDefault: TrustedDefault): Set<string> {
  const found = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v !== 'string' || !v || isUpload(v)) return;
    try {
      if (['http:', 'https:'].includes(new URL(v, location.href).protocol)) found.add(v);
    } catch {
      // Not a URL: the worker says why it cannot read it.
    }
  };
  const imageParams = new Map<string, Set<string>>();
  for (const n of model.nodes)
    for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {}))
      if (p.kind === 'image') {
        add(n.params[name] ?? trustedDefault(n.type, name));
        imageParams.set(n.id, (imageParams.get(n.id) ?? new Set()).add(name));
      }
  const sweep = sweepOf(model).sweep;
  for (const axis of [...(sweep?.rows ?? []), ...(sweep?.columns ?? [])])
    for (const [path, v] of Object.entries(axis.set)) {
      const [id, param] = path.split('.');
      if (id && param && imageParams.get(id)?.has(param)) add(v);
    }
  return found;
}

/** An image's bytes from this site, or from a site the user allowed (the run asked first); null when not fetched. */
async function fetchImage(source: string): Promise<ArrayBuffer | null> {
  const origin = remoteOrigin(source, location.href);
  if (origin && !allowedFetchOrigins().includes(origin)) return null;
  try {
    const res = await fetch(new URL(source, location.href), origin ? { credentials: 'omit' } : {});
    return res.ok ? await res.arrayBuffer() : null;
  } catch {
    return null;
  }
}

/** The bytes of the images a run of `model` reads that the worker cannot read itself, except those in `skip`. */
export async function runUploads(
  model: GraphModel,
  registry: NodeRegistry,
  trustedDefault: TrustedDefault,
  skip: ReadonlySet<string> = new Set(),
): Promise<Record<string, ArrayBuffer>> {
  const uploads: Record<string, ArrayBuffer> = {};
  for (const n of model.nodes)
    for (const v of Object.values(n.params))
      if (typeof v === 'string' && isUpload(v) && !uploads[v] && !skip.has(v)) {
        const bytes = await getUpload(v);
        if (bytes) uploads[v] = bytes;
      }
  // The worker's sandbox fetches nothing: the page fetches the other images the run reads and hands in their bytes.
  for (const source of fetchedImages(model, registry, trustedDefault))
    if (!uploads[source] && !skip.has(source)) {
      const bytes = await fetchImage(source);
      if (bytes) uploads[source] = bytes;
    }
  return uploads;
}
