import { PackHost, type PackRecord } from '../plugin/packs';
import type { NodeRegistry } from '../plugin/registry';
import type { NodeTypeDef, OptimiserSettings, OutputDef, ParamValues, ShapeContext, ValueInfo } from '../plugin/types';
import type { PackQuery, PackTypeData } from './protocol';

/**
 * Node packs across the sandbox wall. In the sandboxed worker, `SandboxPacks` installs the packs' modules and
 * describes each node type as plain data (`typeData`), and answers the page's questions about them with their own
 * functions (`answer`). On the page, `proxyType` turns that data back into a node type the palette, inspector and
 * validation can use; its functions ask the sandbox (`ask`) and read the answers from a cache, so no pack code
 * ever runs on the page.
 */

/** A pack's node type as plain data: through JSON, so only data crosses (a pack's declarations may hold anything). */
export function typeData(def: NodeTypeDef): PackTypeData {
  const r = def.roles;
  const roles: PackTypeData['roles'] = {};
  if (r?.optimiser) {
    const { loss, result, steps, previewEvery } = r.optimiser;
    roles.optimiser = { loss, steps, ...(result ? { result } : {}), ...(previewEvery ? { previewEvery } : {}) };
  }
  if (r?.loss) roles.loss = r.loss;
  if (r?.sum) roles.sum = r.sum;
  if (r?.encoder) roles.encoder = r.encoder;
  if (r?.source) roles.source = r.source;
  return JSON.parse(
    JSON.stringify({
      type: def.type,
      title: def.title,
      category: def.category,
      description: def.description,
      role: def.role,
      inputs: def.inputs,
      outputs: typeof def.outputs === 'function' ? 'dynamic' : def.outputs,
      params: def.params,
      roles,
      prepare: def.prepare ? Object.fromEntries(Object.entries(def.prepare).map(([k, p]) => [k, p.socket])) : undefined,
      hasFlops: typeof def.flops === 'function',
    }),
  ) as PackTypeData;
}

export interface PacksLoaded {
  packs: { record: PackRecord; types: PackTypeData[] }[];
  failed: { origin: string; error: string }[];
  errors: string[];
}

/** The packs in the sandbox: installed from their modules, described as data, asked about by the page. */
export class SandboxPacks {
  readonly host: PackHost;

  constructor(readonly registry: NodeRegistry) {
    this.host = new PackHost(registry);
  }

  /** Installs one pack beside those installed before (`load` imports a pack's source text as a module). */
  async add(
    p: { origin: string; source: string },
    load: (source: string) => Promise<unknown>,
  ): Promise<{ pack?: PacksLoaded['packs'][number]; error?: string }> {
    try {
      const r = this.host.install(await load(p.source), p.origin);
      if (!r.ok) throw new Error(r.error);
      return {
        pack: {
          record: { ...r.pack, types: [...r.pack.types] },
          types: r.pack.types.map((t) => typeData(this.registry.get(t)!)),
        },
      };
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      return { error: text.startsWith(p.origin) || text.startsWith('pack "') ? text : `${p.origin}: ${text}` };
    }
  }

  /** Replaces the installed packs with these, one after another. */
  async replace(
    list: readonly { origin: string; source: string }[],
    load: (source: string) => Promise<unknown>,
  ): Promise<PacksLoaded> {
    for (const p of [...this.host.packs]) this.host.remove(p.name);
    const out: PacksLoaded = { packs: [], failed: [], errors: [] };
    for (const p of list) {
      const r = await this.add(p, load);
      if (r.pack) out.packs.push(r.pack);
      else {
        out.errors.push(r.error!);
        out.failed.push({ origin: p.origin, error: r.error! });
      }
    }
    return out;
  }

  /** Answers a question about an installed pack's node type with its own (guarded) functions. */
  answer(q: PackQuery): unknown {
    const def = this.registry.get(q.nodeType);
    if (!def || !this.host.packs.some((p) => p.status === 'enabled' && p.types.includes(q.nodeType)))
      throw new Error(`${q.nodeType} is not an installed pack's node type`);
    const params = q.params as ParamValues;
    if (q.kind === 'infer') {
      const ctx: ShapeContext = { params, inputs: q.inputs, size: q.size };
      const outputs = def.infer(ctx);
      return { outputs, flops: def.flops ? def.flops(ctx, outputs) : 0 };
    }
    if (q.kind === 'prepare') {
      const p = def.prepare?.[q.input];
      if (!p) throw new Error(`${q.nodeType} prepares no input "${q.input}"`);
      return p.info(q.info, params);
    }
    if (q.kind === 'outputs') return typeof def.outputs === 'function' ? def.outputs(params) : def.outputs;
    const settings = def.roles?.optimiser?.settings;
    if (!settings) throw new Error(`${q.nodeType} is not an optimiser`);
    return settings(params);
  }
}

