import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { GraphModel } from '../graph/model';
import type { NodeRegistry } from '../plugin/registry';
import { loadGraphImages, type HostAccess } from '../runtime/sources';
import { decodeImage, readSource } from './node-images';

/** How a document on disk reaches its files: relative paths resolve against the document's folder. */
export function documentAccess(documentPath: string): Required<Omit<HostAccess, 'tfjsModels'>> {
  const base = dirname(documentPath);
  return {
    decode: async (source) => decodeImage(await readSource(source, base), source),
    listImages: async (folder) => {
      const dir = resolve(base, folder);
      const names = await readdir(dir).catch(() => {
        throw new Error(`no such folder: ${dir}`);
      });
      return names.filter((n) => /\.(png|jpe?g)$/i.test(n)).sort().map((n) => join(dir, n));
    },
  };
}

/** Images of a document on disk. */
export function loadDocumentImages(model: GraphModel, registry: NodeRegistry, documentPath: string) {
  return loadGraphImages(model, registry, documentAccess(documentPath).decode);
}
