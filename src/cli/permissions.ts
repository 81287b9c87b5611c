import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, parse, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import type { Io } from './io';
import { configDir, packageRoot } from './trust';
import { defaultCacheDir } from './weights-cache';

/**
 * Packs in the command line run under Node's permission model: when a command loads a pack the user named
 * (`--plugin`, or a config the user trusted), `stylegraph` runs itself again as
 * `node --permission --allow-fs-read=... --allow-fs-write=... scripts/stylegraph.mjs ARGS` (Node 20-22.12:
 * `--experimental-permission`). The model applies to the whole process, so the reads allowed are those the command
 * itself needs: stylegraph's install, the inputs, the packs' folders, the weight cache; writes only to the output.
 * No child processes, no native addons, no WASI. Worker threads are allowed, because tsx's loader hooks run on one
 * (Node 20's `module.register`) and wasm threads use them; a worker is under the same permissions as the process.
 *
 * What it does not cover is in docs/security.md: the network, packs of stylegraph's own project, `submit` and
 * `weights fetch`.
 */

/** The flag that turns the permission model on in this Node, or null where there is none (before 20). */
export function permissionFlag(version: string = process.versions.node): '--permission' | '--experimental-permission' | null {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 20) return null;
  // Stable (and no longer experimental) from 22.13 and 23.5.
  if (major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13)) return '--permission';
  return '--experimental-permission';
}

/** Whether this process already runs under the permission model. */
export const isConfined = (): boolean => Boolean((process as { permission?: unknown }).permission);

