import { z } from 'zod';
import type { Diagnostic } from './diagnostics';
import type { GraphGroup, GraphModel, GraphNode } from './model';

export const FORMAT = 'stylegraph';
export const CURRENT_VERSION = 1;

const zPosition = z.object({ x: z.number(), y: z.number() });

/** Names that are properties of every JavaScript object: refused as ids, so no map keyed by id can be polluted. */
export const RESERVED_IDS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

export const zNodeV1 = z.looseObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'a node id is letters, digits, _ and - (it names the node in --set and reports)')
    .refine((id) => !RESERVED_IDS.includes(id), {
      error: (iss) => `"${String(iss.input)}" is reserved and cannot be a node id (${RESERVED_IDS.join(', ')})`,
    }),
  type: z.string().min(1, 'a node type cannot be empty'),
  position: zPosition.default({ x: 0, y: 0 }),
  params: z.record(z.string(), z.unknown()).default({}),
  title: z.string().optional(),
  bypass: z.boolean().optional(),
});

export const zEdgeV1 = z.looseObject({
  from: z.looseObject({ node: z.string().min(1), output: z.string().min(1) }),
  to: z.looseObject({ node: z.string().min(1), input: z.string().min(1) }),
});

export const zGroupV1 = z.looseObject({
  id: z
    .string()
    .min(1)
    .refine((id) => !RESERVED_IDS.includes(id), {
      error: (iss) => `"${String(iss.input)}" is reserved and cannot be a group id`,
    }),
  title: z.string().default('Group'),
  nodes: z.array(z.string()),
  exposed: z.array(z.looseObject({ node: z.string(), param: z.string() })).default([]),
  collapsed: z.boolean().default(false),
});

export const zMetadata = z.looseObject({
  title: z.string().optional(),
  description: z.string().optional(),
  author: z.string().optional(),
});

/** The document's outer shell; nodes and edges are checked one by one so one bad item does not hide the rest. */
const zDocumentShell = z.looseObject({
  format: z.literal(FORMAT, { message: `"format" must be "${FORMAT}"` }),
  version: z.number().int().positive(),
  nodes: z.array(z.unknown()),
  edges: z.array(z.unknown()).default([]),
  metadata: zMetadata.default({}),
  groups: z.array(z.unknown()).optional(),
});

export type NodeDocV1 = z.infer<typeof zNodeV1>;
export type EdgeDocV1 = z.infer<typeof zEdgeV1>;

export interface GraphDocument {
  format: typeof FORMAT;
  version: number;
  nodes: NodeDocV1[];
  edges: EdgeDocV1[];
  metadata: z.infer<typeof zMetadata>;
  groups?: z.infer<typeof zGroupV1>[];
  [extra: string]: unknown;
}

type Json = Record<string, unknown>;

/**
 * The upgrade from each older format version to the next (key: the version it upgrades from). Empty while the
 * format is at version 1; a change of format adds a step here, and tests/fixtures/documents keeps a document of
 * every released version, which must still open.
 */
export const MIGRATIONS: Record<number, (doc: Json) => Json> = {};

/** Applies the chain from the document's version up to `target`; a document of an unknown old version is refused. */
export function migrate(
  raw: unknown,
  target = CURRENT_VERSION,
  steps = MIGRATIONS,
): { doc: unknown; from?: number } | { error: string } {
  const doc = raw as Json | null;
  const version = doc && typeof doc === 'object' ? doc.version : undefined;
  if (typeof version !== 'number' || !Number.isInteger(version) || version >= target) return { doc: raw };
  let out: Json = doc!;
  for (let v = version; v < target; v++) {
    const step = steps[v];
    if (!step) return { error: `format version ${version} cannot be read: no upgrade from version ${v} to ${v + 1}` };
    out = { ...step(out), version: v + 1 };
  }
  return { doc: out, from: version };
}

/**
 * Limits a document must stay within; each breach is a clear error, not a hang or a crash. 2000 nodes is about ten
 * times the largest preset and what the editor can lay out and draw; the counts are checked before anything else.
 */
export const LIMITS = {
  textBytes: 8 * 1024 * 1024,
  nodes: 2000,
  edges: 8000,
  stringLength: 2 * 1024 * 1024,
  depth: 64,
} as const;

