import { dirname, resolve } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { loadTfjsModel, type TfjsModel } from '../../models/tfjs-models';
import { fetchChecked, isRemote, readLocalFile, userSourceAccess, type SourceAccess } from '../security/source-access';

/**
 * A tfjs Layers or graph model from a model.json path (weight files beside it) or an http(s) URL. With a document's
 * `SourceAccess`, the model.json follows the document's rules (inside its folder unless given on the command line;
 * a URL only with consent, never a private address without --allow-private-network), and its weight files must
 * lie in the model.json's own folder (or, remote, pass the same checks); a bare folder is the user's own.
 */
export function loadTfjsModelFrom(tf: typeof tfjs, source: string, access: SourceAccess | string): Promise<TfjsModel> {
  const a = typeof access === 'string' ? userSourceAccess(access) : access;
  if (isRemote(source)) {
    const given = a.given.has(source);
    const url = new URL(source.trim());
    return loadTfjsModel(tf, url.href, (p, from) => fetchChecked(new URL(p, from ?? url), a, given));
  }
  const modelPath = resolve(a.base, source);
  return loadTfjsModel(tf, source, async (p, from) => {
    if (!from) return readLocalFile(p, a);
    // A weight file: beside the model.json, never out of its folder.
    const shard = resolve(dirname(modelPath), p);
    return readLocalFile(shard, { ...a, given: new Set([shard]) }, undefined, dirname(modelPath));
  });
}
