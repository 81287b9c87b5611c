import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../src/cli/node/node-images';
import { loadDocumentImages } from '../src/cli/node/node-session';
import { jpegOrientation } from '../src/codecs/exif';
import { compileWithImages } from '../src/runtime/sources';
import { graph, registry } from './helpers';

/**
 * A 3 x 2 grid of flat 16 px blocks, six colours (stored as A B C over D E F), encoded by jpeg-js at quality 100;
 * an EXIF APP1 segment is spliced in after SOI. What each orientation shows is written out by hand below.
 */
const B = 16;
const COLOURS: Record<string, [number, number, number]> = {
  A: [230, 30, 30],
  B: [30, 200, 30],
  C: [30, 30, 230],
  D: [230, 230, 30],
  E: [30, 220, 220],
  F: [220, 30, 220],
};
const STORED = ['ABC', 'DEF'];
const UPRIGHT: Record<number, string[]> = {
  1: ['ABC', 'DEF'],
  2: ['CBA', 'FED'], // mirrored left to right
  3: ['FED', 'CBA'], // half turn
  4: ['DEF', 'ABC'], // flipped top to bottom
  5: ['AD', 'BE', 'CF'], // transposed
  6: ['DA', 'EB', 'FC'], // a quarter turn clockwise
  7: ['FC', 'EB', 'DA'], // transverse
  8: ['CF', 'BE', 'AD'], // a quarter turn anticlockwise
};

function encodeGrid(): Uint8Array {
  const [w, h] = [3 * B, 2 * B];
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const c = COLOURS[STORED[Math.floor(y / B)]![Math.floor(x / B)]!]!;
      data.set([...c, 255], (y * w + x) * 4);
    }
  return jpeg.encode({ width: w, height: h, data }, 100).data;
}

/** An APP1 "Exif" segment whose IFD0 holds `entries` (tag, type, count, value), in either byte order. */
function exifSegment(little: boolean, entries: [number, number, number, number][], ifdOffset = 8): Uint8Array {
  const tiff = Buffer.alloc(8 + 2 + 12 * entries.length + 4);
  const u16 = (v: number, p: number) => (little ? tiff.writeUInt16LE(v, p) : tiff.writeUInt16BE(v, p));
  const u32 = (v: number, p: number) => (little ? tiff.writeUInt32LE(v, p) : tiff.writeUInt32BE(v, p));
  tiff.write(little ? 'II' : 'MM', 0, 'latin1');
  u16(42, 2);
  u32(ifdOffset, 4);
  u16(entries.length, 8);
  entries.forEach(([tag, type, count, value], i) => {
    const e = 10 + 12 * i;
    u16(tag, e);
    u16(type, e + 2);
    u32(count, e + 4);
    u16(value, e + 8); // a SHORT sits in the first two bytes of the value field
  });
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return new Uint8Array(Buffer.concat([head, body]));
}

const splice = (jpg: Uint8Array, segment: Uint8Array) =>
  Uint8Array.from([...jpg.subarray(0, 2), ...segment, ...jpg.subarray(2)]);

/** The block letters of a decoded picture, read at each block's centre (nearest colour, checked close). */
function blocks(img: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }): string[] {
  const rows: string[] = [];
  for (let by = 0; by < img.height / B; by++) {
    let row = '';
    for (let bx = 0; bx < img.width / B; bx++) {
      const p = ((by * B + B / 2) * img.width + bx * B + B / 2) * 4;
      const px = [img.data[p]!, img.data[p + 1]!, img.data[p + 2]!];
      const [name, dist] = Object.entries(COLOURS)
        .map(([n, c]) => [n, Math.max(...c.map((v, i) => Math.abs(v - px[i]!)))] as const)
        .sort((a, b) => a[1] - b[1])[0]!;
      expect(dist).toBeLessThan(16);
      row += name;
    }
    rows.push(row);
  }
  return rows;
}

describe('EXIF orientation in the CLI decoder', () => {
  const plain = encodeGrid();
  const ORIENTATION = 0x0112;

  for (const little of [true, false])
    for (let o = 1; o <= 8; o++)
      it(`turns orientation ${o} upright (${little ? 'little' : 'big'}-endian EXIF), sides swapped for 5-8`, () => {
        // Another tag before it, as cameras write (Make, ASCII): the reader walks the entries.
        const jpg = splice(
          plain,
          exifSegment(little, [
            [0x010f, 2, 4, 0x4142],
            [ORIENTATION, 3, 1, o],
          ]),
        );
        expect(jpegOrientation(jpg)).toBe(o);
        const img = decodeImage(jpg, 'photo.jpg');
        expect([img.width, img.height]).toEqual(o >= 5 ? [2 * B, 3 * B] : [3 * B, 2 * B]);
        expect(blocks(img)).toEqual(UPRIGHT[o]);
      });

  it('decodes a JPEG without EXIF, or with malformed EXIF, as stored (orientation 1)', () => {
    const malformed: [string, Uint8Array][] = [
      ['no EXIF', plain],
      ['value 9', splice(plain, exifSegment(true, [[ORIENTATION, 3, 1, 9]]))],
      ['a LONG, not a SHORT', splice(plain, exifSegment(false, [[ORIENTATION, 4, 1, 6]]))],
      ['IFD0 past the segment', splice(plain, exifSegment(true, [[ORIENTATION, 3, 1, 6]], 4000))],
      ['IFD0 inside the TIFF header', splice(plain, exifSegment(true, [[ORIENTATION, 3, 1, 6]], 2))],
    ];
    // Byte order "XX"; and an IFD0 that declares 50 entries in a segment holding one (the tag is past the end).
    const badOrder = exifSegment(true, [[ORIENTATION, 3, 1, 6]]);
    badOrder.set([0x58, 0x58], 10);
    malformed.push(['byte order XX', splice(plain, badOrder)]);
    const overCount = exifSegment(false, [[0x010f, 2, 4, 0]]);
    overCount.set([0, 50], 18);
    // The 50 entries the segment lacks are the JPEG's own bytes after it: never read as EXIF.
    malformed.push(['50 entries declared, 1 there', splice(plain, overCount)]);
    for (const [what, jpg] of malformed) {
      expect(jpegOrientation(jpg), what).toBe(1);
      expect(blocks(decodeImage(jpg, 'photo.jpg')), what).toEqual(STORED);
    }
  });

  it('gives the plan the upright size, so the plan and the run agree (a quarter turn is portrait)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exif-'));
    const shapes: Record<number, unknown> = {};
    for (const o of [1, 6, 8]) {
      writeFileSync(join(dir, `photo${o}.jpg`), splice(plain, exifSegment(o === 6, [[ORIENTATION, 3, 1, o]])));
      const model = graph(
        [
          ['content', 'image', { source: `photo${o}.jpg`, slot: 'content' }],
          ['out', 'output', {}],
        ],
        [['content.image', 'out.image']],
      );
      const { images, errors } = await loadDocumentImages(model, registry, join(dir, 'doc.json'));
      expect(errors).toEqual([]);
      const { plan } = compileWithImages(model, registry, images, 96);
      const value = plan!.steps.flatMap((s) => s.outputs).find((v) => v.key === 'content.image')!;
      shapes[o] = value.info.shape;
    }
    // Stored 48 x 32 (landscape): 96 px on the longest side, 3:2 as stored, 2:3 turned a quarter.
    expect(shapes).toEqual({ 1: [1, 64, 96, 3], 6: [1, 96, 64, 3], 8: [1, 96, 64, 3] });
  });
});
