import { z } from 'zod';
import type { Diagnostic } from './diagnostics';
import type { GraphModel, GraphNode } from './model';

export const FORMAT = 'stylegraph';
export const CURRENT_VERSION = 1;

const zPosition = z.object({ x: z.number(), y: z.number() });

export const zNodeV1 = z.looseObject({
  id: z.string().regex(/^[A-Za-z0-9_-]+$/, 'a node id is letters, digits, _ and - (it names the node in --set and reports)'),
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
});

export type NodeDocV1 = z.infer<typeof zNodeV1>;
export type EdgeDocV1 = z.infer<typeof zEdgeV1>;

export interface GraphDocument {
  format: typeof FORMAT;
  version: number;
  nodes: NodeDocV1[];
  edges: EdgeDocV1[];
  metadata: z.infer<typeof zMetadata>;
  [extra: string]: unknown;
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
    try {
      raw = JSON.parse(input);
    } catch (e) {
      return { model: null, diagnostics: [err('$', `not valid JSON: ${e instanceof Error ? e.message : String(e)}`)] };
    }
  }
  const shell = zDocumentShell.safeParse(raw);
  if (!shell.success) return { model: null, diagnostics: zodDiagnostics(shell.error, '$') };
  const doc = shell.data;
  const diagnostics: Diagnostic[] = [];
  if (doc.version > CURRENT_VERSION)
    diagnostics.push(
      err('$.version', `this document was written by a newer StyleGraph (format version ${doc.version}; this one reads up to ${CURRENT_VERSION})`),
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
  const { format: _f, version: _v, nodes: _n, edges: _e, metadata, ...extra } = doc;
  return { model: { nodes, edges, metadata, extra }, diagnostics };
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
