import { decodeLink, encodeLink } from '../../src/codecs/link';
import { extractText } from '../../src/codecs/png';
import { parseDocument } from '../../src/graph/document';
import { parseDlManifest, readDlCheckpoint } from '../../src/models/weights/dl-checkpoint';
import { unpickle } from '../../src/models/weights/pickle';
import { readPth } from '../../src/models/weights/pth';
import { readSafetensors } from '../../src/models/weights/safetensors';
import { decodeImage } from '../../src/cli/node/node-images';
import { P, bigPng, concat, legacyPth, pngWithGraphChunk, zipPth, zlibOfZeros } from './build';

/**
 * The hostile-input cases that need a process of their own: each builds its input (small, or built before the
 * measurement starts), then runs one reader. `run-case.ts` measures the time and the peak memory it takes.
 */
export interface Case {
  build(): unknown;
  /** May return a promise (a reader that reads files through a callback): run-case.ts awaits it. */
  run(input: unknown): unknown;
}

const enc = new TextEncoder();

export const CASES: Record<string, Case> = {
  /** A 200 KB LONG4 integer: converting it was quadratic (minutes). */
  'pickle-long4': {
    build: () => concat([P.proto, [0x8b], [0x40, 0x0d, 0x03, 0x00], new Uint8Array(200_000).fill(1), P.stop]),
    run: (b) => unpickle(b as Uint8Array, { globals: {} }).value,
  },
  /** 300k APPENDS: spreading them as arguments overflowed the call stack. */
  'pickle-appends': {
    build: () =>
      concat([
        P.proto,
        [0x5d, 0x28],
        ...Array.from({ length: 300_000 }, () => Uint8Array.from([0x4b, 1])),
        [0x65],
        P.stop,
      ]),
    run: (b) => (unpickle(b as Uint8Array, { globals: {} }).value as unknown[]).length,
  },
  /** A million nested tuples named as a global's module: describing them recursed until the stack overflowed. */
  'pickle-deep': {
    build: () =>
      concat([
        P.proto,
        new Uint8Array(1_000_000).fill(0x28),
        new Uint8Array(1_000_000).fill(0x74),
        P.str('system'),
        [0x93],
        P.stop,
      ]),
    run: (b) => unpickle(b as Uint8Array, { globals: {} }).value,
  },
  /** A few hundred bytes: one float viewed as 20000 x 20000 through stride 0 (1.6 GB). */
  'pth-stride0': {
    build: () =>
      legacyPth([{ name: 'w', storage: '0', storageSize: 1, offset: 0, shape: [20000, 20000], stride: [0, 0] }], {
        0: new Float32Array(1),
      }),
    run: (b) => readPth(b as Uint8Array).size,
  },
  /** One deflated 20 MB storage (about 20 KB of zip) referenced by 40 tensors: 40 inflations and 40 copies. */
  'pth-shared-40': {
    build: () =>
      zipPth(
        Array.from({ length: 40 }, (_, i) => ({
          name: `w${i}`,
          storage: '0',
          storageSize: 5_000_000,
          offset: 0,
          shape: [5_000_000],
          stride: [1],
        })),
        { 0: new Uint8Array(20_000_000) },
      ),
    run: (b) => readPth(b as Uint8Array).size,
  },
  /** An 89 MB header listing 1.5 million tensors (2 GB once parsed). */
  'safetensors-89mb-header': {
    build: () => safetensorsHeader(1_500_000, 89_000_000),
    run: (b) => readSafetensors(b as Uint8Array).size,
  },
  /** 200k entries in a 10 MB header, under the header cap: refused by their count before JSON.parse. */
  'safetensors-200k-entries': {
    build: () => safetensorsHeader(200_000, 0),
    run: (b) => readSafetensors(b as Uint8Array).size,
  },
  /** A PNG whose graph chunk (6.5 MB) inflates to 1 GB. */
  'png-graph-1gb': {
    build: () => pngWithGraphChunk(zlibOfZeros(1024 * 1024 * 1024)),
    run: (b) => extractText(b as Uint8Array)?.length,
  },
  /** A 12000 x 12000 PNG of about 200 KB (576 MB as RGBA). */
  'png-12000px': {
    build: () => bigPng(12000, 12000),
    run: (b) => decodeImage(b as Uint8Array, 'big.png').width,
  },
  /** A 5000-node graph in a share link of under 20 KB. */
  'link-5000-nodes': {
    build: () =>
      encodeLink(
        JSON.stringify({
          format: 'stylegraph',
          version: 1,
          edges: [],
          nodes: Array.from({ length: 5000 }, (_, i) => ({ id: `n${i}`, type: 'scalar' })),
        }),
      ).fragment,
    run: (f) => {
      const r = parseDocument(decodeLink(f as string));
      if (!r.model) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
      return r.model.nodes.length;
    },
  },
  /** A 100 MB deeplearn.js manifest.json: refused by its size, before it is decoded or parsed. */
  'dl-manifest-100mb': {
    build: () => {
      const out = new Uint8Array(100_000_000).fill(0x20);
      enc.encodeInto('{"Variable":{"filename":"Variable","shape":[1]}}', out);
      return out;
    },
    run: (b) => parseDlManifest(b as Uint8Array).length,
  },
  /** 300k variables in a 3.5 MB manifest, under the size cap: refused by their count before JSON.parse. */
  'dl-manifest-300k-entries': {
    build: () => enc.encode(`{${Array.from({ length: 300_000 }, (_, i) => `"v${i}":{}`).join(',')}}`),
    run: (b) => parseDlManifest(b as Uint8Array).length,
  },
  /** A manifest claiming 1 GiB in four variables (at the cap) whose files hold 8 bytes: refused before allocating. */
  'dl-claims-1gib': {
    build: () =>
      enc.encode(
        JSON.stringify(
          Object.fromEntries([0, 1, 2, 3].map((i) => [`v${i}`, { filename: `v${i}`, shape: [8192, 8192] }])),
        ),
      ),
    run: (b) => readDlCheckpoint(b as Uint8Array, async () => new Uint8Array(8)).then((d) => d.size),
  },
  /** A shape whose product is 2^120: refused by the cap while multiplying, before any file is asked for. */
  'dl-shape-2e120': {
    build: () => enc.encode(JSON.stringify({ w: { filename: 'w', shape: [2 ** 30, 2 ** 30, 2 ** 30, 2 ** 30] } })),
    run: (b) =>
      readDlCheckpoint(b as Uint8Array, async () => {
        throw new Error('a file was read');
      }).then((d) => d.size),
  },
};

/** A safetensors file of `entries` empty tensors, its header padded with spaces to `size` bytes; written straight into bytes. */
function safetensorsHeader(entries: number, size: number): Uint8Array {
  const entry = (i: number) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`;
  let length = 2 + entries - 1;
  for (let i = 0; i < entries; i++) length += entry(i).length;
  const n = Math.max(length, size);
  const out = new Uint8Array(8 + n).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  let at = 8;
  out[at++] = 0x7b;
  for (let i = 0; i < entries; i++) at += enc.encodeInto(`${i ? ',' : ''}${entry(i)}`, out.subarray(at)).written;
  out[at] = 0x7d;
  return out;
}
