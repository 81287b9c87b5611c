/** Named float32 arrays in their source layout: what every checkpoint reader returns. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}
export type StateDict = Map<string, NamedArray>;

export class WeightsError extends Error {}

/**
 * A checkpoint that was read but does not fit the network it was given to (another architecture or width): bad
 * input, found while a node builds its network during a run; the run session reports it as invalid (CLI exit 2).
 */
export class CheckpointError extends WeightsError {}

export const formatShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Takes the expected keys with their shapes out of a state dict. A missing key, a key of the wrong shape, or a key
 * nobody asked for (outside `ignore`) is an error that leads with the first mismatching layer in the network's order,
 * its expected and its found shape, then lists the rest.
 */
export function takeExpected(
  dict: StateDict,
  expected: Map<string, number[]>,
  what: string,
  ignore: (key: string) => boolean = () => false,
): Map<string, NamedArray> {
  const problems: string[] = [];
  for (const [key, shape] of expected) {
    const got = dict.get(key);
    if (!got) problems.push(`layer "${key}": expected ${formatShape(shape)}, found no such tensor`);
    else if (got.shape.join(',') !== shape.join(','))
      problems.push(`layer "${key}": expected ${formatShape(shape)}, found ${formatShape(got.shape)}`);
  }
  for (const [key, arr] of dict)
    if (!expected.has(key) && !ignore(key)) problems.push(`unexpected tensor "${key}" ${formatShape(arr.shape)}`);
  if (problems.length) throw misfit(what, problems);
  return new Map([...expected.keys()].map((k) => [k, dict.get(k)!]));
}

/** "X does not fit the network: first mismatch ...; also ...": the error for a checkpoint of another network or width. */
export function misfit(what: string, problems: string[]): CheckpointError {
  const [first, ...rest] = problems;
  const more = rest.length > 7 ? `; and ${rest.length - 7} more` : '';
  return new CheckpointError(
    `${what} does not fit the network: first mismatch at ${first}${rest.length ? `; also ${rest.slice(0, 7).join('; ')}${more}` : ''}`,
  );
}

/** The first few tensors of a state dict, to say what a file holds when it is not the network asked for. */
export const describeDict = (dict: StateDict): string =>
  [...dict]
    .slice(0, 3)
    .map(([k, v]) => `"${k}" ${formatShape(v.shape)}`)
    .join(', ') + (dict.size > 3 ? `, ... (${dict.size} tensors)` : '');

/** Decodes IEEE half floats. */
export function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] =
      e === 0 ? s * 2 ** -14 * (f / 1024) : e === 31 ? (f ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + f / 1024);
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
export function readFloats(
  bytes: Uint8Array,
  offset: number,
  n: number,
  dtype: 'float32' | 'float64' | 'float16' | 'bfloat16',
): Float32Array {
  const size = dtype === 'float64' ? 8 : dtype === 'float32' ? 4 : 2;
  if (offset + n * size > bytes.length)
    throw new WeightsError(`tensor data runs past the end of its storage (truncated file?)`);
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
