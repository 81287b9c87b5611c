import { WeightsError, formatShape, type StateDict } from './state-dict';

/**
 * The deeplearn.js checkpoint folder (what ml5 publishes its fast style networks in): a `manifest.json` mapping
 * each variable's name to `{ "filename": ..., "shape": [...] }`, and one file per variable holding its values as
 * raw little-endian float32, nothing else. Every name, shape and size is checked before a file is read.
 */

/** The largest manifest.json read (the ml5 networks' are about 4 KB). */
export const MAX_DL_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The most variables a manifest may list, counted (as JSON objects) before the manifest is parsed. */
export const MAX_DL_ENTRIES = 10_000;
/** The most dimensions a variable's shape may have. */
export const MAX_DL_DIMS = 8;
/** The most float32 values of all variables together (1 GiB; a fast style network has 1.7 M). */
export const MAX_DL_TOTAL_FLOATS = 256 * 1024 * 1024;

export interface DlEntry {
  /** The variable's name (a manifest key). */
  name: string;
  /** The file that holds it: a plain name inside the checkpoint's folder. */
  filename: string;
  shape: number[];
  /** 4 x the product of the shape. */
  bytes: number;
}

/**
 * Reads one file of the checkpoint's folder by its plain name. `expectedBytes` is the length the manifest gives it,
 * so a host that can see a file's size first (a disk, a Content-Length) may refuse a larger one before reading it.
 */
export type ReadCheckpointFile = (filename: string, expectedBytes: number) => Promise<Uint8Array>;

/** A file name that names a file inside the folder: no separators, no `.` or `..`, no drive letter, no control characters. */
export function isPlainFileName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 255 &&
    name !== '.' &&
    name !== '..' &&
    !/[/\\:]/.test(name) &&
    // eslint-disable-next-line no-control-regex -- control characters are exactly what a file name must not hold
    !/[\u0000-\u001f\u007f]/.test(name)
  );
}

/** Does this JSON look like a deeplearn.js manifest (rather than a tfjs model.json)? Checks content, not the file name. */
export function looksLikeDlManifest(text: string): boolean {
  if (/"(?:weightsManifest|modelTopology)"\s*:/.test(text)) return false;
  return /^\s*\{\s*"(?:[^"\\]|\\.)*"\s*:\s*\{/.test(text) && /"filename"\s*:/.test(text) && /"shape"\s*:/.test(text);
}

/** Parses and checks a manifest.json: names, plain file names, shapes, the total size. Reads no variable file. */
export function parseDlManifest(bytes: Uint8Array, what = 'manifest.json'): DlEntry[] {
  if (bytes.length > MAX_DL_MANIFEST_BYTES)
    throw new WeightsError(
      `${what}: the manifest is ${bytes.length} bytes; the limit is ${MAX_DL_MANIFEST_BYTES} (not a deeplearn.js checkpoint, or a hostile one)`,
    );
  // Every entry is a JSON object: counting '{' bounds the entries before JSON.parse builds them.
  let objects = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x7b) objects++;
  if (objects > MAX_DL_ENTRIES + 1)
    throw new WeightsError(
      `${what}: the manifest lists about ${objects - 1} variables; the limit is ${MAX_DL_ENTRIES}`,
    );
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new WeightsError(`${what}: the manifest is not JSON: ${(e as Error).message}`);
  }
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest))
    throw new WeightsError(`${what}: the manifest is not a JSON object of variables`);
  const entries: DlEntry[] = [];
  const files = new Map<string, string>();
  let total = 0;
  for (const [name, v] of Object.entries(manifest as Record<string, unknown>)) {
    const e = v as { filename?: unknown; shape?: unknown } | null;
    if (!e || typeof e !== 'object' || Array.isArray(e))
      throw new WeightsError(`${what}: variable ${JSON.stringify(name)} is not an object with "filename" and "shape"`);
    const { filename, shape } = e;
    if (typeof filename !== 'string')
      throw new WeightsError(`${what}: variable ${JSON.stringify(name)} has no "filename" string`);
    if (!isPlainFileName(filename))
      throw new WeightsError(
        `${what}: variable ${JSON.stringify(name)} names the file ${JSON.stringify(filename)}; only plain names of files inside the checkpoint's folder are read (no "/", "\\", "..", drive or absolute paths)`,
      );
    const other = files.get(filename);
    if (other !== undefined)
      throw new WeightsError(
        `${what}: variables ${JSON.stringify(other)} and ${JSON.stringify(name)} both name the file ${JSON.stringify(filename)}`,
      );
    files.set(filename, name);
    if (
      !Array.isArray(shape) ||
      shape.length > MAX_DL_DIMS ||
      !shape.every((d): d is number => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)
    )
      throw new WeightsError(
        `${what}: variable ${JSON.stringify(name)} has shape ${JSON.stringify(shape)}; a shape is a list of at most ${MAX_DL_DIMS} whole numbers >= 0`,
      );
    // Multiplying in doubles stays exact while the product is under 2^53; stopping at the cap keeps it there.
    let n = 1;
    for (const d of shape) if ((n *= d) > MAX_DL_TOTAL_FLOATS) break;
    total += n;
    if (total > MAX_DL_TOTAL_FLOATS)
      throw new WeightsError(
        `${what}: the variables up to ${JSON.stringify(name)} ${formatShape(shape)} hold more than ${MAX_DL_TOTAL_FLOATS} floats (${(4 * MAX_DL_TOTAL_FLOATS) / 2 ** 30} GiB), the limit`,
      );
    entries.push({ name, filename, shape, bytes: 4 * n });
  }
  if (!entries.length) throw new WeightsError(`${what}: the manifest lists no variables`);
  return entries;
}

/**
 * Reads a deeplearn.js checkpoint: the manifest's bytes, and a function that reads one of the folder's files by
 * name (the CLI from disk, the browser from fetch or IndexedDB). Each file must be exactly 4 x its shape's
 * product bytes long. Values are float32 in the manifest's shapes (TensorFlow's layout: a conv is [kh, kw, in, out]).
 */
export async function readDlCheckpoint(
  manifest: Uint8Array,
  readFile: ReadCheckpointFile,
  what = 'manifest.json',
): Promise<StateDict> {
  const entries = parseDlManifest(manifest, what);
  const out: StateDict = new Map();
  for (const e of entries) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(e.filename, e.bytes);
    } catch (err) {
      if (err instanceof WeightsError) throw err;
      throw new WeightsError(
        `${what}: cannot read ${JSON.stringify(e.filename)} (variable ${JSON.stringify(e.name)}): ${(err as Error).message}`,
      );
    }
    if (bytes.length !== e.bytes)
      throw new WeightsError(
        `${what}: ${JSON.stringify(e.filename)} is ${bytes.length} bytes, but variable ${JSON.stringify(e.name)} ${formatShape(e.shape)} needs ${e.bytes} (4 bytes per float32)`,
      );
    const data = new Float32Array(e.bytes / 4);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(4 * i, true);
    out.set(e.name, { shape: e.shape, data });
  }
  return out;
}
