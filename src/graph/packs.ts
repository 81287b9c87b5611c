import { z } from 'zod';
import type { PackHost } from '../plugin/packs';
import type { NodeRegistry } from '../plugin/registry';
import type { GraphModel } from './model';

/** A document's record of the packs its node types come from: name, version range and where it lives. */
export interface PackReference {
  name: string;
  version: string;
  source?: string;
}

const zReferences = z.array(z.object({ name: z.string(), version: z.string(), source: z.string().optional() }));

export const packOfType = (type: string): string | null =>
  type.includes('/') ? type.slice(0, type.indexOf('/')) : null;

/** The packs a document says it needs (its top-level `packs`), ignoring entries that do not read. */
export function packReferences(model: GraphModel): PackReference[] {
  const r = zReferences.safeParse(model.extra.packs);
  return r.success ? r.data : [];
}

/** The model with `packs` listing every installed pack its nodes use (and keeping references to missing ones). */
export function recordPacks(model: GraphModel, host: Pick<PackHost, 'packs'>): GraphModel {
  const used = new Set(model.nodes.map((n) => packOfType(n.type)).filter((p): p is string => p !== null));
  const refs = new Map(
    packReferences(model)
      .filter((r) => used.has(r.name))
      .map((r) => [r.name, r]),
  );
  for (const p of host.packs)
    if (used.has(p.name) && p.status === 'enabled')
      refs.set(p.name, {
        name: p.name,
        version: `^${p.version}`,
        ...(/^(https?:|file:)/.test(p.origin) ? { source: p.origin } : {}),
      });
  const extra = { ...model.extra };
  if (refs.size) extra.packs = [...refs.values()];
  else delete extra.packs;
  return { ...model, extra };
}

/** Packs the document's nodes need that the registry does not have, with what the document says about them. */
export function missingPacks(model: GraphModel, registry: NodeRegistry): (PackReference & { nodes: string[] })[] {
  const refs = new Map(packReferences(model).map((r) => [r.name, r]));
  const missing = new Map<string, PackReference & { nodes: string[] }>();
  for (const n of model.nodes) {
    const pack = packOfType(n.type);
    if (!pack || registry.has(n.type)) continue;
    const entry = missing.get(pack) ?? { ...(refs.get(pack) ?? { name: pack, version: '*' }), nodes: [] };
    entry.nodes.push(n.id);
    missing.set(pack, entry);
  }
  return [...missing.values()];
}
