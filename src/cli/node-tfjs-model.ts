import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { fetchTfjsModel, loadTfjsModel, type TfjsModel } from '../models/tfjs-models';

/** A tfjs Layers or graph model from a model.json path (weight files beside it) or an http(s) URL. */
export function loadTfjsModelFrom(tf: typeof tfjs, source: string, baseDir: string): Promise<TfjsModel> {
  if (/^https?:\/\//.test(source)) return fetchTfjsModel(tf, source);
  return loadTfjsModel(tf, resolve(baseDir, source), (p, from) => {
    const path = from ? resolve(dirname(from), p) : p;
    return readFile(path).catch(() => {
      throw new Error(`no such file: ${path}`);
    });
  });
}
