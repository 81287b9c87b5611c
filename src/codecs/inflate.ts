import { Inflate, Unzlib } from 'fflate';

/** Input is fed to the inflater this many bytes at a time: one push gives at most about 1032 times as much (4 MiB). */
const INPUT_CHUNK = 4096;

/**
 * Decompresses (zlib or raw deflate) but stops with `tooLarge()` once the output passes `limit` bytes. The cap is
 * checked while inflating: the input goes in 4 KiB at a time, so no more than about 4 MiB past the cap is ever
 * produced (a chunk that inflates to 1 GB stops at the cap without allocating the rest).
 */
export function inflateLimited(
  bytes: Uint8Array,
  format: 'zlib' | 'raw',
  limit: number,
  tooLarge: () => Error,
): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  const onData = (chunk: Uint8Array, final: boolean) => {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    if (chunk.length) parts.push(chunk);
    if (final) ended = true;
  };
  const stream = format === 'zlib' ? new Unzlib(onData) : new Inflate(onData);
  for (let at = 0; at < bytes.length && !ended; at += INPUT_CHUNK) {
    const end = Math.min(bytes.length, at + INPUT_CHUNK);
    stream.push(bytes.subarray(at, end), end === bytes.length);
  }
  if (!bytes.length) stream.push(bytes, true);
  if (parts.length === 1 && parts[0]!.length === size) return parts[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}
