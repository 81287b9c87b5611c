import { zlibSync } from 'fflate';
import { inflateLimited } from './inflate';

/**
 * The graph document inside a PNG: an iTXt chunk with keyword "stylegraph", zlib-compressed UTF-8 JSON,
 * inserted before IEND. Reading checks the signature, every chunk's bounds and CRC, and caps the
 * decompressed size, so a corrupt or hostile file gives an error, never a crash or a memory blow-up.
 */
export const PNG_KEYWORD = 'stylegraph';
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export class PngError extends Error {}

interface Chunk {
  type: string;
  start: number; // offset of the length field
  data: Uint8Array;
}

function chunks(png: Uint8Array): Chunk[] {
  if (png.length < 8 || SIGNATURE.some((b, i) => png[i] !== b)) throw new PngError('not a PNG file');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  for (let p = 8; p < png.length;) {
    if (p + 12 > png.length) throw new PngError('the PNG ends inside a chunk header (truncated file?)');
    const length = view.getUint32(p);
    const type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    if (p + 12 + length > png.length)
      throw new PngError(`PNG chunk ${JSON.stringify(type)} runs past the end of the file`);
    const typeAndData = png.subarray(p + 4, p + 8 + length);
    if (crc32(typeAndData) !== view.getUint32(p + 8 + length))
      throw new PngError(`PNG chunk ${JSON.stringify(type)} is corrupt (CRC mismatch)`);
    out.push({ type, start: p, data: png.subarray(p + 8, p + 8 + length) });
    p += 12 + length;
    if (type === 'IEND') break;
  }
  if (out.at(-1)?.type !== 'IEND') throw new PngError('the PNG has no IEND chunk (truncated file?)');
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A copy of `png` carrying `text` (replacing an earlier stylegraph chunk). */
export function embedText(png: Uint8Array, text: string): Uint8Array {
  const list = chunks(png).filter((c) => !(c.type === 'iTXt' && keywordOf(c.data) === PNG_KEYWORD));
  const head = new TextEncoder().encode(`${PNG_KEYWORD}\0`);
  const body = zlibSync(new TextEncoder().encode(text), { level: 9 });
  // keyword \0, compression flag 1, method 0 (zlib), empty language tag \0, empty translated keyword \0, text
  const data = new Uint8Array(head.length + 4 + body.length);
  data.set(head, 0);
  data.set([1, 0, 0, 0], head.length);
  data.set(body, head.length + 4);
  const parts = [
    png.subarray(0, 8),
    ...list.slice(0, -1).map((c) => png.subarray(c.start, c.start + 12 + c.data.length)),
    chunk('iTXt', data),
    chunk('IEND', new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

function keywordOf(data: Uint8Array): string {
  const end = data.indexOf(0);
  return end < 0 ? '' : new TextDecoder('latin1').decode(data.subarray(0, end));
}

/** The embedded document text, null when the PNG has none; throws PngError on a damaged file or chunk. */
export function extractText(png: Uint8Array, limit = MAX_DOCUMENT_BYTES): string | null {
  const found = chunks(png).find((c) => c.type === 'iTXt' && keywordOf(c.data) === PNG_KEYWORD);
  if (!found) return null;
  const d = found.data;
  let p = d.indexOf(0) + 1;
  const [compressed, method] = [d[p], d[p + 1]];
  p += 2;
  for (let i = 0; i < 2; i++) {
    const end = d.indexOf(0, p);
    if (end < 0) throw new PngError('the stylegraph chunk is malformed');
    p = end + 1;
  }
  const body = d.subarray(p);
  if (!compressed) {
    if (body.length > limit) throw new PngError(`the embedded graph is larger than ${limit} bytes`);
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  }
  if (method !== 0) throw new PngError(`unknown iTXt compression method ${method}`);
  let all: Uint8Array;
  try {
    all = inflateLimited(body, 'zlib', limit, () => new PngError(`the embedded graph inflates past ${limit} bytes`));
  } catch (e) {
    if (e instanceof PngError) throw e;
    throw new PngError(`the embedded graph does not decompress: ${(e as Error).message}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(all);
  } catch {
    throw new PngError('the embedded graph is not UTF-8 text');
  }
}

export const isPng = (bytes: Uint8Array): boolean => bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);

/**
 * An 8-bit greyscale PNG (colour type 0) of `grey`, one byte per pixel row by row: filter 0 on every row, one IDAT
 * chunk, zlib at level 9. Masks (mostly flat areas) come out at a few kB.
 */
export function encodeGreyPng(width: number, height: number, grey: Uint8Array): Uint8Array {
  if (!(width > 0 && height > 0) || grey.length !== width * height)
    throw new PngError(`a ${width}x${height} grey picture needs ${width * height} bytes, not ${grey.length}`);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, greyscale, deflate, adaptive filtering, no interlace
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(grey.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk('IHDR', header),
    chunk('IDAT', zlibSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}