/** An answer from the sandbox (plain data: the page treats it as untrusted), or undefined while it is on its way. */
export type Ask = (q: PackQuery) => { result?: unknown; error?: string } | undefined;

/** Thrown while the sandbox has not answered yet: the graph is checked again when it does. */
export const PENDING = 'its shapes are being checked in the sandbox';

const plain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInfo = (v: unknown): v is ValueInfo =>
  plain(v) && Array.isArray(v.shape) && v.shape.every((d) => typeof d === 'number');

/**
 * A node type on the page built from a pack type's data: declarations as they are, and functions that read the
 * sandbox's answers. It never computes (the worker does), and it has no shared pass or tiled form: the page's plan
 * for a pack node is a plain node, the worker's plan is the one that runs.
 */
export function proxyType(data: PackTypeData, ask: Ask): NodeTypeDef {
  const answered = (q: PackQuery): unknown => {
    const a = ask(q);
    if (!a) throw new Error(PENDING);
    if (a.error !== undefined) throw new Error(String(a.error));
    return a.result;
  };
  const infer = (ctx: ShapeContext) =>
    answered({ kind: 'infer', nodeType: data.type, params: ctx.params, inputs: ctx.inputs, size: ctx.size }) as {
      outputs: unknown;
      flops: unknown;
    };
  const def: NodeTypeDef = {
    type: data.type,
    title: String(data.title),
    category: String(data.category),
    ...(data.description ? { description: String(data.description) } : {}),
    ...(data.role ? { role: data.role } : {}),
    inputs: data.inputs,
    outputs:
      data.outputs === 'dynamic'
        ? (params: ParamValues) => {
            const a = ask({ kind: 'outputs', nodeType: data.type, params });
            return a && plain(a.result) ? (a.result as Record<string, OutputDef>) : {};
          }
        : data.outputs,
    params: data.params,
    infer: (ctx) => {
      const { outputs } = infer(ctx);
      if (!plain(outputs) || !Object.values(outputs).every(isInfo))
        throw new Error(`${data.type}: the sandbox answered no shapes`);
      return outputs as Record<string, ValueInfo>;
    },
    compute: () => {
      throw new Error(`${data.type} computes in the sandboxed worker, not on the page`);
    },
  };
  if (data.hasFlops)
    def.flops = (ctx) => {
      const a = ask({ kind: 'infer', nodeType: data.type, params: ctx.params, inputs: ctx.inputs, size: ctx.size });
      const flops = plain(a?.result) ? (a.result as { flops?: unknown }).flops : 0;
      return typeof flops === 'number' ? flops : 0;
    };
  if (data.prepare)
    def.prepare = Object.fromEntries(
      Object.entries(data.prepare).map(([input, socket]) => [
        input,
        {
          socket: socket as NonNullable<NodeTypeDef['prepare']>[string]['socket'],
          // Until the sandbox answers, the input's own info stands in (it only sizes the plan's estimate).
          info: (info: ValueInfo, params: ParamValues) => {
            const a = ask({ kind: 'prepare', nodeType: data.type, params, input, info });
            return isInfo(a?.result) ? a.result : info;
          },
          run: () => {
            throw new Error(`${data.type} prepares its inputs in the sandboxed worker`);
          },
        },
      ]),
    );
  const r = data.roles;
  if (r && Object.keys(r).length) {
    const roles: NonNullable<NodeTypeDef['roles']> = {};
    if (r.loss) roles.loss = r.loss;
    if (r.sum) roles.sum = r.sum;
    if (r.encoder) roles.encoder = r.encoder;
    if (r.source) roles.source = r.source;
    if (r.optimiser)
      roles.optimiser = {
        ...r.optimiser,
        settings: (params) => {
          const a = ask({ kind: 'settings', nodeType: data.type, params });
          return plain(a?.result) ? (a.result as unknown as OptimiserSettings) : { method: 'adam', learningRate: 0.01 };
        },
      };
    def.roles = roles;
  }
  return def;
}
