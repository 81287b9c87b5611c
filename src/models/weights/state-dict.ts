/** Named float32 arrays in their source layout: what every checkpoint reader returns. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}
export type StateDict = Map<string, NamedArray>;

export class WeightsError extends Error {}

export const formatShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Takes the expected keys with their shapes out of a state dict. A missing key, a key of the wrong
 * shape, or a key nobody asked for (outside `ignore`) is an error naming the key and both shapes.
 */
export function takeExpected(
  dict: StateDict, expected: Map<string, number[]>, what: string, ignore: (key: string) => boolean = () => false,
): Map<string, NamedArray> {
  const problems: string[] = [];
  for (const [key, shape] of expected) {
    const got = dict.get(key);
    if (!got) problems.push(`missing key "${key}" (expected shape ${formatShape(shape)})`);
    else if (got.shape.join(',') !== shape.join(','))
      problems.push(`key "${key}" has shape ${formatShape(got.shape)}, expected ${formatShape(shape)}`);
  }
  for (const [key, arr] of dict)
    if (!expected.has(key) && !ignore(key)) problems.push(`unexpected key "${key}" (shape ${formatShape(arr.shape)})`);
  if (problems.length) throw new WeightsError(`${what}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}`);
  return new Map([...expected.keys()].map((k) => [k, dict.get(k)!]));
}

/** Decodes IEEE half floats. */
export function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] = e === 0 ? s * 2 ** -14 * (f / 1024) : e === 31 ? (f ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return out;
}

/** bfloat16 is the top half of a float32. */
export function bfloat16ToFloat(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return new Float32Array(u.buffer);
}

/** Copies `n` little-endian values of a float dtype from any byte offset into a fresh Float32Array. */
export function readFloats(bytes: Uint8Array, offset: number, n: number, dtype: 'float32' | 'float64' | 'float16' | 'bfloat16'): Float32Array {
  const size = dtype === 'float64' ? 8 : dtype === 'float32' ? 4 : 2;
  if (offset + n * size > bytes.length) throw new WeightsError(`tensor data runs past the end of its storage (truncated file?)`);
  const copy = bytes.slice(offset, offset + n * size);
  switch (dtype) {
    case 'float32':
      return new Float32Array(copy.buffer);
    case 'float64':
      return Float32Array.from(new Float64Array(copy.buffer));
    case 'float16':
      return halfToFloat(new Uint16Array(copy.buffer));
    case 'bfloat16':
      return bfloat16ToFloat(new Uint16Array(copy.buffer));
  }
}
