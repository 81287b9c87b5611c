import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { loadTfjsModel, type TfjsModel } from '../models/tfjs-models';

/** A tfjs Layers or graph model from a model.json path (weight files beside it) or an http(s) URL. */
export function loadTfjsModelFrom(tf: typeof tfjs, source: string, baseDir: string): Promise<TfjsModel> {
  if (/^https?:\/\//.test(source))
    return loadTfjsModel(tf, source, async (p, from) => {
      const res = await fetch(new URL(p, from ?? source));
      if (!res.ok) throw new Error(`${p}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    });
  return loadTfjsModel(tf, resolve(baseDir, source), (p, from) => {
    const path = from ? resolve(dirname(from), p) : p;
    return readFile(path).catch(() => {
      throw new Error(`no such file: ${path}`);
    });
  });
}
