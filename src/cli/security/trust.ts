import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Trust in a configuration file, as direnv trusts an .envrc: a config that lists packs (code that runs in this
 * process) or remote hosts is used only once the user has trusted it with `stylegraph trust [CONFIG]`, which records
 * the file's real path and the sha256 of its bytes in `$STYLEGRAPH_CONFIG_DIR/trust.json` (else
 * `$XDG_CONFIG_HOME/stylegraph`, else `~/.config/stylegraph`). A changed file needs trusting again.
 *
 * One exception: the configuration of the project stylegraph itself is installed in (the folder whose
 * `node_modules/stylegraph` is the running copy, or stylegraph's own checkout) is the user's own: running that
 * copy already runs that folder's code.
 */

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STYLEGRAPH_CONFIG_DIR) return resolve(env.STYLEGRAPH_CONFIG_DIR);
  return join(env.XDG_CONFIG_HOME ? resolve(env.XDG_CONFIG_HOME) : join(homedir(), '.config'), 'stylegraph');
}

interface TrustFile {
  v: 1;
  /** Real path of a config -> sha256 of the bytes the user trusted. */
  configs: Record<string, string>;
}

const sha256 = (bytes: string | Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const real = (path: string) => {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
};

async function readTrust(env: NodeJS.ProcessEnv): Promise<TrustFile> {
  try {
    const json = JSON.parse(await readFile(join(configDir(env), 'trust.json'), 'utf8')) as Partial<TrustFile>;
    const configs: Record<string, string> = {};
    for (const [k, v] of Object.entries(json.configs ?? {})) if (typeof v === 'string') configs[k] = v;
    return { v: 1, configs };
  } catch {
    return { v: 1, configs: {} };
  }
}

/** The folder of the stylegraph package this code runs from. */
export const packageRoot = () => real(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'));

/** Whether `config` lies in the project the running stylegraph belongs to (its own checkout, or a project that installed it). */
export function isOwnProject(config: string, root = packageRoot()): boolean {
  const folder = real(dirname(config));
  if (folder === root) return true;
  const installed = join(folder, 'node_modules', 'stylegraph');
  return existsSync(installed) && real(installed) === root;
}

export type TrustState = 'trusted' | 'own' | 'untrusted' | 'changed';

/** Whether the config at `path` with these bytes may be used. */
export async function configTrust(
  path: string,
  bytes: string | Uint8Array,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TrustState> {
  if (isOwnProject(path)) return 'own';
  const recorded = (await readTrust(env)).configs[real(path)];
  if (recorded === undefined) return 'untrusted';
  return recorded === sha256(bytes) ? 'trusted' : 'changed';
}

/** Records the config's current bytes as trusted; returns the path and hash recorded. */
export async function trustConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ path: string; hash: string; file: string }> {
  const bytes = await readFile(path);
  const trust = await readTrust(env);
  const key = real(path);
  const hash = sha256(bytes);
  trust.configs[key] = hash;
  const dir = configDir(env);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'trust.json');
  const tmp = join(dir, `.trust.json.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(trust, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
  return { path: key, hash, file };
}

/** What to tell the user about a config that is not used. */
export function untrustedNotice(path: string, state: 'untrusted' | 'changed', what: string): string {
  return (
    `stylegraph: ${path} ${state === 'changed' ? 'changed since you trusted it' : 'is not trusted'}; ${what} skipped. ` +
    `Read it, then run: stylegraph trust ${path}`
  );
}
