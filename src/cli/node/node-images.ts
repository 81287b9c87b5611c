import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { jpegOrientation, orientPixels } from '../../codecs/exif';
import { checkImageHeader, MAX_IMAGE_PIXELS } from '../../codecs/image-header';
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

export { MAX_IMAGE_PIXELS } from '../../codecs/image-header';

/**
 * Decodes PNG or JPEG bytes to RGBA; the size is read from the header and checked against `MAX_IMAGE_PIXELS` first
 * (`checkImageHeader`, as the browser's run does). A JPEG is turned upright by its EXIF orientation, as browsers do.
 */
export function decodeImage(bytes: Uint8Array, name: string): DecodedImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = checkImageHeader(bytes, name, ['png', 'jpeg']);
  if (header.format === 'png') {
    const png = PNG.sync.read(buf);
    return {
      width: png.width,
      height: png.height,
      data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length),
    };
  }
  const img = jpeg.decode(buf, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
    maxMemoryUsageInMB: 1024,
  });
  return orientPixels({ width: img.width, height: img.height, data: img.data }, jpegOrientation(bytes));
}

export function encodePng(image: RGBAImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png);
}
