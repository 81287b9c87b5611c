import semver from 'semver';
import { z } from 'zod';
import type { NodeRegistry } from './registry';
import type { NodeTypeDef, ParamValues } from './types';

/** The plugin API this host implements; a pack names the range of it that it was written for. */
export const PLUGIN_API_VERSION = '1.4.0';

/** What a node pack module exports (as `default` or `pack`): its name, version, the API range, its node types. */
export interface PackManifest {
  /** Lower-case words joined by -, e.g. `wct`; it prefixes the pack's node types (`wct/whiten-colour`). */
  name: string;
  /** The pack's own version (semver). */
  version: string;
  /** The StyleGraph plugin API versions the pack works with, a semver range such as `^1.0.0`. */
  api: string;
  description: string;
  homepage?: string;
  nodes: NodeTypeDef[];
}

/** Gives a pack its types; returns the manifest unchanged. */
export function definePack(manifest: PackManifest): PackManifest {
  return manifest;
}

const zManifest = z.object({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,63}$/, 'a pack name is lower-case letters, digits and -, starting with a letter'),
  version: z.string().refine((v) => semver.valid(v) !== null, 'the version must be semver, e.g. 1.0.0'),
  api: z.string().refine((r) => semver.validRange(r) !== null, 'api must be a semver range, e.g. ^1.0.0'),
  description: z.string().max(2000),
  homepage: z.string().max(2000).optional(),
  nodes: z.array(z.unknown()).min(1, 'a pack brings at least one node type').max(200),
});

export interface PackRecord {
  name: string;
  version: string;
  api: string;
  description: string;
  homepage?: string;
  /** Where it was loaded from: a URL, a file path, or `file:NAME` for a file the user picked. */
  origin: string;
  /** Registered node type names, namespaced. */
  types: string[];
  status: 'enabled' | 'disabled';
  /** Why it is disabled. */
  problem?: string;
}

export type InstallResult = { ok: true; pack: PackRecord } | { ok: false; error: string; pack?: PackRecord };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Loads node packs into a registry. Each pack is checked against the schema and the API range, its node types
 * are namespaced `pack/type`, a name clash refuses the pack, and every call into the pack's code is guarded: a pack
 * that throws (while registering, compiling or running) is reported with its name and disabled, its node types
 * leave the registry (documents keep them as placeholders), and the rest of the app keeps working.
 */
export class PackHost {
  readonly packs: PackRecord[] = [];
  /** Called when a pack gets disabled (the editor shows it; a run that was using it has already failed). */
  onChange: (pack: PackRecord) => void = () => {};

  constructor(readonly registry: NodeRegistry) {}

  /** Installs the module a pack file exports (its namespace object, or the manifest itself). */
  install(module: unknown, origin: string): InstallResult {
    let raw: unknown;
    let parsed: ReturnType<typeof zManifest.safeParse>;
    try {
      // Reading the module runs the pack's code (getters, a manifest built on access): a throw is its failure.
      raw =
        (module as { default?: unknown; pack?: unknown } | null)?.default ??
        (module as { pack?: unknown } | null)?.pack ??
        module;
      parsed = zManifest.safeParse(raw);
    } catch (e) {
      return { ok: false, error: `${origin} failed while registering: ${message(e)}` };
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return {
        ok: false,
        error: `${origin} is not a StyleGraph node pack: ${issue.path.join('.') || 'manifest'}: ${issue.message}`,
      };
    }
    const m = parsed.data;
    const name = m.name;
    if (!semver.satisfies(PLUGIN_API_VERSION, m.api))
      return {
        ok: false,
        error: `pack "${name}" ${m.version} needs plugin API ${m.api}, but this StyleGraph provides ${PLUGIN_API_VERSION}`,
      };
    const existing = this.packs.find((p) => p.name === name);
    if (existing?.status === 'enabled')
      return {
        ok: false,
        error: `a pack named "${name}" is already installed (version ${existing.version}, from ${existing.origin})`,
      };
    if (existing) this.packs.splice(this.packs.indexOf(existing), 1);

    const record: PackRecord = {
      name,
      version: m.version,
      api: m.api,
      description: m.description,
      ...(m.homepage ? { homepage: m.homepage } : {}),
      origin,
      types: [],
      status: 'enabled',
    };
    const defs: NodeTypeDef[] = [];
    try {
      for (const node of m.nodes as NodeTypeDef[]) {
        if (!node || typeof node !== 'object' || typeof node.type !== 'string')
          throw new Error('every entry of nodes must be a node type made with defineNodeType');
        const type = node.type.startsWith(`${name}/`) ? node.type : `${name}/${node.type}`;
        if (defs.some((d) => d.type === type)) throw new Error(`node type "${type}" is declared twice`);
        if (this.registry.has(type)) throw new Error(`node type "${type}" clashes with one already registered`);
        defs.push(this.guard({ ...node, type, category: node.category ?? name }, record));
      }
    } catch (e) {
      return { ok: false, error: `pack "${name}" was not installed: ${message(e)}` };
    }
    for (const def of defs) {
      const error = this.registry.register(def);
      if (error) {
        for (const t of record.types) this.registry.unregister(t);
        return { ok: false, error: `pack "${name}" was not installed: ${error}` };
      }
      record.types.push(def.type);
    }
    this.packs.push(record);
    return { ok: true, pack: record };
  }

