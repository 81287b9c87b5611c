import { inflateLimited } from '../../codecs/inflate';

/**
 * A minimal zip reader for checkpoints: reads the central directory (zip64 included) and returns
 * stored entries as views into the buffer, without copying (a 548 MiB .pth is read in place);
 * deflated entries are inflated with fflate.
 */
export interface ZipEntry {
  name: string;
  read(): Uint8Array;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export function readZip(bytes: Uint8Array): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  const u64 = (o: number) => Number(view.getBigUint64(o, true));

  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--)
    if (u32(i) === EOCD) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new Error('not a zip archive (no end-of-directory record); the file may be truncated');
  let count = u16(eocd + 10);
  let dirOffset = u32(eocd + 16);
  if (eocd >= 20 && u32(eocd - 20) === EOCD64_LOCATOR) {
    const at = u64(eocd - 20 + 8);
    if (u32(at) !== EOCD64) throw new Error('corrupt zip64 directory');
    count = u64(at + 32);
    dirOffset = u64(at + 48);
  }

  const entries = new Map<string, ZipEntry>();
  let p = dirOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || u32(p) !== CENTRAL) throw new Error('corrupt zip central directory');
    const method = u16(p + 10);
    let compressed = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let local = u32(p + 42);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: the 64-bit values replace the 32-bit ones that are 0xffffffff, in order.
    for (let e = p + 46 + nameLen; e < p + 46 + nameLen + extraLen;) {
      const id = u16(e);
      const len = u16(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) {
          size = u64(q);
          q += 8;
        }
        if (compressed === 0xffffffff) {
          compressed = u64(q);
          q += 8;
        }
        if (local === 0xffffffff) local = u64(q);
      }
      e += 4 + len;
    }
    p += 46 + nameLen + extraLen + commentLen;
    entries.set(name, {
      name,
      read() {
        if (u32(local) !== LOCAL) throw new Error(`corrupt zip entry ${name}`);
        const start = local + 30 + u16(local + 26) + u16(local + 28);
        if (start + compressed > bytes.length)
          throw new Error(`zip entry ${name} runs past the end of the file (truncated download?)`);
        const data = bytes.subarray(start, start + compressed);
        if (method === 0) return data;
        // Deflate expands at most about 1032 times: a larger declared size is a lie, refused before allocating it.
        if (method === 8) {
          if (size > compressed * 1032 + 1024)
            throw new Error(
              `zip entry ${name} claims ${size} bytes from ${compressed} compressed, more than deflate can give`,
            );
          return inflateLimited(
            data,
            'raw',
            size,
            () => new Error(`zip entry ${name} inflates past its declared size of ${size} bytes`),
          );
        }
        throw new Error(`zip entry ${name} uses compression method ${method}, which is not supported`);
      },
    });
  }
  return entries;
}
