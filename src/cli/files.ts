import { constants } from 'node:fs';
import { access, mkdir, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { GraphModel } from '../graph/model';
import type { NodeRegistry } from '../plugin/registry';

/**
 * Files the CLI writes: results go to a temporary name in the same folder and are renamed into place (a crash never
 * leaves a half-written picture), output paths are checked before a run starts, and text from files is made safe
 * to print. Shared by `stylegraph run` and the queue worker.
 */

/** Writes under a temporary name in the same folder, then renames: a crash never leaves a half-written picture. */
export async function writeAtomically(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = await temporaryPath(path);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

/**
 * The temporary name a result is written under before it is renamed to `path` (same folder, so the rename is atomic);
 * the folder is created, and temporary files of a process that died writing this file are removed. For files written
 * as a stream (a video), which cannot go through {@link writeAtomically}.
 */
export async function temporaryPath(path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const prefix = `.${basename(path)}.`;
  for (const n of await readdir(dirname(path)))
    if (n.startsWith(prefix) && n.endsWith('.tmp')) await rm(join(dirname(path), n), { force: true });
  return join(dirname(path), `${prefix}${process.pid}.tmp`);
}

/** Where a result goes when its own path cannot be written: the OS temp folder, under a name not taken yet. */
export function fallbackPath(path: string, folder = tmpdir()): string {
  const ext = extname(path);
  return join(folder, `stylegraph-rescued-${basename(path, ext)}-${process.pid}-${Date.now().toString(36)}${ext}`);
}

/**
 * Writes atomically; when that fails (a full disk, a folder that went away) the bytes go to {@link fallbackPath}
 * instead, so a finished run is never lost. Returns the path written and, after a fallback, why.
 */
export async function writeOrRescue(
  path: string,
  bytes: Uint8Array | string,
): Promise<{ path: string; failed?: string }> {
  try {
    await writeAtomically(path, bytes);
    return { path };
  } catch (e) {
    const failed = `cannot write ${path}: ${(e as Error).message}`;
    const rescue = fallbackPath(path);
    await writeAtomically(rescue, bytes).catch((e2: Error) => {
      throw new Error(`${failed}; saving it to ${rescue} failed too: ${e2.message}`);
    });
    return { path: rescue, failed };
  }
}

/** What an output is checked against: files the run reads (the graph, its images) must never be overwritten. */
export interface OutputCheck {
  /** Files written, as given (relative to `cwd`). */
  files: string[];
  /** Folders written into (a batch's --out FOLDER): created when missing. */
  folders?: string[];
  /** Files the run reads: the graph and every local input image. */
  inputs: string[];
  cwd: string;
}

const canonical = async (path: string): Promise<string> => {
  const abs = resolve(path);
  try {
    return await realpath(abs);
  } catch {
    // Not there yet: its folder's real path and its name.
    try {
      return join(await realpath(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
};

/**
 * Problems with the output paths, found before a run starts: a file whose folder is missing or not writable, a path
 * that is a folder, or one that is the graph or an input image. Missing batch folders are created here. Empty: fine.
 */
export async function checkOutputs(c: OutputCheck): Promise<string[]> {
  const problems: string[] = [];
  const inputs = new Map<string, string>();
  for (const i of c.inputs) inputs.set(await canonical(resolve(c.cwd, i)), i);
  const writable = async (folder: string, what: string) => {
    const s = await stat(folder).catch(() => null);
    if (!s) return (problems.push(`${what}: the folder ${folder} does not exist`), false);
    if (!s.isDirectory()) return (problems.push(`${what}: ${folder} is not a folder`), false);
    return access(folder, constants.W_OK).then(
      () => true,
      () => (problems.push(`${what}: the folder ${folder} is not writable`), false),
    );
  };
  for (const folder of c.folders ?? []) {
    const abs = resolve(c.cwd, folder);
    const s = await stat(abs).catch(() => null);
    if (s && !s.isDirectory()) {
      problems.push(`--out ${folder}: a batch writes into a folder, and ${abs} is a file`);
      continue;
    }
    if (!s) {
      const made = await mkdir(abs, { recursive: true }).then(
        () => true,
        (e: Error) => (problems.push(`--out ${folder}: cannot create the folder: ${e.message}`), false),
      );
      if (!made) continue;
    }
    await writable(abs, `--out ${folder}`);
  }
  for (const file of c.files) {
    const abs = resolve(c.cwd, file);
    const s = await stat(abs).catch(() => null);
    if (s?.isDirectory()) {
      problems.push(`${file} is a folder; give a file name for the result (e.g. ${join(file, 'out.png')})`);
      continue;
    }
    const input = inputs.get(await canonical(abs));
    if (input !== undefined) {
      problems.push(`${file} is an input of this run (${input}); writing the result there would overwrite it`);
      continue;
    }
    await writable(dirname(abs), file);
  }
  return [...new Set(problems)];
}

/** The photos (.jpg, .png) in a folder, sorted, as paths joined to it: a `--content FOLDER` batch, a training folder. */
export async function batchSources(folder: string): Promise<string[]> {
  const names = (await readdir(folder)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  return names.map((n) => join(folder, n));
}

/**
 * Text from a file (a checkpoint's keys, a document's strings) made safe for a terminal: control characters (ANSI
 * escapes, carriage returns, backspaces) and bidirectional overrides are written as visible escapes. Newlines and tabs stay.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * The local image files a graph reads (image parameters that are paths, resolved against the graph's folder): outputs
 * must not overwrite them. URLs, data: and upload: sources are not files.
 */
export function imageInputs(model: GraphModel, registry: NodeRegistry, graphFile: string): string[] {
  const out: string[] = [];
  for (const node of model.nodes)
    for (const [name, p] of Object.entries(registry.get(node.type)?.params ?? {})) {
      const v = node.params[name];
      if (p.kind === 'image' && typeof v === 'string' && v && !/^[a-z][a-z0-9+.-]*:/i.test(v))
        out.push(resolve(dirname(graphFile), v));
    }
  return out;
}
