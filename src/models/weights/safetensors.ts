import { WeightsError, readFloats, type StateDict } from './state-dict';

const DTYPES = { F32: 'float32', F64: 'float64', F16: 'float16', BF16: 'bfloat16' } as const;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The largest JSON header read (a large language model's has a few thousand entries in about 1 MiB). */
export const MAX_SAFETENSORS_HEADER_BYTES = 16 * 1024 * 1024;
/** The most tensors a safetensors header may list, counted before the JSON is parsed. */
export const MAX_SAFETENSORS_ENTRIES = 100_000;

/** The JSON header: tensor names, dtypes, shapes and byte ranges. Lets a caller fetch only what it needs (HTTP Range). */
export function readSafetensorsHeader(bytes: Uint8Array): { headerEnd: number; entries: Map<string, HeaderEntry> } {
  if (bytes.length < 8) throw new WeightsError('safetensors: the file is too short');
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_SAFETENSORS_HEADER_BYTES)
    throw new WeightsError(
      `safetensors: the header is ${n} bytes; the limit is ${MAX_SAFETENSORS_HEADER_BYTES} (not a safetensors file, or a hostile one)`,
    );
  if (8 + n > bytes.length)
    throw new WeightsError(
      `safetensors: header length ${n} does not fit the file (not a safetensors file, or truncated)`,
    );
  // Every entry is a JSON object: counting '{' bounds the entries before JSON.parse builds them.
  let objects = 0;
  for (let i = 8; i < 8 + n; i++) if (bytes[i] === 0x7b) objects++;
  if (objects > MAX_SAFETENSORS_ENTRIES + 2)
    throw new WeightsError(
      `safetensors: the header lists about ${objects - 1} entries; the limit is ${MAX_SAFETENSORS_ENTRIES}`,
    );
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new WeightsError(`safetensors: the header is not JSON: ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw new WeightsError('safetensors: the header is not a JSON object');
  const entries = new Map<string, HeaderEntry>();
  const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = v as HeaderEntry;
    if (
      !e ||
      typeof e !== 'object' ||
      !Array.isArray(e.shape) ||
      !Array.isArray(e.data_offsets) ||
      e.data_offsets.length !== 2
    )
      throw new WeightsError(`safetensors: malformed header entry ${JSON.stringify(name)}`);
    if (!e.shape.every(isCount))
      throw new WeightsError(`safetensors: tensor ${JSON.stringify(name)} has a shape that is not whole numbers >= 0`);
    const [begin, end] = e.data_offsets;
    if (!isCount(begin) || !isCount(end) || end < begin)
      throw new WeightsError(
        `safetensors: tensor ${JSON.stringify(name)} has data offsets [${begin}, ${end}]: they must be whole numbers >= 0, the end not before the start`,
      );
    entries.set(name, e);
  }
  // The byte ranges, in order, must not overlap: two tensors never share bytes.
  const ranges = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  for (let i = 1; i < ranges.length; i++) {
    const [prev, p] = ranges[i - 1]!;
    const [name, e] = ranges[i]!;
    if (e.data_offsets[0] < p.data_offsets[1])
      throw new WeightsError(
        `safetensors: tensors ${JSON.stringify(prev)} [${p.data_offsets.join(', ')}] and ${JSON.stringify(name)} [${e.data_offsets.join(', ')}] overlap`,
      );
  }
  return { headerEnd: 8 + n, entries };
}

/** Reads every floating-point tensor of a safetensors file as float32. */
export function readSafetensors(bytes: Uint8Array): StateDict {
  const { headerEnd, entries } = readSafetensorsHeader(bytes);
  const out: StateDict = new Map();
  for (const [name, e] of entries) {
    const dtype = DTYPES[e.dtype as keyof typeof DTYPES];
    if (!dtype)
      throw new WeightsError(
        `safetensors: tensor "${name}" has dtype ${e.dtype}; only F32, F64, F16 and BF16 are read`,
      );
    const n = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    const size = { float32: 4, float64: 8, float16: 2, bfloat16: 2 }[dtype];
    if (end - begin !== n * size)
      throw new WeightsError(
        `safetensors: tensor "${name}" has ${end - begin} bytes for shape [${e.shape.join(', ')}]`,
      );
    if (headerEnd + end > bytes.length)
      throw new WeightsError(
        `safetensors: tensor "${name}" ends at byte ${end} of the data, past the end of the file (truncated?)`,
      );
    out.set(name, { shape: e.shape, data: readFloats(bytes, headerEnd + begin, n, dtype) });
  }
  return out;
}

/** Writes float32 tensors as a safetensors file (header sorted by name, data in the same order). */
export function writeSafetensors(
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // keep the data 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}
