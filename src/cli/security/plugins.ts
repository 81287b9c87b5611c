import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PackHost } from '../../plugin/packs';
import type { Io } from '../io';
import { loadSandboxedPack, packReads } from './pack-sandbox';
import { accessDeniedMessage } from './permissions';
import { configTrust, untrustedNotice } from './trust';

/**
 * Node packs for the command line: `--plugin PATH_OR_URL` (a pack's .js file, or its folder with a package.json)
 * and `stylegraph.config.json` ({ "plugins": [...] }) in the working directory. A pack that does not load is
 * reported and left out; the rest of the run goes on (a graph that needs it then says which pack is missing).
 */
export async function importPack(spec: string, cwd: string): Promise<{ module: unknown; origin: string }> {
  const where = await packSource(spec, cwd);
  if ('source' in where)
    return {
      // The editor's dev server loads this file with its config: Vite must not try to resolve a pack's URL.
      module: await import(
        /* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(where.source).toString('base64')}`
      ),
      origin: spec,
    };
  return { module: await import(/* @vite-ignore */ pathToFileURL(where.path).href), origin: spec };
}

/** Where a pack's code is: its entry file (and the folder or file named), or the text a URL answered. */
async function packSource(spec: string, cwd: string): Promise<{ path: string; given: string } | { source: string }> {
  if (/^https?:\/\//.test(spec)) {
    const res = await fetch(spec);
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    return { source: await res.text() };
  }
  const given = resolve(cwd, spec);
  let path = given;
  if ((await stat(path)).isDirectory()) {
    const pkg = JSON.parse(await readFile(join(path, 'package.json'), 'utf8').catch(() => '{}')) as {
      exports?: unknown;
      main?: string;
    };
    const entry = typeof pkg.exports === 'string' ? pkg.exports : (pkg.main ?? 'index.js');
    path = join(path, entry);
  }
  return { path, given };
}

/**
 * A pack loaded into a process of its own (pack-sandbox.ts): what it can do is compute on the tensors it is given.
 * Its process lives until the command ends (closePackProcesses).
 */
export async function sandboxPack(spec: string, cwd: string, io: Io): Promise<{ module: unknown; origin: string }> {
  const where = await packSource(spec, cwd);
  const label = `pack ${spec}`;
  const log = (line: string) => io.err(`${label}: ${line}`);
  const { module } =
    'source' in where
      ? loadSandboxedPack(label, { source: where.source }, [], log)
      : loadSandboxedPack(label, { path: where.path }, packReads(where.given, where.path), log);
  return { module, origin: spec };
}

type ConfigJson = { plugins?: unknown; weightsMirror?: unknown; remoteHosts?: unknown };

/**
 * The configuration: `--config FILE`, else `stylegraph.config.json` in the working directory, else the "stylegraph"
 * field of its package.json. Each key is taken from the first of these that has it.
 */
