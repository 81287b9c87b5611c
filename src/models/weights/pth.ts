import { PickleError, describeValue, unpickle, type Reducer } from './pickle';
import { WeightsError, readFloats, type NamedArray, type StateDict } from './state-dict';
import { isZip, readZip } from './zip';

/**
 * A checkpoint's tensors, materialised as float32, may hold at most this many times the float32 size of its
 * storages (plus {@link MATERIALISE_SLACK_BYTES}): tensors that share a storage (tied weights) are fine, one
 * storage viewed 40 times over is refused instead of multiplying memory.
 */
export const MAX_MATERIALISE_RATIO = 4;
export const MATERIALISE_SLACK_BYTES = 16 * 1024 * 1024;

/**
 * PyTorch checkpoints (`torch.save` of a state_dict) without Python: the zip container of torch >= 1.6
 * (`archive/data.pkl` + `archive/data/N`) and the legacy stream (magic, protocol, sys info, the pickle,
 * the storage keys, then each storage's bytes). Only the globals that rebuild tensors are allowed.
 */

type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
const STORAGE_TYPES: Record<string, DType> = {
  'torch.FloatStorage': 'float32',
  'torch.DoubleStorage': 'float64',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
};
const ITEM_SIZE: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

interface StorageRef {
  dtype: DType;
  key: string;
  bytes?: Uint8Array;
}
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** A tensor view: its offset, sizes and strides are whole numbers, not negative, and its elements do not overlap. */
const rebuild: Reducer = (args) => {
  if (!Array.isArray(args)) throw new PickleError(`malformed tensor: its arguments are ${describeValue(args)}`);
  const [storage, offset, size, stride] = args as unknown[];
  if (!storage || typeof storage !== 'object' || !('dtype' in storage))
    throw new PickleError('malformed tensor: no storage');
  if (!Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length || size.length > 16)
    throw new PickleError(
      `malformed tensor: sizes ${describeValue(size)} and strides ${describeValue(stride)} do not match`,
    );
  if (!isCount(offset))
    throw new PickleError(`malformed tensor: its storage offset ${describeValue(offset)} is not a whole number >= 0`);
  const bad = [...size, ...stride].find((x) => !isCount(x));
  if (bad !== undefined)
    throw new PickleError(
      `malformed tensor: a size or stride is ${describeValue(bad)}, not a whole number >= 0 (negative strides are refused)`,
    );
  return new TensorRef(storage as StorageRef, offset, size as number[], stride as number[]);
};

const GLOBALS: Record<string, Reducer | null> = {
  'collections.OrderedDict': () => new Map(),
  'torch._utils._rebuild_tensor_v2': rebuild,
  'torch._utils._rebuild_tensor': rebuild,
  'torch._utils._rebuild_parameter': ([data]) => data,
  ...Object.fromEntries(Object.keys(STORAGE_TYPES).map((k) => [k, null])),
};