/** Whether the user lifted the confinement: `--no-sandbox-packs`, or STYLEGRAPH_SANDBOX_PACKS=0. */
export const sandboxLifted = (flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean =>
  Boolean(flag) || env.STYLEGRAPH_SANDBOX_PACKS === '0' || env.STYLEGRAPH_SANDBOX_PACKS === 'off';

export interface Confinement {
  /** Files and folders (a folder: everything under it) the process may read. */
  reads: string[];
  /** Files and folders it may write (also readable, so a folder can be checked before writing). */
  writes: string[];
  /** Reads and writes unlimited (a queue worker reads and writes where its jobs say); programs and addons still refused. */
  anyFile?: boolean;
}

export interface CommandFiles {
  command: string;
  cwd: string;
  /** Graph files (the positionals after the command). */
  graphs: string[];
  content?: string[] | undefined;
  style?: string[] | undefined;
  /** `--set NODE.PARAM=VALUE` values: any may be a file. */
  set?: string[] | undefined;
  /** `--weights NAME=PATH_OR_URL`. */
  weights?: string[] | undefined;
  out?: string | undefined;
  report?: string | undefined;
  config?: string | undefined;
  /** The packs to load: paths (resolved against cwd) or URLs. */
  packs: string[];
  env?: NodeJS.ProcessEnv;
}

const isUrl = (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s);
const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** Every `node_modules` folder from `root` upwards: an installed stylegraph's dependencies may be hoisted above it. */
function moduleFolders(root: string): string[] {
  const out: string[] = [];
  for (let d = root; ; d = dirname(d)) {
    const nm = join(d, 'node_modules');
    if (d !== root && existsSync(nm)) out.push(nm);
    if (dirname(d) === d) break;
  }
  return out;
}

/** Each letter in the other case, as tsx writes the path it probes for case sensitivity. */
export const invertCase = (s: string) => [...s].map((ch) => (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase())).join('');

/** What a command may read and write when its packs run confined. */
export function confinementFor(c: CommandFiles): Confinement {
  const env = c.env ?? process.env;
  const at = (p: string) => resolve(c.cwd, p);
  const root = packageRoot();
  const cache = env.STYLEGRAPH_CACHE ? resolve(env.STYLEGRAPH_CACHE) : defaultCacheDir();
  const reads = [
    root, ...moduleFolders(root),
    // tsx: its transform cache (read only: a pack that could write it would put code into later, unconfined runs),
    // and the working folder with each letter's case inverted (/tmp/a.B -> /TMP/A.b), which it looks for to learn
    // whether the file system is case sensitive.
    join(tmpdir(), `tsx-${process.geteuid ? process.geteuid() : 'user'}`), invertCase(c.cwd),
    // The configuration is read again (and its trust checked) by the confined process.
    join(configDir(env), 'trust.json'),
    ...(c.config ? [at(c.config), join(dirname(at(c.config)), 'node_modules', 'stylegraph')] : []),
    at('stylegraph.config.json'), at('package.json'), at(join('node_modules', 'stylegraph')),
    cache,
  ];
  const writes: string[] = [];
  // A graph and its folder (a document's sources resolve inside it).
  for (const g of c.graphs) reads.push(at(g), dirname(at(g)));
  for (const s of [...(c.content ?? []), ...(c.style ?? [])]) if (!isUrl(s)) reads.push(at(s));
  for (const s of c.set ?? []) {
    const value = s.slice(s.indexOf('=') + 1);
    if (value && !isUrl(value)) reads.push(at(value));
  }
  let fetchesWeights = false;
  for (const w of c.weights ?? []) {
    const value = w.slice(w.indexOf('=') + 1);
    if (isUrl(value)) fetchesWeights = true;
    else if (value) reads.push(at(value));
  }
  if (fetchesWeights) writes.push(cache);
  for (const p of c.packs) {
    if (isUrl(p)) continue;
    const path = at(p);
    reads.push(isDir(path) ? path : dirname(path));
  }
  if (c.command === 'run') {
    // A batch (--content FOLDER) writes into its --out folder (made if missing); one picture into --out's folder.
    const batch = (c.content ?? []).some((s) => isDir(at(s)));
    const out = c.out !== undefined ? at(c.out) : at('stylegraph-out');
    writes.push(c.out === undefined || batch || (isDir(out) && !extname(out)) ? out : dirname(out));
    if (c.report !== undefined) writes.push(at(c.report));
  }
  if (c.command === 'worker') return { reads: [], writes: [], anyFile: true };
  return { reads: unique(reads), writes: unique(writes) };
}

/**
 * The paths without repeats and without any that lie inside another (Node 20 loses the grant of a folder itself
 * when a path inside it is granted too: `existsSync(folder)` is then refused). A file system root is never granted.
 */
export function unique(paths: string[]): string[] {
  const all = [...new Set(paths.filter((p) => p && parse(p).root !== p))];
  return all.filter((p) => !all.some((q) => q !== p && p.startsWith(q.endsWith(sep) ? q : q + sep)));
}

/** The node arguments that run a command confined: the permission flags, then stylegraph's own script. */
export function confinedArgs(conf: Confinement, argv: string[], flag: NonNullable<ReturnType<typeof permissionFlag>>): string[] {
  const fs = conf.anyFile
    ? ['--allow-fs-read=*', '--allow-fs-write=*']
    : [...unique([...conf.reads, ...conf.writes]).map((p) => `--allow-fs-read=${p}`), ...unique(conf.writes).map((p) => `--allow-fs-write=${p}`)];
  return [
    flag, ...fs, '--allow-worker',
    // The model is experimental in Node 20 and warns that --allow-worker widens it: said once, in our own words.
    '--disable-warning=ExperimentalWarning', '--disable-warning=SecurityWarning',
    join(packageRoot(), 'scripts', 'stylegraph.mjs'), ...argv,
  ];
}

/**
 * tsx compiles TypeScript with esbuild, a program, which the confined process may not start: it can only use tsx's
 * cache. This process (unconfined) has compiled what it imported so far; the modules a command imports later are
 * imported here first so that the cache holds them. A module imported lazily and not listed here fails confined
 * with "refused by Node's permission model (ChildProcess)" the first time (tests/pack-permissions.test.ts runs a
 * confined run on a cold cache).
 */
export async function warmModules(command: string): Promise<void> {
  if (command === 'run' || command === 'plan' || command === 'worker') await import('./node-tf');
  if (command === 'worker') await import('./queue/worker');
}

/** The line that says a command runs confined, and how to lift it. */
export function confinedNotice(conf: Confinement): string {
  if (conf.anyFile) return 'stylegraph: packs run under Node\'s permission model: no programs or native addons (files and network not limited); --no-sandbox-packs lifts it';
  const writes = conf.writes.length ? conf.writes.join(', ') : 'nothing';
  return `stylegraph: packs run under Node's permission model: reads limited to stylegraph, the inputs and the packs, writes to ${writes}; no programs or native addons; --no-sandbox-packs lifts it`;
}

/**
 * Runs the command again under the permission model and returns its exit status. Its output goes straight to this
 * terminal when `inherit`, else line by line through `io` (tests and other callers of main()).
 */
export function rerunConfined(conf: Confinement, argv: string[], io: Io, inherit: boolean, flag: NonNullable<ReturnType<typeof permissionFlag>>): Promise<number> {
  io.err(confinedNotice(conf));
  const child = spawn(process.execPath, confinedArgs(conf, argv, flag), {
    cwd: io.cwd,
    stdio: inherit ? 'inherit' : ['inherit', 'pipe', 'pipe'],
    env: { ...process.env, STYLEGRAPH_CONFINED: '1' },
  });
  if (!inherit) {
    createInterface({ input: child.stdout! }).on('line', (l) => io.out(l));
    createInterface({ input: child.stderr! }).on('line', (l) => io.err(l));
  }
  // Ctrl+C reaches the child too (same process group); the child stops and says so. SIGTERM is passed on (a worker drains).
  const onInt = () => {};
  const onTerm = () => child.kill('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((done) => {
    child.on('error', (e) => {
      io.err(`stylegraph: could not start the confined run: ${e.message}`);
      done(1);
    });
    child.on('close', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      done(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}

/** A clearer message for an error the permission model raised. */
export function accessDeniedMessage(e: unknown): string | null {
  const err = e as { code?: unknown; permission?: unknown; resource?: unknown } | null;
  if (!err || err.code !== 'ERR_ACCESS_DENIED') return null;
  const what = typeof err.permission === 'string' ? err.permission : 'access';
  const resource = typeof err.resource === 'string' && err.resource ? ` ${err.resource}` : '';
  return `refused by Node's permission model (${what}${resource}): packs run confined to the inputs and the output folder; ` +
    'run with --no-sandbox-packs if you trust the packs with your files';
}