async function configFiles(cwd: string, file?: string): Promise<{ path: string; json: ConfigJson; text: string }[]> {
  const candidates = file
    ? [resolve(cwd, file)]
    : [resolve(cwd, 'stylegraph.config.json'), resolve(cwd, 'package.json')];
  const found: { path: string; json: ConfigJson; text: string }[] = [];
  for (const path of candidates) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if (!file && (e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read ${path}: ${(e as Error).message}`);
    }
    let json: ConfigJson & { stylegraph?: ConfigJson };
    try {
      json = JSON.parse(text) as typeof json;
    } catch (e) {
      throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
    }
    const config = path.endsWith('package.json') ? json.stylegraph : json;
    if (config && typeof config === 'object') found.push({ path, json: config, text });
  }
  return found;
}

export interface TrustedConfig {
  /** Packs a trusted config lists, paths resolved against the file. */
  plugins: string[];
  /** Hosts a trusted config lets documents fetch from (`"remoteHosts": ["images.example.org", "*.example.org"]`). */
  remoteHosts: string[];
  /** Why a config's packs or hosts were skipped (not trusted, or changed since): said on stderr. */
  notices: string[];
  /** The packs come from the config of the project stylegraph is installed in (trust.ts): not confined (permissions.ts). */
  ownPlugins?: boolean;
}

/**
 * What the configuration lists that widens what StyleGraph does: packs (code) and remote hosts. Each is taken
 * from the first config file that has the key, and only when the user trusts that file (`stylegraph trust`, see
 * trust.ts; the project stylegraph is installed in is the user's own); otherwise it is skipped with a notice.
 */
export async function trustedConfig(
  cwd: string,
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TrustedConfig> {
  const out: TrustedConfig = { plugins: [], remoteHosts: [], notices: [] };
  const files = await configFiles(cwd, file);
  const withPlugins = files.find((f) => f.json.plugins !== undefined);
  const withHosts = files.find((f) => f.json.remoteHosts !== undefined);
  for (const f of new Set([withPlugins, withHosts])) {
    if (!f) continue;
    const keys = [f === withPlugins ? 'packs' : '', f === withHosts ? 'remote hosts' : '']
      .filter(Boolean)
      .join(' and ');
    const state = await configTrust(f.path, f.text, env);
    if (state === 'untrusted' || state === 'changed') {
      out.notices.push(untrustedNotice(f.path, state, `its ${keys}`));
      continue;
    }
    if (f === withPlugins) {
      const plugins = f.json.plugins;
      if (!Array.isArray(plugins) || !plugins.every((p) => typeof p === 'string'))
        throw new Error(`${f.path}: "plugins" must be a list of paths or URLs`);
      out.plugins = plugins.map((p: string) => (/^https?:/.test(p) ? p : resolve(f.path, '..', p)));
      if (state === 'own') out.ownPlugins = true;
    }
    if (f === withHosts) {
      const hosts = f.json.remoteHosts;
      if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string' && /^(\*\.)?[a-z0-9.-]+$/i.test(h)))
        throw new Error(`${f.path}: "remoteHosts" must be a list of host names (images.example.org, *.example.org)`);
      out.remoteHosts = hosts as string[];
    }
  }
  return out;
}

/** The config file `stylegraph trust` records: the one given, else stylegraph.config.json or package.json here. */
export async function configToTrust(cwd: string, file?: string): Promise<string> {
  if (file) return resolve(cwd, file);
  const found = await configFiles(cwd);
  if (!found.length)
    throw new Error(
      `no stylegraph.config.json (or package.json with a "stylegraph" field) in ${cwd}; name the file: stylegraph trust CONFIG`,
    );
  return found[0]!.path;
}

/**
 * Where checkpoints are downloaded from instead of their hosts (an organisation's or a classroom's copy):
 * `STYLEGRAPH_WEIGHTS_MIRROR`, else the configuration's `"weightsMirror": "https://..."`. Null: the manifest's URLs.
 */
export async function configuredWeightsMirror(
  cwd: string,
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
  notice: (line: string) => void = () => {},
): Promise<{ url: string; from: string } | null> {
  const check = (url: string, from: string) => {
    if (!/^https?:\/\/[^/]/.test(url))
      throw new Error(`${from}: the weights mirror must be an http(s) URL, got "${url}"`);
    return { url, from };
  };
  if (env.STYLEGRAPH_WEIGHTS_MIRROR) return check(env.STYLEGRAPH_WEIGHTS_MIRROR, 'STYLEGRAPH_WEIGHTS_MIRROR');
  for (const { path, json, text } of await configFiles(cwd, file)) {
    if (json.weightsMirror === undefined) continue;
    if (typeof json.weightsMirror !== 'string') throw new Error(`${path}: "weightsMirror" must be a URL`);
    // A mirror decides where the networks come from: like packs and hosts, only a config the user trusts sets it.
    const state = await configTrust(path, text, env);
    if (state === 'untrusted' || state === 'changed') {
      notice(untrustedNotice(path, state, 'its weights mirror'));
      return null;
    }
    return check(json.weightsMirror, path);
  }
  return null;
}

/**
 * Loads packs. Each loaded pack is named on stderr when `announce` says so (packs given with --plugin, or every
 * pack with --verbose): the packs a config lists load quietly, so every command does not print them. Packs for
 * which `sandboxed` says so load in a process of their own (pack-sandbox.ts); the rest in this one.
 */
export async function loadPlugins(
  specs: string[],
  host: PackHost,
  io: Io,
  announce: (spec: string) => boolean = () => true,
  sandboxed: (spec: string) => boolean = () => false,
): Promise<void> {
  // The same pack named by the config and by --plugin loads once.
  const unique = [...new Map(specs.map((s) => [/^https?:\/\//.test(s) ? s : resolve(io.cwd, s), s])).values()];
  for (const spec of unique) {
    try {
      const { module, origin } = sandboxed(spec) ? await sandboxPack(spec, io.cwd, io) : await importPack(spec, io.cwd);
      const r = host.install(module, origin);
      if (!r.ok) io.err(`stylegraph: plugin ${spec}: ${r.error}`);
      else if (announce(spec)) io.err(`plugin ${r.pack.name} ${r.pack.version}: ${r.pack.types.join(', ')}`);
    } catch (e) {
      io.err(`stylegraph: plugin ${spec} could not be loaded: ${accessDeniedMessage(e) ?? (e as Error).message}`);
    }
  }
}
