import { dirname } from 'node:path';
import type { GraphModel } from '../graph/model';
import type { NodeRegistry } from '../plugin/registry';
import { loadGraphImages } from '../runtime/session';
import { decodeImage, readSource } from './node-images';

/** Images of a document on disk: relative sources resolve against the document's folder. */
export function loadDocumentImages(model: GraphModel, registry: NodeRegistry, documentPath: string) {
  return loadGraphImages(model, registry, async (source) => decodeImage(await readSource(source, dirname(documentPath)), source));
}