function checkLimits(raw: unknown): string | null {
  const doc = raw as { nodes?: unknown; edges?: unknown };
  if (Array.isArray(doc?.nodes) && doc.nodes.length > LIMITS.nodes)
    return `the document has ${doc.nodes.length} nodes; the limit is ${LIMITS.nodes}`;
  if (Array.isArray(doc?.edges) && doc.edges.length > LIMITS.edges)
    return `the document has ${doc.edges.length} edges; the limit is ${LIMITS.edges}`;
  const stack: [unknown, number][] = [[raw, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (depth > LIMITS.depth) return `the document nests deeper than ${LIMITS.depth} levels`;
    if (typeof v === 'string' && v.length > LIMITS.stringLength) {
      const at = pathTo(raw, v) ?? '$';
      const what = v.startsWith('data:') ? 'a picture embedded as a data: URL' : 'a text value';
      return `${at}: ${what} is ${v.length} characters, longer than the ${LIMITS.stringLength} a document allows${v.startsWith('data:') ? ' (give the picture as a file, or paint at a smaller size)' : ''}`;
    }
    if (v && typeof v === 'object') {
      // JSON.parse makes "__proto__" an own key; copied into a plain object it would set the prototype.
      if (Object.prototype.hasOwnProperty.call(v, '__proto__'))
        return 'the document has a key "__proto__", which is not allowed';
      for (const child of Object.values(v)) stack.push([child, depth + 1]);
    }
  }
  return null;
}

/** Where in a document the value `target` is, as a JSON path (looked for no deeper than the limit); null if not. */
function pathTo(v: unknown, target: unknown, at = '$', depth = 0): string | null {
  if (v === target) return at;
  if (!v || typeof v !== 'object' || depth >= LIMITS.depth) return null;
  for (const [k, child] of Object.entries(v)) {
    const found = pathTo(child, target, joinPath(at, [Array.isArray(v) ? Number(k) : k]), depth + 1);
    if (found) return found;
  }
  return null;
}

export interface ParseResult {
  /** Null only when the text is not a graph document at all. */
  model: GraphModel | null;
  diagnostics: Diagnostic[];
}

/** Parses JSON text or an already-parsed value. Never throws. */
export function parseDocument(input: string | unknown): ParseResult {
  let raw: unknown = input;
  if (typeof input === 'string') {
    if (input.length > LIMITS.textBytes)
      return { model: null, diagnostics: [err('$', `the document is larger than ${LIMITS.textBytes} bytes`)] };
    try {
      raw = JSON.parse(input);
    } catch (e) {
      return { model: null, diagnostics: [err('$', `not valid JSON: ${e instanceof Error ? e.message : String(e)}`)] };
    }
  }
  const limit = checkLimits(raw);
  if (limit) return { model: null, diagnostics: [err('$', limit)] };
  const migrated = migrate(raw);
  if ('error' in migrated) return { model: null, diagnostics: [err('$.version', migrated.error)] };
  raw = migrated.doc;
  const shell = zDocumentShell.safeParse(raw);
  if (!shell.success) return { model: null, diagnostics: zodDiagnostics(shell.error, '$') };
  const doc = shell.data;
  const diagnostics: Diagnostic[] = [];
  if (doc.version > CURRENT_VERSION)
    diagnostics.push(
      err(
        '$.version',
        `this document was written by a newer StyleGraph (format version ${doc.version}; this one reads up to ${CURRENT_VERSION})`,
      ),
    );

  const nodes: GraphNode[] = [];
  doc.nodes.forEach((n, i) => {
    const r = zNodeV1.safeParse(n);
    if (r.success) nodes.push(r.data);
    else diagnostics.push(...zodDiagnostics(r.error, `$.nodes[${i}]`));
  });
  const edges: GraphModel['edges'] = [];
  doc.edges.forEach((e, i) => {
    const r = zEdgeV1.safeParse(e);
    if (r.success) edges.push(r.data);
    else diagnostics.push(...zodDiagnostics(r.error, `$.edges[${i}]`));
  });
  const groups: GraphGroup[] = [];
  (doc.groups ?? []).forEach((g, i) => {
    const r = zGroupV1.safeParse(g);
    if (r.success) groups.push(r.data);
    else diagnostics.push(...zodDiagnostics(r.error, `$.groups[${i}]`));
  });
  const { format: _f, version: _v, nodes: _n, edges: _e, metadata, groups: _g, ...extra } = doc;
  return { model: { nodes, edges, metadata, extra, ...(groups.length ? { groups } : {}) }, diagnostics };
}

/** The document for a model; unknown fields read earlier are written back unchanged. */
export function toDocument(model: GraphModel): GraphDocument {
  return {
    ...model.extra,
    format: FORMAT,
    version: CURRENT_VERSION,
    metadata: model.metadata,
    nodes: model.nodes,
    edges: model.edges,
    ...(model.groups?.length ? { groups: model.groups } : {}),
  };
}

export function serialiseDocument(model: GraphModel): string {
  return JSON.stringify(toDocument(model), null, 2) + '\n';
}

function err(path: string, message: string): Diagnostic {
  return { severity: 'error', path, message };
}

function zodDiagnostics(error: z.ZodError, base: string): Diagnostic[] {
  return error.issues.map((issue) => err(joinPath(base, issue.path), issue.message));
}

export function joinPath(base: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((p, k) => (typeof k === 'number' ? `${p}[${k}]` : `${p}.${String(k)}`), base);
}
