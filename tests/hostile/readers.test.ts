import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { encodeLink } from '../../src/codecs/link';
import { readPth } from '../../src/models/weights/pth';
import { readSafetensors } from '../../src/models/weights/safetensors';
import { readZip } from '../../src/models/weights/zip';
import { decodeImage } from '../../src/cli/node/node-images';
import { runCase } from './bounded';
import { concat, legacyPth, type TensorSpec } from './build';

/**
 * The hostile-input corpus (issue 16), readers: each case runs in a process of its own and must end with a clear
 * error (or the right result) within the time and memory bound it asserts. "growth" is the peak resident size after
 * the reader minus the resident size before it: the memory the reader took, at most.
 */
describe('hostile input: every reader is bounded in time and memory', () => {
  it('pickle: a 200 KB LONG4 integer is refused at once (it was quadratic: minutes)', async () => {
    const r = await runCase('pickle-long4');
    expect(r.errorClass).toBe('PickleError');
    expect(r.error).toMatch(/200000-byte integer \(the limit is 64 bytes/);
    expect(r.ms).toBeLessThan(500);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('pickle: 300k APPENDS are read, without overflowing the stack', async () => {
    const r = await runCase('pickle-appends');
    expect(r.error).toBeUndefined();
    expect(r.result).toBe(300_000);
    expect(r.ms).toBeLessThan(2000);
    expect(r.growthMB).toBeLessThan(64);
  });

  it('pickle: a million nested tuples are parsed and refused without recursion', async () => {
    const r = await runCase('pickle-deep');
    expect(r.errorClass).toBe('PickleError');
    expect(r.error).toMatch(/a global's module is a tuple or list of 1, not a string/);
    expect(r.ms).toBeLessThan(3000);
    expect(r.growthMB).toBeLessThan(256); // the million tuples themselves
  });

  it('.pth: a stride-0 view of 20000 x 20000 over one float is refused (it took 1.6 GB)', async () => {
    const r = await runCase('pth-stride0');
    expect(r.error).toMatch(
      /tensor "w" has shape \[20000, 20000\] \(400000000 elements\) but its storage holds 1: a view larger than its storage is refused/,
    );
    expect(r.ms).toBeLessThan(500);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('.pth: one deflated storage referenced 40 times is inflated once and refused (it took 1.6 GB)', async () => {
    const r = await runCase('pth-shared-40');
    expect(r.error).toMatch(/its tensors would take more than 4 times the size of their storages/);
    expect(r.ms).toBeLessThan(3000);
    expect(r.growthMB).toBeLessThan(128); // the 20 MB storage, inflated once
  });

  it('safetensors: an 89 MB header with 1.5 M entries is refused before parsing (it took 2 GB)', async () => {
    const r = await runCase('safetensors-89mb-header');
    expect(r.error).toMatch(/the header is 89000000 bytes; the limit is 16777216/);
    expect(r.ms).toBeLessThan(100);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('safetensors: 200k entries under the size cap are counted and refused before JSON.parse', async () => {
    const r = await runCase('safetensors-200k-entries');
    expect(r.error).toMatch(/lists about 200000 entries; the limit is 100000/);
    expect(r.ms).toBeLessThan(500);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('deeplearn.js checkpoint: a 100 MB manifest.json is refused by its size, before parsing', async () => {
    const r = await runCase('dl-manifest-100mb');
    expect(r.errorClass).toBe('WeightsError');
    expect(r.error).toMatch(/the manifest is 100000000 bytes; the limit is 4194304/);
    expect(r.ms).toBeLessThan(100);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('deeplearn.js checkpoint: 300k variables under the size cap are counted and refused before JSON.parse', async () => {
    const r = await runCase('dl-manifest-300k-entries');
    expect(r.error).toMatch(/lists about 300000 variables; the limit is 10000/);
    expect(r.ms).toBeLessThan(500);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('deeplearn.js checkpoint: 1 GiB claimed by the manifest over 8-byte files is refused before allocating it', async () => {
    const r = await runCase('dl-claims-1gib');
    expect(r.error).toMatch(/"v0" is 8 bytes, but variable "v0" \[8192, 8192\] needs 268435456/);
    expect(r.ms).toBeLessThan(100);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('deeplearn.js checkpoint: a shape of 2^120 elements is refused while multiplying, before a file is read', async () => {
    const r = await runCase('dl-shape-2e120');
    expect(r.error).toMatch(/hold more than 268435456 floats \(1 GiB\), the limit/);
    expect(r.ms).toBeLessThan(100);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('PNG: a graph chunk that inflates to 1 GB stops at the 8 MiB cap while inflating (it took 3.2 GB)', async () => {
    const r = await runCase('png-graph-1gb');
    expect(r.errorClass).toBe('PngError');
    expect(r.error).toMatch(/inflates past 8388608 bytes/);
    expect(r.ms).toBeLessThan(3000);
    expect(r.growthMB).toBeLessThan(64);
  });

  it('PNG: a 12000 x 12000 image is refused from its header, before decoding (it took 1.5 GB)', async () => {
    const r = await runCase('png-12000px');
    expect(r.error).toMatch(/big.png is 12000 x 12000 px \(144.0 MP\); the limit is 40 MP/);
    expect(r.ms).toBeLessThan(100);
    expect(r.growthMB).toBeLessThan(32);
  });

  it('share link: a 5000-node graph in a link of under 20 KB is refused quickly, with the limit', async () => {
    const r = await runCase('link-5000-nodes');
    expect(r.error).toMatch(/the document has 5000 nodes; the limit is 2000/);
    expect(r.ms).toBeLessThan(1000);
    expect(r.growthMB).toBeLessThan(64);
  });
});

const legacy = (t: Partial<TensorSpec>, floats = 100) =>
  legacyPth([{ name: 'w', storage: '0', storageSize: floats, offset: 0, shape: [floats], stride: [1], ...t }], {
    0: Float32Array.from({ length: floats }, (_, i) => i),
  });

describe('hostile input: offsets and strides are checked for sign, order and bounds', () => {
  it('.pth: reads a plain view, a transposed view and an offset view', () => {
    expect(Array.from(readPth(legacy({ shape: [2, 3], stride: [3, 1], offset: 4 })).get('w')!.data)).toEqual([
      4, 5, 6, 7, 8, 9,
    ]);
    expect(Array.from(readPth(legacy({ shape: [3, 2], stride: [1, 3] })).get('w')!.data)).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('.pth: negative offsets and strides, overlapping strides and views past the storage are refused, saying why', () => {
    expect(() => readPth(legacy({ shape: [10], stride: [-1], offset: 9 }))).toThrow(
      /a size or stride is -1, not a whole number >= 0 \(negative strides are refused\)/,
    );
    expect(() => readPth(legacy({ offset: -4, shape: [4] }))).toThrow(/storage offset -4 is not a whole number >= 0/);
    expect(() => readPth(legacy({ shape: [10, 10], stride: [1, 1] }))).toThrow(
      /strides \[1, 1\] for shape \[10, 10\] overlap/,
    );
    expect(() => readPth(legacy({ shape: [10, 10], stride: [0, 1] }))).toThrow(/overlap/);
    expect(() => readPth(legacy({ shape: [60], offset: 50 }))).toThrow(/reaches past the end of its storage/);
    expect(() => readPth(legacy({ shape: [200] }))).toThrow(/a view larger than its storage is refused/);
  });

  const st = (entries: Record<string, [number, number]>, dataBytes = 64) => {
    const header: Record<string, unknown> = {};
    for (const [name, [b, e]] of Object.entries(entries))
      header[name] = { dtype: 'F32', shape: [Math.max(0, (e - b) / 4)], data_offsets: [b, e] };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
    return concat([len, json, new Uint8Array(dataBytes)]);
  };

  it('safetensors: reversed, negative, overlapping and out-of-bounds offsets are refused', () => {
    expect(readSafetensors(st({ a: [0, 16], b: [16, 32] })).size).toBe(2);
    expect(() => readSafetensors(st({ a: [16, 8] }))).toThrow(
      /"a" has data offsets \[16, 8\]: they must be whole numbers >= 0, the end not before the start/,
    );
    expect(() => readSafetensors(st({ a: [-8, 0] }))).toThrow(/"a" has data offsets \[-8, 0\]/);
    expect(() => readSafetensors(st({ a: [0, 16], b: [8, 24] }))).toThrow(
      /tensors "a" \[0, 16\] and "b" \[8, 24\] overlap/,
    );
    expect(() => readSafetensors(st({ a: [0, 128] }))).toThrow(/past the end/);
  });

  it('zip: a deflated entry claiming more than deflate can give is refused before allocating it', () => {
    const bytes = zipSync({ x: [new Uint8Array(1000), { level: 9 }] });
    const view = new DataView(bytes.buffer);
    const central = bytes.findIndex((_, i) => i + 4 <= bytes.length && view.getUint32(i, true) === 0x02014b50);
    view.setUint32(central + 24, 0xffffffff, true); // the declared size: 4 GiB
    const compressed = view.getUint32(central + 20, true);
    expect(() => readZip(bytes).get('x')!.read()).toThrow(
      `claims 4294967295 bytes from ${compressed} compressed, more than deflate can give`,
    );
  });

  it('JPEG: the size is read from the header and checked before decoding', () => {
    // SOI, SOF0 of 9000 x 9000 (81 MP: under jpeg-js's own 100 MP check), EOI.
    const jpg = Uint8Array.from([0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0x23, 0x28, 0x23, 0x28, 1, 1, 0x11, 0, 0xff, 0xd9]);
    expect(() => decodeImage(jpg, 'huge.jpg')).toThrow(/huge.jpg is 9000 x 9000 px \(81.0 MP\); the limit is 40 MP/);
  });

  it('a share link of 5000 nodes is small enough to send (what the corpus case opens)', () => {
    const doc = {
      format: 'stylegraph',
      version: 1,
      edges: [],
      nodes: Array.from({ length: 5000 }, (_, i) => ({ id: `n${i}`, type: 'scalar' })),
    };
    expect(encodeLink(JSON.stringify(doc)).fragment.length).toBeLessThan(20_000);
  });
});
