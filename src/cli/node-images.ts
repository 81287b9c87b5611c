import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RGBAImage } from '../ops/image';
import type { DecodedImage } from '../runtime/sources';


/** Reads bytes from a path (relative to `baseDir`), an http(s) URL or a data: URL. */
export async function readSource(source: string, baseDir: string): Promise<Uint8Array> {
  if (source.startsWith('data:')) {
    const comma = source.indexOf(',');
    const meta = source.slice(5, comma);
    const body = source.slice(comma + 1);
    return meta.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body));
  }
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source);
    if (!res.ok) throw new Error(`${source}: HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  if (source.startsWith('upload:'))
    throw new Error(`the image ${source} was dropped into the editor in a browser, which keeps its bytes; it is not in the file: give the image's path instead`);
  const path = isAbsolute(source) ? source : resolve(baseDir, source);
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Decodes PNG or JPEG bytes to RGBA. */
export function decodeImage(bytes: Uint8Array, name: string): DecodedImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    const png = PNG.sync.read(buf);
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
  }
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new Error(`${name} is not a PNG or JPEG image`);
}

export function encodePng(image: RGBAImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png);
}
