/**
 * A restricted unpickler: enough of the pickle protocol (0-5) to read PyTorch state_dicts, and
 * nothing that runs code. Every GLOBAL must be in the allow-list; calling anything else, or any
 * opcode that builds arbitrary objects (INST, OBJ, NEWOBJ, EXT), is refused before it happens.
 */

export class PickleError extends Error {}

/**
 * The longest integer (LONG1, LONG4, text INT or LONG) read, in bytes (digits for text): a checkpoint's largest is
 * torch's 10-byte magic number. Longer ones are refused, so a hostile 200 KB integer costs nothing.
 */
export const MAX_PICKLE_INT_BYTES = 64;

/** A short description of a value for an error message, without recursing into (possibly deep) containers. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `a tuple or list of ${v.length}`;
  if (v instanceof Map) return `a dict of ${v.size}`;
  if (v instanceof PyGlobal) return v.name;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return typeof v;
}

/** A Python global the caller allowed, e.g. `torch._utils._rebuild_tensor_v2`. */
export class PyGlobal {
  constructor(readonly name: string) {}
}

export type Reducer = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Allowed globals and what calling each returns. Globals that are only referenced (storage types) map to null. */
  globals: Record<string, Reducer | null>;
  /** Resolves a persistent id (torch storages). */
  persistentLoad?: (pid: unknown) => unknown;
}

const MARK = Symbol('mark');

/** Unpickles one object starting at `offset`; returns it and the offset after its STOP. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions, offset = 0): { value: unknown; end: number } {
  const u = new Unpickler(bytes, options, offset);
  for (;;) {
    const op = u.u8();
    if (op === 0x2e) return { value: u.pop(), end: u.p }; // STOP
    const run = OPCODES.get(op);
    if (!run)
      throw new PickleError(
        `refused: pickle opcode 0x${op.toString(16)} ('${String.fromCharCode(op)}') at byte ${u.p - 1} builds objects or is unknown; a weights file does not need it`,
      );
    run(u);
  }
}

/** The state of one unpickle: the bytes, the read position, the stack and the memo, and their checked readers. */
class Unpickler {
  readonly view: DataView;
  readonly text = new TextDecoder();
  readonly stack: unknown[] = [];
  readonly memo = new Map<number, unknown>();

  constructor(
    readonly bytes: Uint8Array,
    readonly options: UnpickleOptions,
    public p: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(n: number): void {
    if (this.p + n > this.bytes.length) throw new PickleError('the pickle stream ends early (truncated file?)');
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.p++]!;
  }
  u16(): number {
    this.need(2);
    this.p += 2;
    return this.view.getUint16(this.p - 2, true);
  }
  i32(): number {
    this.need(4);
    this.p += 4;
    return this.view.getInt32(this.p - 4, true);
  }
  u32(): number {
    this.need(4);
    this.p += 4;
    return this.view.getUint32(this.p - 4, true);
  }
  u64(): number {
    this.need(8);
    this.p += 8;
    return Number(this.view.getBigUint64(this.p - 8, true));
  }
  f64be(): number {
    this.need(8);
    this.p += 8;
    return this.view.getFloat64(this.p - 8, false);
  }
  take(n: number): Uint8Array {
    this.need(n);
    this.p += n;
    return this.bytes.subarray(this.p - n, this.p);
  }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.p);
    if (end < 0) throw new PickleError('the pickle stream ends early (truncated file?)');
    const s = this.text.decode(this.bytes.subarray(this.p, end));
    this.p = end + 1;
    return s;
  }
  push(v: unknown): void {
    this.stack.push(v);
  }
  pop(): unknown {
    if (!this.stack.length) throw new PickleError('malformed pickle: the stack is empty');
    return this.stack.pop();
  }
  popMark(): unknown[] {
    const i = this.stack.lastIndexOf(MARK);
    if (i < 0) throw new PickleError('malformed pickle: no MARK');
    const items = this.stack.splice(i);
    items.shift();
    return items;
  }
  top(): unknown {
    return this.stack[this.stack.length - 1];
  }
  global(name: string): PyGlobal {
    if (!(name in this.options.globals))
      throw new PickleError(
        `refused: the file refers to the Python global "${name}", which a weights file does not need (nothing was run)`,
      );
    return new PyGlobal(name);
  }
  /** Resolves the persistent id `pid()` reads, refused before reading when the caller expects none. */
  persistent(pid: () => unknown): unknown {
    if (!this.options.persistentLoad) throw new PickleError('refused: persistent ids are not expected here');
    return this.options.persistentLoad(pid());
  }
}