  /** Takes a pack's node types out of the registry, keeping the record with the reason. */
  disable(name: string, problem: string) {
    const p = this.packs.find((x) => x.name === name);
    if (!p || p.status === 'disabled') return;
    for (const t of p.types) this.registry.unregister(t);
    p.status = 'disabled';
    p.problem = problem;
    this.onChange(p);
  }

  /** Uninstalls a pack (the user's choice, so no onChange report). */
  remove(name: string) {
    const i = this.packs.findIndex((x) => x.name === name);
    if (i < 0) return;
    for (const t of this.packs[i]!.types) this.registry.unregister(t);
    this.packs.splice(i, 1);
  }

  /** Wraps every function of a node type so that a throw names the pack and disables it. */
  private guard(def: NodeTypeDef, record: PackRecord): NodeTypeDef {
    const wrap =
      <A extends unknown[], R>(what: string, fn: (...args: A) => R) =>
      (...args: A): R => {
        const fail = (e: unknown): never => {
          const text = `pack "${record.name}" (node ${def.type}) failed in ${what}: ${message(e)}`;
          this.disable(record.name, text);
          // A pack stopped by its host's limits (the CLI's pack sandbox) is bad input, as a checkpoint that does not fit.
          throw Object.assign(
            new Error(text),
            (e as { badInput?: unknown } | null)?.badInput === true ? { badInput: true } : {},
          );
        };
        try {
          const r = fn(...args);
          return (r instanceof Promise ? r.catch(fail) : r) as R;
        } catch (e) {
          return fail(e);
        }
      };
    const guarded: NodeTypeDef = { ...def, infer: wrap('infer', def.infer) };
    if (typeof def.outputs === 'function') guarded.outputs = wrap('outputs', def.outputs);
    if (def.compute) guarded.compute = wrap('compute', def.compute);
    if (def.flops) guarded.flops = wrap('flops', def.flops);
    if (def.load) guarded.load = wrap('load', def.load);
    if (def.describeWeights) guarded.describeWeights = wrap('describeWeights', def.describeWeights);
    if (def.prepare)
      guarded.prepare = Object.fromEntries(
        Object.entries(def.prepare).map(([k, p]) => [
          k,
          { ...p, info: wrap(`prepare.${k}`, p.info), run: wrap(`prepare.${k}`, p.run) },
        ]),
      );
    if (def.shared) {
      guarded.shared = { ...def.shared, run: wrap('shared pass', def.shared.run) };
      if (def.shared.tiling) guarded.shared.tiling = wrap('shared tiling', def.shared.tiling);
    }
    const optimiser = def.roles?.optimiser;
    if (optimiser)
      guarded.roles = {
        ...def.roles,
        optimiser: { ...optimiser, settings: wrap('roles.optimiser.settings', optimiser.settings) },
      };
    if (def.tiled) {
      const tiled = def.tiled;
      guarded.tiled = wrap('tiled', (params: ParamValues) => {
        const t = tiled(params);
        return t && { ...t, stats: wrap('tiled stats', t.stats), finish: wrap('tiled finish', t.finish) };
      });
    }
    return guarded;
  }
}
