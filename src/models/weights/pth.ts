import { PickleError, unpickle, type Reducer } from './pickle';
import { WeightsError, readFloats, type NamedArray, type StateDict } from './state-dict';
import { isZip, readZip } from './zip';

/**
 * PyTorch checkpoints (`torch.save` of a state_dict) without Python: the zip container of torch >= 1.6
 * (`archive/data.pkl` + `archive/data/N`) and the legacy stream (magic, protocol, sys info, the pickle,
 * the storage keys, then each storage's bytes). Only the globals that rebuild tensors are allowed.
 */

type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
const STORAGE_TYPES: Record<string, DType> = {
  'torch.FloatStorage': 'float32', 'torch.DoubleStorage': 'float64', 'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16', 'torch.LongStorage': 'int64', 'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16', 'torch.CharStorage': 'int8', 'torch.ByteStorage': 'uint8', 'torch.BoolStorage': 'bool',
};
const ITEM_SIZE: Record<DType, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

interface StorageRef {
  dtype: DType;
  key: string;
  bytes?: Uint8Array;
}
class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

const rebuild: Reducer = ([storage, offset, size, stride]) =>
  new TensorRef(storage as StorageRef, offset as number, size as number[], stride as number[]);

const GLOBALS: Record<string, Reducer | null> = {
  'collections.OrderedDict': () => new Map(),
  'torch._utils._rebuild_tensor_v2': rebuild,
  'torch._utils._rebuild_tensor': rebuild,
  'torch._utils._rebuild_parameter': ([data]) => data,
  ...Object.fromEntries(Object.keys(STORAGE_TYPES).map((k) => [k, null])),
};

function storageRef(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw new PickleError(`unexpected persistent id ${JSON.stringify(pid)}`);
  const type = pid[1] as { name?: string };
  const dtype = type?.name ? STORAGE_TYPES[type.name] : undefined;
  if (!dtype) throw new PickleError(`unsupported storage type ${type?.name ?? String(type)}`);
  return { dtype, key: String(pid[2]) };
}

/** Reads a .pth file's tensors as float32 arrays in PyTorch layout, keyed by their state_dict names. */
export function readPth(bytes: Uint8Array): StateDict {
  try {
    return isZip(bytes) ? readZipPth(bytes) : readLegacyPth(bytes);
  } catch (e) {
    if (e instanceof PickleError || e instanceof WeightsError) throw new WeightsError(`.pth: ${e.message}`);
    throw e;
  }
}

function readZipPth(bytes: Uint8Array): StateDict {
  const entries = readZip(bytes);
  const pkl = [...entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pkl) throw new WeightsError('this zip has no data.pkl, so it is not a PyTorch checkpoint');
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const { value } = unpickle(entries.get(pkl)!.read(), {
    globals: GLOBALS,
    persistentLoad: (pid) => {
      const ref = storageRef(pid);
      const entry = entries.get(`${prefix}data/${ref.key}`);
      if (!entry) throw new WeightsError(`storage ${ref.key} is missing from the archive`);
      ref.bytes = entry.read();
      return ref;
    },
  });
  return toStateDict(value);
}

function readLegacyPth(bytes: Uint8Array): StateDict {
  const opts = { globals: GLOBALS };
  let at = 0;
  const next = (o: typeof opts & { persistentLoad?: (pid: unknown) => unknown } = opts) => {
    const r = unpickle(bytes, o, at);
    at = r.end;
    return r.value;
  };
  const magic = next();
  if (magic !== 0x1950a86a20f9469cfc6c) throw new WeightsError('not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save stream)');
  next(); // protocol version
  next(); // sys info
  const storages = new Map<string, StorageRef>();
  const value = next({
    ...opts,
    persistentLoad: (pid) => {
      const ref = storageRef(pid);
      const existing = storages.get(ref.key);
      if (existing) return existing;
      storages.set(ref.key, ref);
      return ref;
    },
  });
  const keys = next() as string[];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys) {
    if (at + 8 > bytes.length) throw new WeightsError('the file ends before its tensor data (truncated download?)');
    const numel = Number(view.getBigInt64(at, true));
    at += 8;
    const ref = storages.get(key);
    const size = numel * ITEM_SIZE[ref?.dtype ?? 'float32'];
    if (ref) ref.bytes = bytes.subarray(at, at + size);
    at += size;
  }
  return toStateDict(value);
}

/** Finds the dict of tensors (a bare state_dict, or one under "state_dict" / "model") and materialises it. */
function toStateDict(value: unknown): StateDict {
  let dict = value;
  if (dict instanceof Map && ![...dict.values()].some((v) => v instanceof TensorRef)) {
    const inner = dict.get('state_dict') ?? dict.get('model');
    if (inner instanceof Map) dict = inner;
  }
  if (!(dict instanceof Map)) throw new WeightsError('the checkpoint does not hold a state_dict (a dict of tensors)');
  const out: StateDict = new Map();
  for (const [k, v] of dict) if (v instanceof TensorRef) out.set(String(k), materialise(v, String(k)));
  if (!out.size) throw new WeightsError('the checkpoint holds no tensors');
  return out;
}

function materialise(t: TensorRef, name: string): NamedArray {
  const { dtype, bytes } = t.storage;
  if (!bytes) throw new WeightsError(`tensor "${name}": its storage is missing`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const item = ITEM_SIZE[dtype];
  const contiguous = t.shape.every((_, i) => t.stride[i] === t.shape.slice(i + 1).reduce((a, b) => a * b, 1)) || n <= 1;
  const maxIndex = t.offset + t.shape.reduce((a, s, i) => a + (s - 1) * t.stride[i]!, 0);
  if (n > 0 && (maxIndex + 1) * item > bytes.length) throw new WeightsError(`tensor "${name}" reaches past the end of its storage (truncated file?)`);
  const all = decode(bytes, dtype, contiguous ? t.offset : 0, contiguous ? n : maxIndex + 1);
  if (contiguous) return { shape: t.shape, data: all };
  const data = new Float32Array(n);
  const idx = new Array<number>(t.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    data[i] = all[t.offset + idx.reduce((a, v, d) => a + v * t.stride[d]!, 0)]!;
    for (let d = t.shape.length - 1; d >= 0 && ++idx[d]! === t.shape[d]; d--) idx[d] = 0;
  }
  return { shape: t.shape, data };
}

function decode(bytes: Uint8Array, dtype: DType, offset: number, n: number): Float32Array {
  if (dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16') return readFloats(bytes, offset * ITEM_SIZE[dtype], n, dtype);
  const copy = bytes.slice(offset * ITEM_SIZE[dtype], (offset + n) * ITEM_SIZE[dtype]);
  switch (dtype) {
    case 'int64': return Float32Array.from(new BigInt64Array(copy.buffer), Number);
    case 'int32': return Float32Array.from(new Int32Array(copy.buffer));
    case 'int16': return Float32Array.from(new Int16Array(copy.buffer));
    case 'int8': return Float32Array.from(new Int8Array(copy.buffer));
    default: return Float32Array.from(copy);
  }
}
