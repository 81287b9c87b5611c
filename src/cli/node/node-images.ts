import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RGBAImage } from '../../ops/image';
import type { DecodedImage } from '../../runtime/sources';
import { isRemote, readAllowed, SourceRefused, userSourceAccess, type SourceAccess } from '../security/source-access';

/**
 * Reads a source's bytes: a data: URL, an http(s) URL (only with the user's consent, never from a private
 * address without --allow-private-network), or a file. With a `SourceAccess` (a document's), a path must lie inside
 * the document's folder unless the user gave it on the command line, and must be a regular file; a bare folder
 * (`baseDir`) is the user's own: any regular file, remote sources as `--allow-remote` would allow them.
 */
export async function readSource(source: string, access: SourceAccess | string): Promise<Uint8Array> {
  const a = typeof access === 'string' ? userSourceAccess(access) : access;
  if (source.startsWith('data:')) {
    const comma = source.indexOf(',');
    if (comma < 0) throw new SourceRefused('a data: URL without a comma');
    const meta = source.slice(5, comma);
    const body = source.slice(comma + 1);
    return meta.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body));
  }
  if (source.startsWith('camera:'))
    throw new Error(
      'a camera node streams only in the editor (a browser with a webcam): give a photo with --content to run this graph here',
    );
  if (source.startsWith('upload:'))
    throw new Error(
      `the image ${source} was dropped into the editor in a browser, which keeps its bytes; it is not in the file: give the image's path instead`,
    );
  if (/^[a-z][a-z0-9+.-]+:/i.test(source) && !isRemote(source))
    throw new SourceRefused(`${source}: not read: only file paths, http(s) and data: URLs are sources`);
  return readAllowed(source, a);
}

/** The most pixels an input image may have (40 MP, e.g. 7700 x 5200; 160 MB as RGBA), checked from its header before decoding. */
export const MAX_IMAGE_PIXELS = 40_000_000;

const tooLarge = (name: string, width: number, height: number) =>
  new Error(
    `${name} is ${width} x ${height} px (${((width * height) / 1e6).toFixed(1)} MP); the limit is ${MAX_IMAGE_PIXELS / 1e6} MP (scale it down first)`,
  );

/** Decodes PNG or JPEG bytes to RGBA; the size is read from the header and checked against {@link MAX_IMAGE_PIXELS} first. */
export function decodeImage(bytes: Uint8Array, name: string): DecodedImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    // IHDR comes first: width and height at bytes 16 and 20.
    if (buf.length < 24 || buf.toString('latin1', 12, 16) !== 'IHDR')
      throw new Error(`${name} is a damaged PNG (no IHDR chunk first)`);
    const [width, height] = [buf.readUInt32BE(16), buf.readUInt32BE(20)];
    if (width * height > MAX_IMAGE_PIXELS) throw tooLarge(name, width, height);
    const png = PNG.sync.read(buf);
    return {
      width: png.width,
      height: png.height,
      data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length),
    };
  }
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    const size = jpegSize(buf);
    if (size && size.width * size.height > MAX_IMAGE_PIXELS) throw tooLarge(name, size.width, size.height);
    const img = jpeg.decode(buf, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 1024,
    });
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new Error(`${name} is not a PNG or JPEG image`);
}

/** A JPEG's size from its first start-of-frame marker (SOF0-SOF15 but DHT, JPG and DAC); null when none is found. */
function jpegSize(buf: Buffer): { width: number; height: number } | null {
  for (let p = 2; p + 9 < buf.length;) {
    if (buf[p] !== 0xff) return null;
    const marker = buf[p + 1]!;
    if (marker === 0xff) {
      p++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: buf.readUInt16BE(p + 5), width: buf.readUInt16BE(p + 7) };
    if (marker === 0xda || marker === 0xd9) return null;
    p += 2 + buf.readUInt16BE(p + 2);
  }
  return null;
}

export function encodePng(image: RGBAImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png);
}
