/**
 * A WebM recording's duration. Chromium's MediaRecorder streams its WebM, so it never goes back to write the
 * Segment's Info/Duration: players then show no length and cannot seek. `withDuration` adds Duration (in the
 * Info's timecode units) to the Info element, or sets one that is there, and leaves everything else as it was.
 * Matroska/EBML: an element is an ID (its own length marker), a size (a variable-length integer) and its bytes.
 */

const EBML = 0x1a45dfa3;
const SEGMENT = 0x18538067;
const INFO = 0x1549a966;
const SEEK_HEAD = 0x114d9b74;
const SEEK = 0x4dbb;
const SEEK_POSITION = 0x53ac;
const CUES = 0x1c53bb6b;
const TIMECODE_SCALE = 0x2ad7b1;
const DURATION = 0x4489;

interface Element {
  id: number;
  /** Where the element starts (its ID), where its data starts, and where it ends (null: unknown size). */
  start: number;
  data: number;
  end: number | null;
  /** The size field's width in bytes. */
  sizeWidth: number;
}

/** A variable-length integer at `at`: its value (null for the reserved all-ones "unknown") and width. */
function vint(bytes: Uint8Array, at: number, keepMarker: boolean): { value: number | null; width: number } {
  const first = bytes[at];
  if (first === undefined || first === 0) throw new Error(`not a WebM element at byte ${at}`);
  const width = Math.clz32(first) - 23;
  if (at + width > bytes.length) throw new Error('the WebM file ends inside an element header');
  let value = keepMarker ? first : first & (0xff >> width);
  let ones = (first & (0xff >> width)) === 0xff >> width;
  for (let i = 1; i < width; i++) {
    value = value * 256 + bytes[at + i]!;
    ones &&= bytes[at + i] === 0xff;
  }
  return { value: !keepMarker && ones ? null : value, width };
}

function element(bytes: Uint8Array, at: number): Element {
  const id = vint(bytes, at, true);
  const size = vint(bytes, at + id.width, false);
  const data = at + id.width + size.width;
  return { id: id.value!, start: at, data, end: size.value === null ? null : data + size.value, sizeWidth: size.width };
}

/** The children of the element whose data runs from `from` to `to`. */
function children(bytes: Uint8Array, from: number, to: number): Element[] {
  const out: Element[] = [];
  for (let at = from; at < to;) {
    const e = element(bytes, at);
    out.push(e);
    if (e.end === null) break;
    at = e.end;
  }
  return out;
}

/** `value` as a size field `width` bytes wide, or null when it does not fit. */
function sizeField(value: number, width: number): number[] | null {
  if (value >= 2 ** (7 * width) - 1) return null;
  const out: number[] = [];
  let v = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  out[0]! |= 0x80 >> (width - 1);
  return out;
}

/** `value` as a big-endian unsigned integer `width` bytes wide. */
function uint(value: number, width: number): number[] {
  const out: number[] = [];
  let v = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

const float64 = (x: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, x);
  return [...b];
};

/** The duration a WebM's Info gives, in milliseconds, or null when it has none. */
export function webmDuration(bytes: Uint8Array): number | null {
  const info = findInfo(bytes);
  if (!info) return null;
  const kids = children(bytes, info.data, info.end!);
  const d = kids.find((k) => k.id === DURATION);
  if (!d) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset + d.data, d.end! - d.data);
  const units = d.end! - d.data === 4 ? view.getFloat32(0) : view.getFloat64(0);
  return (units * scaleOf(bytes, kids)) / 1e6;
}

function scaleOf(bytes: Uint8Array, kids: Element[]): number {
  const s = kids.find((k) => k.id === TIMECODE_SCALE);
  if (!s) return 1e6;
  let v = 0;
  for (let i = s.data; i < s.end!; i++) v = v * 256 + bytes[i]!;
  return v || 1e6;
}

function findInfo(bytes: Uint8Array): (Element & { segment: Element }) | null {
  const top = children(bytes, 0, bytes.length);
  if (top[0]?.id !== EBML) throw new Error('not a WebM file (no EBML header)');
  const segment = top.find((e) => e.id === SEGMENT);
  if (!segment) return null;
  const info = children(bytes, segment.data, segment.end ?? bytes.length).find((e) => e.id === INFO);
  return info && info.end !== null ? { ...info, segment } : null;
}

/**
 * The recording with its Info's Duration set to `ms` milliseconds. Returned unchanged where that cannot be done
 * safely: no Info, Cues (their positions would move), a SeekHead position or a size that cannot grow.
 */
export function withDuration(bytes: Uint8Array, ms: number): Uint8Array {
  const info = findInfo(bytes);
  if (!info) return bytes;
  const kids = children(bytes, info.data, info.end!);
  const units = (ms * 1e6) / scaleOf(bytes, kids);
  const existing = kids.find((k) => k.id === DURATION);
  if (existing && existing.end! - existing.data === 8) {
    const out = bytes.slice();
    out.set(float64(units), existing.data);
    return out;
  }
  if (existing) return bytes;
  // A Duration element: ID 0x4489, size 8, a big-endian float64, at the end of the Info, whose size field grows (wider
  // where it must): everything after it moves by `delta`.
  const added = [0x44, 0x89, 0x88, ...float64(units)];
  const infoBytes = info.end! - info.data + added.length;
  let infoSize: number[] | null = null;
  for (let w = info.sizeWidth; !infoSize && w <= 8; w++) infoSize = sizeField(infoBytes, w);
  if (!infoSize) return bytes;
  const delta = added.length + infoSize.length - info.sizeWidth;
  const seg = info.segment;
  const segmentKids = children(bytes, seg.data, seg.end ?? bytes.length);
  // Cues point into clusters all over the file: not moved here (a streamed recording has none).
  if (segmentKids.some((k) => k.id === CUES)) return bytes;
  // A SeekHead before the Info: its positions (from the Segment's data) of what follows the Info move by `delta`.
  const moved: { at: number; field: number[] }[] = [];
  for (const head of segmentKids.filter((k) => k.id === SEEK_HEAD)) {
    if (head.end === null || head.start > info.start) return bytes;
    for (const seek of children(bytes, head.data, head.end).filter((k) => k.id === SEEK && k.end !== null))
      for (const pos of children(bytes, seek.data, seek.end!).filter((k) => k.id === SEEK_POSITION && k.end !== null)) {
        let v = 0;
        for (let i = pos.data; i < pos.end!; i++) v = v * 256 + bytes[i]!;
        if (v <= info.start - seg.data) continue;
        const width = pos.end! - pos.data;
        if (v + delta >= 2 ** (8 * width)) return bytes;
        moved.push({ at: pos.data, field: uint(v + delta, width) });
      }
  }
  let segmentSize: number[] | null = null;
  if (seg.end !== null) {
    segmentSize = sizeField(seg.end - seg.data + delta, seg.sizeWidth);
    if (!segmentSize) return bytes;
  }
  const idWidth = info.data - info.sizeWidth - info.start;
  const head = bytes.slice(0, info.start + idWidth);
  if (segmentSize) head.set(segmentSize, seg.data - seg.sizeWidth);
  for (const m of moved) head.set(m.field, m.at);
  return concat(
    head,
    Uint8Array.from(infoSize),
    bytes.subarray(info.data, info.end!),
    Uint8Array.from(added),
    bytes.subarray(info.end!),
  );
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