function longFrom(b: Uint8Array): number {
  if (b.length > MAX_PICKLE_INT_BYTES)
    throw new PickleError(
      `refused: a ${b.length}-byte integer (the limit is ${MAX_PICKLE_INT_BYTES} bytes; a weights file needs none this long)`,
    );
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b.length && b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return Number(v);
}

function textInt(s: string): number {
  if (s.length > MAX_PICKLE_INT_BYTES)
    throw new PickleError(
      `refused: a ${s.length}-digit integer (the limit is ${MAX_PICKLE_INT_BYTES} digits; a weights file needs none this long)`,
    );
  return Number.parseInt(s, 10);
}

function name(v: unknown, what: string): string {
  if (typeof v !== 'string')
    throw new PickleError(`malformed pickle: a global's ${what} is ${describeValue(v)}, not a string`);
  return v;
}

function list(v: unknown, op: string): unknown[] {
  if (!Array.isArray(v)) throw new PickleError(`malformed pickle: ${op} on ${describeValue(v)}, not a list`);
  return v;
}

function setItems(dict: unknown, items: unknown[]): void {
  if (!(dict instanceof Map)) throw new PickleError('malformed pickle: SETITEMS on a non-dict');
  for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
}

/** Every opcode the unpickler accepts but STOP, by byte; any other byte is refused. */
const OPCODES = new Map<number, (u: Unpickler) => void>([
  [0x80, (u) => void u.u8()], // PROTO
  [0x95, (u) => void u.u64()], // FRAME
  [0x28, (u) => u.push(MARK)], // MARK
  [0x30, (u) => void u.pop()], // POP
  [0x31, (u) => void u.popMark()], // POP_MARK
  [0x32, (u) => u.push(u.top())], // DUP
  [0x4e, (u) => u.push(null)], // NONE
  [0x88, (u) => u.push(true)], // NEWTRUE
  [0x89, (u) => u.push(false)], // NEWFALSE
  [0x4a, (u) => u.push(u.i32())], // BININT
  [0x4b, (u) => u.push(u.u8())], // BININT1
  [0x4d, (u) => u.push(u.u16())], // BININT2
  [0x8a, (u) => u.push(longFrom(u.take(u.u8())))], // LONG1
  [0x8b, (u) => u.push(longFrom(u.take(u.u32())))], // LONG4
  [
    0x49, // INT (text; 00 and 01 are False and True)
    (u) => {
      const s = u.line();
      u.push(s === '00' ? false : s === '01' ? true : textInt(s));
    },
  ],
  [0x4c, (u) => u.push(textInt(u.line().replace(/L$/, '')))], // LONG (text)
  [0x47, (u) => u.push(u.f64be())], // BINFLOAT (big-endian)
  [0x46, (u) => u.push(Number.parseFloat(u.line()))], // FLOAT (text)
  [0x58, (u) => u.push(u.text.decode(u.take(u.u32())))], // BINUNICODE
  [0x8c, (u) => u.push(u.text.decode(u.take(u.u8())))], // SHORT_BINUNICODE
  [0x8d, (u) => u.push(u.text.decode(u.take(u.u64())))], // BINUNICODE8
  [0x56, (u) => u.push(u.line())], // UNICODE (raw-unicode-escape; keys are ASCII)
  [0x54, (u) => u.push(u.text.decode(u.take(u.i32())))], // BINSTRING
  [0x55, (u) => u.push(u.text.decode(u.take(u.u8())))], // SHORT_BINSTRING
  [0x53, (u) => u.push(u.line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2'))], // STRING
  [0x42, (u) => u.push(u.take(u.u32()))], // BINBYTES
  [0x43, (u) => u.push(u.take(u.u8()))], // SHORT_BINBYTES
  [0x8e, (u) => u.push(u.take(u.u64()))], // BINBYTES8
  [0x29, (u) => u.push([])], // EMPTY_TUPLE
  [0x74, (u) => u.push(u.popMark())], // TUPLE
  [0x85, (u) => u.push([u.pop()])], // TUPLE1
  [
    0x86, // TUPLE2
    (u) => {
      const b = u.pop();
      u.push([u.pop(), b]);
    },
  ],
  [
    0x87, // TUPLE3
    (u) => {
      const c = u.pop();
      const b = u.pop();
      u.push([u.pop(), b, c]);
    },
  ],
  [0x5d, (u) => u.push([])], // EMPTY_LIST
  [0x6c, (u) => u.push(u.popMark())], // LIST
  [
    0x61, // APPEND
    (u) => {
      const v = u.pop();
      list(u.top(), 'APPEND').push(v);
    },
  ],
  [
    0x65, // APPENDS: one by one, as spreading 300k items as arguments overflows the call stack
    (u) => {
      const items = u.popMark();
      const target = list(u.top(), 'APPENDS');
      for (const item of items) target.push(item);
    },
  ],
  [0x7d, (u) => u.push(new Map())], // EMPTY_DICT
  [
    0x64, // DICT
    (u) => {
      const d = new Map();
      setItems(d, u.popMark());
      u.push(d);
    },
  ],
  [
    0x73, // SETITEM
    (u) => {
      const v = u.pop();
      const k = u.pop();
      setItems(u.top(), [k, v]);
    },
  ],
  [
    0x75, // SETITEMS
    (u) => {
      const items = u.popMark();
      setItems(u.top(), items);
    },
  ],
  [
    0x63, // GLOBAL
    (u) => {
      const module = u.line();
      u.push(u.global(`${module}.${u.line()}`));
    },
  ],
  [
    0x93, // STACK_GLOBAL
    (u) => {
      const n = name(u.pop(), 'name');
      const module = name(u.pop(), 'module');
      u.push(u.global(`${module}.${n}`));
    },
  ],
  [
    0x52, // REDUCE
    (u) => {
      const args = u.pop();
      const fn = u.pop();
      if (!(fn instanceof PyGlobal))
        throw new PickleError('malformed pickle: REDUCE on something that is not a global');
      const reducer = u.options.globals[fn.name];
      if (!reducer) throw new PickleError(`refused: the file calls "${fn.name}", which is allowed only as a reference`);
      u.push(reducer(args as unknown[]));
    },
  ],
  [0x62, (u) => void u.pop()], // BUILD: state of an OrderedDict (metadata) or tensor; not needed
  [0x51, (u) => u.push(u.persistent(() => u.pop()))], // BINPERSID
  [0x50, (u) => u.push(u.persistent(() => u.line()))], // PERSID
  [0x70, (u) => u.memo.set(textInt(u.line()), u.top())], // PUT
  [0x71, (u) => u.memo.set(u.u8(), u.top())], // BINPUT
  [0x72, (u) => u.memo.set(u.u32(), u.top())], // LONG_BINPUT
  [0x94, (u) => u.memo.set(u.memo.size, u.top())], // MEMOIZE
  [0x67, (u) => u.push(u.memo.get(textInt(u.line())))], // GET
  [0x68, (u) => u.push(u.memo.get(u.u8()))], // BINGET
  [0x6a, (u) => u.push(u.memo.get(u.u32()))], // LONG_BINGET
]);