function storageRef(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage')
    throw new PickleError(`unexpected persistent id ${JSON.stringify(pid)}`);
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
  // A storage referenced by many tensors is read (and inflated) once.
  const storages = new Map<string, StorageRef>();
  const { value } = unpickle(entries.get(pkl)!.read(), {
    globals: GLOBALS,
    persistentLoad: (pid) => {
      const ref = storageRef(pid);
      const existing = storages.get(ref.key);
      if (existing) {
        if (existing.dtype !== ref.dtype)
          throw new WeightsError(`storage ${ref.key} is referenced as both ${existing.dtype} and ${ref.dtype}`);
        return existing;
      }
      const entry = entries.get(`${prefix}data/${ref.key}`);
      if (!entry) throw new WeightsError(`storage ${ref.key} is missing from the archive`);
      ref.bytes = entry.read();
      storages.set(ref.key, ref);
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
  // The magic is wider than a double; the unpickler hands a long over as a number, rounded the same way.
  if (magic !== Number(0x1950a86a20f9469cfc6cn))
    throw new WeightsError('not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save stream)');
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
  const keys = next();
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))
    throw new WeightsError('malformed checkpoint: its storage keys are not a list of names');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys) {
    if (at + 8 > bytes.length) throw new WeightsError('the file ends before its tensor data (truncated download?)');
    const numel = Number(view.getBigInt64(at, true));
    at += 8;
    const ref = storages.get(key);
    const size = numel * ITEM_SIZE[ref?.dtype ?? 'float32'];
    if (!(numel >= 0) || at + size > bytes.length)
      throw new WeightsError(`storage ${key} claims ${numel} elements, past the end of the file (truncated download?)`);
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
  const tensors = [...dict].filter((e): e is [unknown, TensorRef] => e[1] instanceof TensorRef);
  // What materialising costs, summed before any of it is allocated.
  const storageBytes = [...new Set(tensors.map(([, t]) => t.storage))].reduce(
    (a, s) => a + ((s.bytes?.length ?? 0) / ITEM_SIZE[s.dtype]) * 4,
    0,
  );
  const budget = MAX_MATERIALISE_RATIO * storageBytes + MATERIALISE_SLACK_BYTES;
  let total = 0;
  for (const [k, t] of tensors) {
    if (typeof k !== 'string') throw new WeightsError(`a tensor's name is ${describeValue(k)}, not a string`);
    checkView(t, k);
    total += t.shape.reduce((a, b) => a * b, 1) * 4;
    if (total > budget)
      throw new WeightsError(
        `its tensors would take more than ${MAX_MATERIALISE_RATIO} times the size of their storages (${Math.round(storageBytes / 2 ** 20)} MiB as float32): refused (tensors viewing one storage many times over?)`,
      );
  }
  const out: StateDict = new Map();
  for (const [k, v] of tensors) out.set(k as string, materialise(v, k as string));
  if (!out.size) throw new WeightsError('the checkpoint holds no tensors');
  return out;
}

/** Whether a view's elements are distinct: sorted by stride, each stride must step past everything the smaller ones reach. */
function overlaps(shape: number[], stride: number[]): boolean {
  const dims = shape
    .map((s, i) => [s, stride[i]!] as const)
    .filter(([s]) => s > 1)
    .sort((a, b) => a[1] - b[1]);
  let reach = 1; // elements spanned by the dimensions so far
  for (const [size, st] of dims) {
    if (st < reach) return true;
    reach = st * (size - 1) + reach;
  }
  return false;
}

/** A view no larger than its storage, whose elements do not repeat (stride 0, overlapping strides): else refused. */
function checkView(t: TensorRef, name: string): void {
  const { dtype, bytes } = t.storage;
  if (!bytes) throw new WeightsError(`tensor "${name}": its storage is missing`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const item = ITEM_SIZE[dtype];
  if (n > bytes.length / item)
    throw new WeightsError(
      `tensor "${name}" has shape [${t.shape.join(', ')}] (${n} elements) but its storage holds ${bytes.length / item}: a view larger than its storage is refused`,
    );
  if (n > 1 && overlaps(t.shape, t.stride))
    throw new WeightsError(
      `tensor "${name}": its strides [${t.stride.join(', ')}] for shape [${t.shape.join(', ')}] overlap (elements would repeat): refused`,
    );
}

function materialise(t: TensorRef, name: string): NamedArray {
  checkView(t, name);
  const { dtype, bytes } = t.storage;
  if (!bytes) throw new WeightsError(`tensor "${name}": its storage is missing`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const item = ITEM_SIZE[dtype];
  const contiguous = t.shape.every((_, i) => t.stride[i] === t.shape.slice(i + 1).reduce((a, b) => a * b, 1)) || n <= 1;
  const maxIndex = t.offset + t.shape.reduce((a, s, i) => a + (s - 1) * t.stride[i]!, 0);
  if (n > 0 && (maxIndex + 1) * item > bytes.length)
    throw new WeightsError(`tensor "${name}" reaches past the end of its storage (truncated file?)`);
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
  if (dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16')
    return readFloats(bytes, offset * ITEM_SIZE[dtype], n, dtype);
  const copy = bytes.slice(offset * ITEM_SIZE[dtype], (offset + n) * ITEM_SIZE[dtype]);
  switch (dtype) {
    case 'int64':
      return Float32Array.from(new BigInt64Array(copy.buffer), Number);
    case 'int32':
      return Float32Array.from(new Int32Array(copy.buffer));
    case 'int16':
      return Float32Array.from(new Int16Array(copy.buffer));
    case 'int8':
      return Float32Array.from(new Int8Array(copy.buffer));
    default:
      return Float32Array.from(copy);
  }
}
