import { execFile } from 'node:child_process';
import { join } from 'node:path';

/**
 * `stylegraph` as a user runs it: `node scripts/stylegraph.mjs ARGS` in a child process. Kept apart from
 * tests/helpers.ts, which loads tfjs and the node registry: a CLI test needs neither in its own process.
 */

/** The repository root: where the CLI runs unless a test says otherwise. */
export const root = new URL('..', import.meta.url).pathname;

export interface CliResult {
  /** The exit code; `noCode` (1 unless given) when the child ended by a signal (a timeout's kill). */
  code: number;
  stdout: string;
  stderr: string;
  /** Whether the child was killed (its timeout ran out). */
  killed: boolean;
}

export interface CliOptions {
  /** The child's whole environment; this process's when left out. */
  env?: NodeJS.ProcessEnv;
  /** The working folder; the repository root when left out. */
  cwd?: string;
  timeout?: number;
  killSignal?: NodeJS.Signals;
  maxBuffer?: number;
  /** The code to report when the child gave none (killed by a signal); 1 when left out. */
  noCode?: number;
}

/** Runs the CLI with `args` and resolves with its exit code and output; it never rejects. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const { cwd = root, env = process.env, noCode = 1, ...limits } = options;
  return new Promise((resolve) => {
    execFile(
      'node',
      [join(root, 'scripts/stylegraph.mjs'), ...args],
      { cwd, env, encoding: 'utf8', ...limits },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : noCode) : 0,
          stdout,
          stderr,
          killed: Boolean(err?.killed),
        }),
    );
  });
}

/**
 * This process's environment with the CLI's weight cache in `dir`/cache (checkpoints cached on this machine would
 * change what runs use), then `extra`.
 */
export function ownCache(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, STYLEGRAPH_CACHE: join(dir, 'cache'), ...extra };
}

/** {@link ownCache} with the CLI's config folder in `dir`/config too (packs trusted on this machine would load). */
export function ownCacheAndConfig(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return ownCache(dir, { STYLEGRAPH_CONFIG_DIR: join(dir, 'config'), ...extra });
}
