import { zipSync, zlibSync } from 'fflate';
import { crc32 } from '../../src/codecs/png';

/** Builders for hostile files: pickles, .pth checkpoints, safetensors headers, PNGs. Small inputs, large claims. */

const enc = new TextEncoder();
const u32le = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const i32le = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
};

export function concat(parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of arrays) out.set(p, (at += p.length) - p.length);
  return out;
}

/** Pickle opcodes for the values a state_dict uses. */
export const P = {
  proto: [0x80, 2],
  stop: [0x2e],
  mark: [0x28],
  tuple: [0x74],
  emptyDict: [0x7d],
  setitem: [0x73],
  reduce: [0x52],
  binpersid: [0x51],
  false: [0x89],
  int: (n: number) => concat([[0x4a], i32le(n)]),
  str: (s: string) => {
    const b = enc.encode(s);
    return concat([[0x58], u32le(b.length), b]);
  },
  global: (module: string, name: string) => concat([[0x63], enc.encode(`${module}\n${name}\n`)]),
  tupleOf: (...items: Uint8Array[]) => concat([[0x28], ...items, [0x74]]),
};

export interface TensorSpec {
  name: string;
  storage: string;
  storageSize: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** The pickle of a state_dict of float32 tensors (torch's own opcodes: _rebuild_tensor_v2 over persistent storages). */
export function stateDictPickle(tensors: TensorSpec[]): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.from(P.proto), Uint8Array.from(P.emptyDict)];
  for (const t of tensors) {
    parts.push(P.str(t.name));
    parts.push(P.global('torch._utils', '_rebuild_tensor_v2'));
    const pid = P.tupleOf(
      P.str('storage'),
      P.global('torch', 'FloatStorage'),
      P.str(t.storage),
      P.str('cpu'),
      P.int(t.storageSize),
    );
    parts.push(
      concat([
        [0x28],
        pid,
        P.binpersid,
        P.int(t.offset),
        P.tupleOf(...t.shape.map(P.int)),
        P.tupleOf(...t.stride.map(P.int)),
        P.false,
        P.global('collections', 'OrderedDict'),
        P.tupleOf(),
        P.reduce,
        P.tuple,
      ]),
    );
    parts.push(Uint8Array.from(P.reduce), Uint8Array.from(P.setitem));
  }
  parts.push(Uint8Array.from(P.stop));
  return concat(parts);
}

/** A legacy (pre-zip) torch.save stream: magic, protocol, sys info, the state_dict, the storage keys, the storages. */
export function legacyPth(tensors: TensorSpec[], storages: Record<string, Float32Array>): Uint8Array {
  const magic = concat([P.proto, [0x8a, 10], [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19], P.stop]);
  const protocol = concat([P.proto, P.int(1001), P.stop]);
  const sys = concat([P.proto, P.emptyDict, P.stop]);
  const keys = Object.keys(storages);
  const keyList = concat([P.proto, [0x28], ...keys.map(P.str), [0x6c], P.stop]);
  const data = keys.flatMap((k) => {
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigInt64(0, BigInt(storages[k]!.length), true);
    return [n, new Uint8Array(storages[k]!.buffer.slice(0))];
  });
  return concat([magic, protocol, sys, stateDictPickle(tensors), keyList, ...data]);
}

/** A zip .pth (torch >= 1.6) whose storages are deflated (torch stores them, but a zip may compress). */
export function zipPth(tensors: TensorSpec[], storages: Record<string, Uint8Array>): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 | 9 }]> = {
    'archive/data.pkl': [stateDictPickle(tensors), { level: 0 }],
  };
  for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = [v, { level: 9 }];
  return zipSync(files);
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(enc.encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * zlib of `total` zero bytes, written by hand in a few milliseconds: one fixed-Huffman block of a literal 0 and then
 * matches of 258 bytes at distance 1 (13 bits each, about 160 times smaller than what they inflate to).
 */
export function zlibOfZeros(total: number): Uint8Array {
  const matches = Math.ceil((total - 1) / 258);
  const out = new Uint8Array(2 + Math.ceil((3 + 8 + 13 * matches + 7) / 8) + 4);
  out.set([0x78, 0x01]);
  let bit = 16;
  const put = (code: number, len: number) => {
    for (let i = len - 1; i >= 0; i--, bit++) if ((code >> i) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  };
  put(0b1, 1); // BFINAL
  put(0b10, 2); // BTYPE 01 (fixed), written least significant bit first
  put(0x30, 8); // literal 0
  for (let i = 0; i < matches; i++) {
    put(0xc5, 8); // length 258
    put(0, 5); // distance 1
  }
  put(0, 7); // end of block
  return out; // the Adler-32 is left as zeros: a reader stopped at its cap never gets there
}

/** A grey PNG of `width` x `height` zero pixels, its image data compressed row by row. */
export function bigPng(width: number, height: number, extra: Uint8Array[] = []): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  const rows = zlibOfZeros(height * (width + 1));
  return concat([
    SIGNATURE,
    pngChunk('IHDR', ihdr),
    ...extra,
    pngChunk('IDAT', rows),
    pngChunk('IEND', new Uint8Array()),
  ]);
}

/** A 1 x 1 PNG with a stylegraph iTXt chunk whose compressed body is `body`. */
export function pngWithGraphChunk(body: Uint8Array): Uint8Array {
  const head = concat([enc.encode('stylegraph\0'), [1, 0, 0, 0]]);
  return bigPng(1, 1, [pngChunk('iTXt', concat([head, body]))]);
}

export { zlibSync };
