import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWeights } from '../src/cli/node/node-weights';
import {
  MAX_DL_ENTRIES,
  MAX_DL_MANIFEST_BYTES,
  isPlainFileName,
  parseDlManifest,
  readDlCheckpoint,
} from '../src/models/weights/dl-checkpoint';
import { detectFormat, readCheckpoint } from '../src/models/weights/read';

const enc = (s: unknown) => new TextEncoder().encode(typeof s === 'string' ? s : JSON.stringify(s));
const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A checkpoint folder on disk: the manifest and one little-endian float32 file per variable. */
function folder(manifest: unknown, files: Record<string, Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dlckpt-'));
  dirs.push(dir);
  writeFileSync(
    join(dir, 'manifest.json'),
    typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 2),
  );
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

const reader = (files: Record<string, Uint8Array>) => async (name: string) => {
  const f = files[name];
  if (!f) throw new Error(`no file ${name}`);
  return f;
};

describe('deeplearn.js checkpoint folder (manifest.json + raw float32 files)', () => {
  const manifest = {
    Variable: { filename: 'Variable', shape: [1, 2, 3] },
    Variable_1: { filename: 'Variable_1', shape: [2] },
    empty: { filename: 'e', shape: [0, 4] },
  };
  const files = { Variable: f32([1, -2, 3.5, 4, 5, 6]), Variable_1: f32([0.25, -1e-3]), e: new Uint8Array(0) };

  it('reads every variable with its shape, little-endian float32', async () => {
    const dict = await readDlCheckpoint(enc(manifest), reader(files));
    expect(dict.get('Variable')).toEqual({ shape: [1, 2, 3], data: Float32Array.from([1, -2, 3.5, 4, 5, 6]) });
    expect(dict.get('Variable_1')).toEqual({ shape: [2], data: Float32Array.from([0.25, -1e-3]) });
    expect(dict.get('empty')!.data.length).toBe(0);
    // Big-endian bytes read as other numbers: the order is checked, not assumed.
    const be = new Uint8Array(4);
    new DataView(be.buffer).setFloat32(0, 1.5, false);
    const d2 = await readDlCheckpoint(enc({ a: { filename: 'a', shape: [1] } }), async () => be);
    expect(d2.get('a')!.data[0]).not.toBe(1.5);
  });

  it('is told apart from a tfjs model.json by its content', () => {
    expect(detectFormat(enc(manifest))).toBe('dl-checkpoint');
    expect(detectFormat(enc(JSON.stringify(manifest, null, 2)))).toBe('dl-checkpoint');
    expect(detectFormat(enc({ modelTopology: {}, weightsManifest: [{ paths: ['a.bin'], weights: [] }] }))).toBe('tfjs');
    expect(detectFormat(enc({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }))).toBe('tfjs');
    // A tfjs model whose weights entries carry a "shape" and whose topology names no "filename" stays tfjs.
    expect(
      detectFormat(
        enc({ weightsManifest: [{ paths: ['x'], weights: [{ name: 'w', shape: [1], dtype: 'float32' }] }] }),
      ),
    ).toBe('tfjs');
    expect(() => readCheckpoint(enc(manifest), 'm.json')).toThrow(
      /m.json is a deeplearn.js checkpoint manifest.json; load it with the files of its folder/,
    );
  });

  it('loads through --weights NAME=FOLDER and NAME=FOLDER/manifest.json', async () => {
    const dir = folder(manifest, files);
    for (const source of [dir, join(dir, 'manifest.json')]) {
      const c = await loadWeights(tf, { name: 'fast-style-x', source }, '/', { dir: tmpdir() } as never);
      expect(c.source).toBe(source);
      expect(c.tensors.get('Variable')!.data).toEqual(Float32Array.from([1, -2, 3.5, 4, 5, 6]));
      expect(c.tensors.size).toBe(3);
    }
  });

  it('refuses a file whose length is not 4 x its shape, on disk before reading it, and a missing file', async () => {
    const short = folder(manifest, { ...files, Variable_1: f32([1]) });
    await expect(loadWeights(tf, { name: 'x', source: short }, '/', {} as never)).rejects.toThrow(
      /"Variable_1" is 4 bytes; its variable needs 8/,
    );
    await expect(readDlCheckpoint(enc(manifest), reader({ ...files, Variable: new Uint8Array(25) }))).rejects.toThrow(
      /"Variable" is 25 bytes, but variable "Variable" \[1, 2, 3\] needs 24 \(4 bytes per float32\)/,
    );
    await expect(readDlCheckpoint(enc(manifest), reader({ Variable: files.Variable }))).rejects.toThrow(
      /cannot read "Variable_1" \(variable "Variable_1"\): no file Variable_1/,
    );
  });

  it('reads only plain file names inside the folder', async () => {
    for (const bad of ['../secret', '/etc/passwd', 'a/b', 'a\\b', 'C:x', '..', '.', '', 'a\nb'])
      expect(() => parseDlManifest(enc({ v: { filename: bad, shape: [1] } }))).toThrow(
        /only plain names of files inside the checkpoint's folder/,
      );
    expect(isPlainFileName('Variable_12')).toBe(true);
    expect(isPlainFileName('w.bin')).toBe(true);
    // The folder's sibling is never opened: the name is refused before the reader is asked for it.
    let asked = 0;
    await expect(
      readDlCheckpoint(enc({ v: { filename: '../v', shape: [1] } }), async () => (asked++, f32([1]))),
    ).rejects.toThrow(/plain names/);
    expect(asked).toBe(0);
  });

  it('refuses bad shapes, oversized totals, duplicate files and malformed manifests, saying why', () => {
    const one = (shape: unknown) => parseDlManifest(enc({ v: { filename: 'v', shape } }));
    for (const shape of [[-1], [1.5], ['3'], 3, null, [1, 2, 3, 4, 5, 6, 7, 8, 9], [2 ** 53]])
      expect(() => one(shape)).toThrow(/a shape is a list of at most 8 whole numbers >= 0/);
    expect(() => one([65536, 65536])).toThrow(/hold more than 268435456 floats \(1 GiB\), the limit/);
    expect(() => parseDlManifest(enc({ a: { filename: 'f', shape: [1] }, b: { filename: 'f', shape: [1] } }))).toThrow(
      /variables "a" and "b" both name the file "f"/,
    );
    expect(() => parseDlManifest(enc('[1, 2]'))).toThrow(/not a JSON object of variables/);
    expect(() => parseDlManifest(enc('{"a": '))).toThrow(/the manifest is not JSON/);
    expect(() => parseDlManifest(enc({}))).toThrow(/lists no variables/);
    expect(() => parseDlManifest(enc({ a: 3 }))).toThrow(/variable "a" is not an object with "filename" and "shape"/);
    expect(() => parseDlManifest(enc({ a: { shape: [1] } }))).toThrow(/variable "a" has no "filename" string/);
  });

  it('counts the entries and measures the manifest before parsing it', () => {
    const many = Object.fromEntries(
      Array.from({ length: MAX_DL_ENTRIES + 5 }, (_, i) => [`v${i}`, { filename: `v${i}`, shape: [1] }]),
    );
    expect(() => parseDlManifest(enc(many))).toThrow(
      `lists about ${MAX_DL_ENTRIES + 5} variables; the limit is ${MAX_DL_ENTRIES}`,
    );
    expect(() => parseDlManifest(new Uint8Array(MAX_DL_MANIFEST_BYTES + 1).fill(0x20))).toThrow(
      `the manifest is ${MAX_DL_MANIFEST_BYTES + 1} bytes; the limit is ${MAX_DL_MANIFEST_BYTES}`,
    );
  });

  it('a folder without manifest.json says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlckpt-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'sub'));
    await expect(loadWeights(tf, { name: 'x', source: join(dir, 'sub') }, '/', {} as never)).rejects.toThrow(
      /no such file: .*sub\/manifest.json/,
    );
  });
});
