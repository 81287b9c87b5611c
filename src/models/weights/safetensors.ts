import { WeightsError, readFloats, type StateDict } from './state-dict';

const DTYPES = { F32: 'float32', F64: 'float64', F16: 'float16', BF16: 'bfloat16' } as const;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The JSON header: tensor names, dtypes, shapes and byte ranges. Lets a caller fetch only what it needs (HTTP Range). */
export function readSafetensorsHeader(bytes: Uint8Array): { headerEnd: number; entries: Map<string, HeaderEntry> } {
  if (bytes.length < 8) throw new WeightsError('safetensors: the file is too short');
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > 100 * 1024 * 1024 || 8 + n > bytes.length) throw new WeightsError(`safetensors: header length ${n} does not fit the file (not a safetensors file, or truncated)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new WeightsError(`safetensors: the header is not JSON: ${(e as Error).message}`);
  }
  const entries = new Map<string, HeaderEntry>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = v as HeaderEntry;
    if (!e || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) throw new WeightsError(`safetensors: malformed header entry "${name}"`);
    entries.set(name, e);
  }
  return { headerEnd: 8 + n, entries };
}

/** Reads every floating-point tensor of a safetensors file as float32. */
export function readSafetensors(bytes: Uint8Array): StateDict {
  const { headerEnd, entries } = readSafetensorsHeader(bytes);
  const out: StateDict = new Map();
  for (const [name, e] of entries) {
    const dtype = DTYPES[e.dtype as keyof typeof DTYPES];
    if (!dtype) throw new WeightsError(`safetensors: tensor "${name}" has dtype ${e.dtype}; only F32, F64, F16 and BF16 are read`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    const size = { float32: 4, float64: 8, float16: 2, bfloat16: 2 }[dtype];
    if (end - begin !== n * size) throw new WeightsError(`safetensors: tensor "${name}" has ${end - begin} bytes for shape [${e.shape.join(', ')}]`);
    out.set(name, { shape: e.shape, data: readFloats(bytes, headerEnd + begin, n, dtype) });
  }
  return out;
}

/** Writes float32 tensors as a safetensors file (header sorted by name, data in the same order). */
export function writeSafetensors(tensors: Map<string, { shape: number[]; data: Float32Array }>, metadata: Record<string, string> = {}): Uint8Array {
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
