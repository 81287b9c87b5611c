import { dirname } from 'node:path';
import type { GraphModel } from '../../graph/model';
import type { NodeRegistry } from '../../plugin/registry';
import { loadGraphImages, type HostAccess } from '../../runtime/sources';
import { batchSources } from '../files';
import { decodeImage, readSource } from './node-images';
import { documentSourceAccess, localPath, type RemoteConsent, type SourceAccess } from '../security/source-access';

/** What the user gave on the command line, and the remote fetching they consented to. */
export interface SourceOptions {
  /** Sources (as they appear in the model) given with --content, --style, --set: read wherever they are. */
  given?: Iterable<string>;
  remote?: RemoteConsent;
}

/**
 * How a document on disk reaches its files: relative paths resolve against the document's folder and must stay
 * inside it (docs/security.md); what the user gave on the command line is read wherever it is; remote sources only
 * with consent. A folder a graph lists (training) follows the same rule, and so do the files found in it.
 */
export function documentAccess(
  documentPath: string,
  options: SourceOptions = {},
): Required<Omit<HostAccess, 'tfjsModels'>> & { access: SourceAccess } {
  const access = documentSourceAccess(dirname(documentPath), options);
  return {
    access,
    // A data: URL is named as such, not spelt out (a painted mask's is tens of kB of base64).
    decode: async (source) =>
      decodeImage(await readSource(source, access), source.startsWith('data:') ? 'the data: URL picture' : source),
    listImages: async (folder) => {
      const given = access.given.has(folder);
      const dir = localPath(folder, access, given);
      const files = await batchSources(dir).catch(() => {
        throw new Error(`no such folder: ${dir}`);
      });
      // The photos of a folder the user gave are the user's too; those of the document's own folder stay confined.
      if (given) for (const f of files) access.given.add(f);
      return files;
    },
  };
}

/** Images of a document on disk. */
export function loadDocumentImages(
  model: GraphModel,
  registry: NodeRegistry,
  documentPath: string,
  options: SourceOptions = {},
) {
  return loadGraphImages(model, registry, documentAccess(documentPath, options).decode);
}
