import { Inflate, Unzlib } from 'fflate';

/** Decompresses (zlib or raw deflate) but stops with `tooLarge()` once the output passes `limit` bytes. */
export function inflateLimited(bytes: Uint8Array, format: 'zlib' | 'raw', limit: number, tooLarge: () => Error): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const onData = (chunk: Uint8Array) => {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    parts.push(chunk);
  };
  const stream = format === 'zlib' ? new Unzlib(onData) : new Inflate(onData);
  stream.push(bytes, true);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}
