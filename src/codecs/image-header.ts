/**
 * A picture's size read from its header, before anything decodes it, and the one pixel limit every host applies
 * (the CLI's decoder, the browser worker's, the mask painter). Reading is bounded: no offset past the bytes given.
 */

/** The most pixels an input image may have (40 MP, e.g. 7700 x 5200; 160 MB as RGBA), checked from its header before decoding. */
export const MAX_IMAGE_PIXELS = 40_000_000;

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';

export interface ImageHeader {
  format: ImageFormat;
  /** As stored (a JPEG's EXIF orientation 5-8 swaps them once decoded and turned upright). */
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
const u16be = (b: Uint8Array, p: number) => (b[p]! << 8) | b[p + 1]!;
const u16le = (b: Uint8Array, p: number) => b[p]! | (b[p + 1]! << 8);
const u32be = (b: Uint8Array, p: number) => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
const u32le = (b: Uint8Array, p: number) => u32be(Uint8Array.of(b[p + 3]!, b[p + 2]!, b[p + 1]!, b[p]!), 0);

/** Where a JPEG's marker segments lie, from SOI up to the first SOS (or the end); stops at anything malformed. */
export function* jpegSegments(b: Uint8Array): Generator<{ marker: number; start: number; end: number }> {
  if (b[0] !== 0xff || b[1] !== 0xd8) return;
  for (let p = 2; p + 4 <= b.length;) {
    if (b[p] !== 0xff) return;
    const marker = b[p + 1]!;
    if (marker === 0xff) {
      p++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    if (marker === 0xd9) return;
    const end = p + 2 + u16be(b, p + 2);
    if (end > b.length || end < p + 4) return;
    // The segment's data: after the marker and its two length bytes.
    yield { marker, start: p + 4, end };
    if (marker === 0xda) return;
    p = end;
  }
}

/** A JPEG's size from its first start-of-frame marker (SOF0-SOF15 but DHT, JPG and DAC); null when none is found. */
function jpegSize(b: Uint8Array): { width: number; height: number } | null {
  for (const s of jpegSegments(b)) {
    const m = s.marker;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc)
      return s.end - s.start >= 5 ? { height: u16be(b, s.start + 1), width: u16be(b, s.start + 3) } : null;
  }
  return null;
}

/** A WebP's canvas size: VP8X (extended), VP8L (lossless) or VP8 (lossy), the first chunk after the RIFF header. */
function webpSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length < 30) return null;
  const chunk = ascii(b, 12, 16);
  if (chunk === 'VP8X') {
    const w = b[24]! | (b[25]! << 8) | (b[26]! << 16);
    const h = b[27]! | (b[28]! << 8) | (b[29]! << 16);
    return { width: w + 1, height: h + 1 };
  }
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = u32le(b, 21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a)
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  return null;
}

/**
 * The format and stored size of PNG, JPEG, GIF, WebP or BMP bytes, from the header alone; null for anything else
 * or a header too damaged to read.
 */
export function imageHeader(b: Uint8Array): ImageHeader | null {
  const sized = (format: ImageFormat, s: { width: number; height: number } | null) => (s ? { format, ...s } : null);
  if (b.length >= 24 && PNG_SIGNATURE.every((x, i) => b[i] === x))
    return ascii(b, 12, 16) === 'IHDR' ? { format: 'png', width: u32be(b, 16), height: u32be(b, 20) } : null;
  if (b[0] === 0xff && b[1] === 0xd8) return sized('jpeg', jpegSize(b));
  if (b.length >= 10 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a'))
    return { format: 'gif', width: u16le(b, 6), height: u16le(b, 8) };
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return sized('webp', webpSize(b));
  if (b.length >= 26 && ascii(b, 0, 2) === 'BM') {
    // BITMAPINFOHEADER and later: signed 32-bit width and height (a negative height is a top-down picture).
    // An OS/2 BITMAPCOREHEADER (12 bytes) has unsigned 16-bit ones.
    if (u32le(b, 14) < 40) return { format: 'bmp', width: u16le(b, 18), height: u16le(b, 20) };
    return { format: 'bmp', width: Math.abs(u32le(b, 18) | 0), height: Math.abs(u32le(b, 22) | 0) };
  }
  return null;
}

/** The error a picture over {@link MAX_IMAGE_PIXELS} gives, naming it (a node's source) and its size. */
export function tooLargeError(name: string, width: number, height: number): Error {
  return new Error(
    `${name} is ${width} x ${height} px (${((width * height) / 1e6).toFixed(1)} MP); the limit is ${MAX_IMAGE_PIXELS / 1e6} MP (scale it down first)`,
  );
}

/**
 * Reads the header of picture bytes and throws before any decoding when the picture is over
 * {@link MAX_IMAGE_PIXELS}, is not a format named in {@link ImageFormat}, or its header cannot be read. `name` says
 * which picture (a source, or "the data: URL picture"); `formats` narrows what this host decodes.
 */
export function checkImageHeader(
  bytes: Uint8Array,
  name: string,
  formats: readonly ImageFormat[] = ['png', 'jpeg', 'gif', 'webp', 'bmp'],
): ImageHeader {
  const h = imageHeader(bytes);
  if (!h || !formats.includes(h.format)) {
    const isPng = PNG_SIGNATURE.every((x, i) => bytes[i] === x);
    if (isPng && formats.includes('png')) throw new Error(`${name} is a damaged PNG (no IHDR chunk first)`);
    if (bytes[0] === 0xff && bytes[1] === 0xd8 && formats.includes('jpeg'))
      throw new Error(`${name} is a damaged JPEG (no frame header before the image data)`);
    const names = formats.map((f) => f.toUpperCase().replace('WEBP', 'WebP'));
    throw new Error(`${name} is not a ${names.slice(0, -1).join(', ')} or ${names.at(-1)} image`);
  }
  if (h.width * h.height > MAX_IMAGE_PIXELS) throw tooLargeError(name, h.width, h.height);
  return h;
}
