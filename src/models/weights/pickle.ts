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
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = offset;

  const need = (n: number) => {
    if (p + n > bytes.length) throw new PickleError('the pickle stream ends early (truncated file?)');
  };
  const u8 = () => (need(1), bytes[p++]!);
  const u16 = () => (need(2), (p += 2), view.getUint16(p - 2, true));
  const i32 = () => (need(4), (p += 4), view.getInt32(p - 4, true));
  const u32 = () => (need(4), (p += 4), view.getUint32(p - 4, true));
  const u64 = () => (need(8), (p += 8), Number(view.getBigUint64(p - 8, true)));
  const take = (n: number) => (need(n), (p += n), bytes.subarray(p - n, p));
  const line = () => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) throw new PickleError('the pickle stream ends early (truncated file?)');
    const s = text.decode(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };
  const pop = () => {
    if (!stack.length) throw new PickleError('malformed pickle: the stack is empty');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new PickleError('malformed pickle: no MARK');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const top = () => stack[stack.length - 1];
  const global = (name: string) => {
    if (!(name in options.globals))
      throw new PickleError(
        `refused: the file refers to the Python global "${name}", which a weights file does not need (nothing was run)`,
      );
    return new PyGlobal(name);
  };
  const longFrom = (b: Uint8Array) => {
    if (b.length > MAX_PICKLE_INT_BYTES)
      throw new PickleError(
        `refused: a ${b.length}-byte integer (the limit is ${MAX_PICKLE_INT_BYTES} bytes; a weights file needs none this long)`,
      );
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b.length && b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number(v);
  };
  const textInt = (s: string) => {
    if (s.length > MAX_PICKLE_INT_BYTES)
      throw new PickleError(
        `refused: a ${s.length}-digit integer (the limit is ${MAX_PICKLE_INT_BYTES} digits; a weights file needs none this long)`,
      );
    return Number.parseInt(s, 10);
  };
  const name = (v: unknown, what: string) => {
    if (typeof v !== 'string')
      throw new PickleError(`malformed pickle: a global's ${what} is ${describeValue(v)}, not a string`);
    return v;
  };
  const list = (v: unknown, op: string): unknown[] => {
    if (!Array.isArray(v)) throw new PickleError(`malformed pickle: ${op} on ${describeValue(v)}, not a list`);
    return v;
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) throw new PickleError('malformed pickle: SETITEMS on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME
      case 0x2e:
        return { value: pop(), end: p }; // STOP
      case 0x28:
        stack.push(MARK);
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a:
        stack.push(longFrom(take(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(longFrom(take(u32())));
        break; // LONG4
      case 0x49: {
        // INT (text; 00 and 01 are False and True)
        const s = line();
        stack.push(s === '00' ? false : s === '01' ? true : textInt(s));
        break;
      }
      case 0x4c:
        stack.push(textInt(line().replace(/L$/, '')));
        break; // LONG (text)
      case 0x47:
        need(8);
        stack.push(view.getFloat64(p, false));
        p += 8;
        break; // BINFLOAT (big-endian)
      case 0x46:
        stack.push(Number.parseFloat(line()));
        break; // FLOAT (text)
      case 0x58:
        stack.push(text.decode(take(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(text.decode(take(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(text.decode(take(u64())));
        break; // BINUNICODE8
      case 0x56:
        stack.push(line());
        break; // UNICODE (raw-unicode-escape; keys are ASCII)
      case 0x54:
        stack.push(text.decode(take(i32())));
        break; // BINSTRING
      case 0x55:
        stack.push(text.decode(take(u8())));
        break; // SHORT_BINSTRING
      case 0x53:
        stack.push(line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2'));
        break; // STRING
      case 0x42:
        stack.push(take(u32()));
        break; // BINBYTES
      case 0x43:
        stack.push(take(u8()));
        break; // SHORT_BINBYTES
      case 0x8e:
        stack.push(take(u64()));
        break; // BINBYTES8
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      } // TUPLE3
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x61: {
        const v = pop();
        list(top(), 'APPEND').push(v);
        break;
      } // APPEND
      case 0x65: {
        // APPENDS: one by one, as spreading 300k items as arguments overflows the call stack
        const items = popMark();
        const target = list(top(), 'APPENDS');
        for (const item of items) target.push(item);
        break;
      }
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x64: {
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      } // DICT
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x63: {
        const module = line();
        stack.push(global(`${module}.${line()}`));
        break;
      } // GLOBAL
      case 0x93: {
        const n = name(pop(), 'name');
        const module = name(pop(), 'module');
        stack.push(global(`${module}.${n}`));
        break;
      } // STACK_GLOBAL
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal))
          throw new PickleError('malformed pickle: REDUCE on something that is not a global');
        const reducer = options.globals[fn.name];
        if (!reducer)
          throw new PickleError(`refused: the file calls "${fn.name}", which is allowed only as a reference`);
        stack.push(reducer(args as unknown[]));
        break;
      }
      case 0x62:
        pop();
        break; // BUILD: state of an OrderedDict (metadata) or tensor; not needed
      case 0x51: {
        // BINPERSID
        if (!options.persistentLoad) throw new PickleError('refused: persistent ids are not expected here');
        stack.push(options.persistentLoad(pop()));
        break;
      }
      case 0x50: {
        // PERSID
        if (!options.persistentLoad) throw new PickleError('refused: persistent ids are not expected here');
        stack.push(options.persistentLoad(line()));
        break;
      }
      case 0x70:
        memo.set(textInt(line()), top());
        break; // PUT
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x67:
        stack.push(memo.get(textInt(line())));
        break; // GET
      case 0x68:
        stack.push(memo.get(u8()));
        break; // BINGET
      case 0x6a:
        stack.push(memo.get(u32()));
        break; // LONG_BINGET
      default:
        throw new PickleError(
          `refused: pickle opcode 0x${op.toString(16)} ('${String.fromCharCode(op)}') at byte ${p - 1} builds objects or is unknown; a weights file does not need it`,
        );
    }
  }
}
