/**
 * What every command is handed (its arguments, options, output and signal) and the steps several commands share:
 * the weights settings, the Redis address, the trusted config with its packs loaded.
 */
import { builtinRegistry } from '../../nodes';
import { PackHost } from '../plugin/packs';
import type { NodeRegistry } from '../plugin/registry';
import { UsageError, type Io } from './io';
import { DEFAULT_QUEUE, redisConnection } from './queue/redis';
import { packLimits, sandboxNotice } from './security/pack-sandbox';
import { sandboxLifted } from './security/permissions';
import { configuredWeightsMirror, loadPlugins, trustedConfig } from './security/plugins';
import type { RemoteConsent } from './security/source-access';
import type { Flags } from './usage';
import { defaultCacheDir } from './weights/weights-cache';
import type { WeightsSettings } from './weights/weights-fetch';

export interface CommandContext {
  command: string;
  /** The first argument after the command (a graph file, a batch id, a config, `weights`' subcommand). */
  file: string | undefined;
  /** The arguments after that. */
  rest: string[];
  flags: Flags;
  io: Io;
  signal: AbortSignal | undefined;
}

/** The node types (built in and from the packs) and the remote fetching the user consented to. */
export interface Loaded {
  registry: NodeRegistry;
  remote: RemoteConsent;
}

/** The weight cache and the mirror downloads come from (env, else the config's "weightsMirror"). */
export async function weightsSettings(c: CommandContext): Promise<WeightsSettings> {
  return {
    dir: defaultCacheDir(),
    mirror: await configuredWeightsMirror(c.io.cwd, c.flags.config, process.env, (l) => c.io.err(l)).catch(
      (e: Error) => {
        throw new UsageError(e.message);
      },
    ),
  };
}

export const queueName = (c: CommandContext): string => c.flags.queue ?? DEFAULT_QUEUE;

/** `--redis URL`, checked; a usage error when missing or not a Redis URL. */
export function redisUrl(c: CommandContext): string {
  const url = c.flags.redis;
  if (!url) throw new UsageError(`${c.command} needs --redis URL, e.g. --redis redis://127.0.0.1:6379`);
  try {
    redisConnection(url);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return url;
}

/**
 * The built-in node types and the packs of the trusted config and --plugin, loaded. Packs the user named (not
 * those of stylegraph's own project) run in processes of their own (pack-sandbox.ts).
 */
export async function loadPacks(c: CommandContext): Promise<Loaded> {
  const { io, flags: v } = c;
  const registry = builtinRegistry();
  const packs = new PackHost(registry);
  const config = await trustedConfig(io.cwd, v.config).catch((e: Error) => {
    throw new UsageError(e.message);
  });
  const plugins = [...config.plugins, ...(v.plugin ?? [])];
  const remote: RemoteConsent = {
    any: Boolean(v['allow-remote']),
    hosts: config.remoteHosts,
    privateNetwork: Boolean(v['allow-private-network']),
  };
  const userPacks = new Set([...(config.ownPlugins ? [] : config.plugins), ...(v.plugin ?? [])]);
  const sandboxed = (spec: string) => userPacks.has(spec) && !sandboxLifted(v['no-sandbox-packs']);
  for (const n of config.notices) io.err(n);
  const given = new Set(v.plugin ?? []);
  if (plugins.some(sandboxed)) io.err(sandboxNotice(packLimits()));
  await loadPlugins(plugins, packs, io, (spec) => Boolean(v.verbose) || given.has(spec), sandboxed);
  return { registry, remote };
}

/** Runs `body` with a signal that Ctrl+C (or the caller's signal) aborts. */
export async function withSigint<T>(signal: AbortSignal | undefined, body: (s: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  signal?.addEventListener('abort', () => controller.abort());
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
