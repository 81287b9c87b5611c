import { resolveParams } from '../plugin/params';
import { sourceOf, type NodeSource } from '../plugin/roles';
import type { NodeRegistry } from '../plugin/registry';
import { checkConnection, outputsOf, type InputSlot, type SourceKind } from '../plugin/types';
import type { GraphEdge, GraphGroup, GraphModel, GraphNode } from './model';

/**
 * Edits of a GraphModel as pure functions: each returns a new model and leaves its argument alone,
 * so the editor's undo history is a list of models and every edit is testable without a DOM.
 */

export type Endpoint = { node: string; socket: string };
export type Check = { ok: true } | { ok: false; reason: string };

const clone = <T>(x: T): T => structuredClone(x);

/** A fresh id for a node of `type`: `vgg19`, `vgg19_2`, ... */
export function freshId(model: GraphModel, base: string, taken: ReadonlySet<string> = new Set()): string {
  const used = new Set([...model.nodes.map((n) => n.id), ...taken]);
  let clean = base.replace(/[^A-Za-z0-9_-]/g, '_') || 'node';
  // A copy of `style_2` is `style_3`, not `style_2_2` (but `style_relu1_1` keeps its name's own digits).
  const stem = clean.replace(/_\d+$/, '');
  if (stem !== clean && used.has(stem)) clean = stem;
  if (!used.has(clean)) return clean;
  for (let i = 2; ; i++) if (!used.has(`${clean}_${i}`)) return `${clean}_${i}`;
}

export function addNode(
  model: GraphModel,
  type: string,
  position: { x: number; y: number },
  params: Record<string, unknown> = {},
): { model: GraphModel; id: string } {
  const id = freshId(model, type);
  const next = clone(model);
  next.nodes.push({ id, type, position: { ...position }, params: clone(params) });
  return { model: next, id };
}

/** Whether `from` (an output) may feed `to` (an input): both exist, types match, and no cycle is made. */
export function canConnect(model: GraphModel, registry: NodeRegistry, from: Endpoint, to: Endpoint): Check {
  const a = model.nodes.find((n) => n.id === from.node);
  const b = model.nodes.find((n) => n.id === to.node);
  if (!a || !b) return { ok: false, reason: `node "${!a ? from.node : to.node}" does not exist` };
  if (a.id === b.id) return { ok: false, reason: 'a node cannot feed itself' };
  const da = registry.get(a.type);
  const db = registry.get(b.type);
  if (!da || !db) return { ok: false, reason: `"${!da ? a.type : b.type}" is a placeholder for a missing node type` };
  const out = outputsOf(da, resolveParams(da.params, a.params))[from.socket];
  if (!out) return { ok: false, reason: `${da.title} has no output "${from.socket}"` };
  const input = db.inputs[to.socket];
  if (!input) return { ok: false, reason: `${db.title} has no input "${to.socket}"` };
  const types = checkConnection(out.type, input.type);
  if (!types.ok) return types;
  if (reaches(model, b.id, a.id)) return { ok: false, reason: `it would make a cycle: ${b.id} already feeds ${a.id}` };
  return { ok: true };
}

/** Whether a path of edges leads from `start` to `goal`. */
export function reaches(model: GraphModel, start: string, goal: string): boolean {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length) {
    const id = stack.pop()!;
    if (id === goal) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const e of model.edges) if (e.from.node === id) stack.push(e.to.node);
  }
  return false;
}

/** Connects after `canConnect`; an input that takes one edge has its old edge replaced. */
export function connect(
  model: GraphModel,
  registry: NodeRegistry,
  from: Endpoint,
  to: Endpoint,
): { model: GraphModel } | { error: string } {
  const check = canConnect(model, registry, from, to);
  if (!check.ok) return { error: check.reason };
  const target = model.nodes.find((n) => n.id === to.node)!;
  const multiple = registry.get(target.type)!.inputs[to.socket]!.multiple === true;
  const next = clone(model);
  const same = (e: GraphEdge) =>
    e.from.node === from.node && e.from.output === from.socket && e.to.node === to.node && e.to.input === to.socket;
  if (next.edges.some(same)) return { model };
  next.edges = next.edges.filter((e) => multiple || !(e.to.node === to.node && e.to.input === to.socket));
  next.edges.push({ from: { node: from.node, output: from.socket }, to: { node: to.node, input: to.socket } });
  return { model: next };
}

export function disconnect(model: GraphModel, edge: GraphEdge): GraphModel {
  const next = clone(model);
  next.edges = next.edges.filter(
    (e) =>
      !(
        e.from.node === edge.from.node &&
        e.from.output === edge.from.output &&
        e.to.node === edge.to.node &&
        e.to.input === edge.to.input
      ),
  );
  return next;
}

/** Removes nodes, their edges, and their membership of groups (a group left empty goes too). */
export function removeNodes(model: GraphModel, ids: Iterable<string>): GraphModel {
  const gone = new Set(ids);
  const next = clone(model);
  next.nodes = next.nodes.filter((n) => !gone.has(n.id));
  next.edges = next.edges.filter((e) => !gone.has(e.from.node) && !gone.has(e.to.node));
  if (next.groups)
    next.groups = next.groups
      .map((g) => ({
        ...g,
        nodes: g.nodes.filter((n) => !gone.has(n)),
        exposed: g.exposed.filter((x) => !gone.has(x.node)),
      }))
      .filter((g) => g.nodes.length > 0);
  return next;
}

export function setParam(model: GraphModel, nodeId: string, name: string, value: unknown): GraphModel {
  const next = clone(model);
  const node = next.nodes.find((n) => n.id === nodeId);
  if (!node) return model;
  if (value === undefined) delete node.params[name];
  else node.params[name] = clone(value);
  return next;
}

export function moveNodes(model: GraphModel, positions: Record<string, { x: number; y: number }>): GraphModel {
  const next = clone(model);
  for (const n of next.nodes) if (positions[n.id]) n.position = { ...positions[n.id]! };
  return next;
}

/** Turns bypass on for every node given when any of them is on, off otherwise. */
export function toggleBypass(model: GraphModel, ids: readonly string[]): GraphModel {
  const next = clone(model);
  const chosen = next.nodes.filter((n) => ids.includes(n.id));
  const on = chosen.some((n) => !n.bypass);
  for (const n of chosen) {
    if (on) n.bypass = true;
    else delete n.bypass;
  }
  return next;
}

/** What a copy holds: the nodes and the edges between them. */
export interface Fragment {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export function copyFragment(model: GraphModel, ids: Iterable<string>): Fragment {
  const keep = new Set(ids);
  return clone({
    nodes: model.nodes.filter((n) => keep.has(n.id)),
    edges: model.edges.filter((e) => keep.has(e.from.node) && keep.has(e.to.node)),
  });
}

/** Pastes with fresh ids, shifted by `offset`; returns the new ids (to select them). */
export function pasteFragment(
  model: GraphModel,
  fragment: Fragment,
  offset = { x: 40, y: 40 },
): { model: GraphModel; ids: string[] } {
  const next = clone(model);
  const rename = new Map<string, string>();
  for (const n of fragment.nodes) {
    const id = freshId(next, n.id, new Set(rename.values()));
    rename.set(n.id, id);
    next.nodes.push({ ...clone(n), id, position: { x: n.position.x + offset.x, y: n.position.y + offset.y } });
  }
  for (const e of fragment.edges) {
    const from = rename.get(e.from.node);
    const to = rename.get(e.to.node);
    if (from && to) next.edges.push({ ...clone(e), from: { ...e.from, node: from }, to: { ...e.to, node: to } });
  }
  return { model: next, ids: [...rename.values()] };
}

/** Puts nodes into a new collapsed group (a node belongs to one group at most). */
export function groupNodes(
  model: GraphModel,
  ids: readonly string[],
  title: string,
  exposed: GraphGroup['exposed'] = [],
): { model: GraphModel; id: string } {
  const next = clone(model);
  const members = ids.filter((id) => next.nodes.some((n) => n.id === id));
  const groups = (next.groups ?? [])
    .map((g) => ({ ...g, nodes: g.nodes.filter((n) => !members.includes(n)) }))
    .filter((g) => g.nodes.length);
  const used = new Set(groups.map((g) => g.id));
  let id = 'group';
  for (let i = 2; used.has(id); i++) id = `group_${i}`;
  groups.push({
    id,
    title: title || 'Group',
    nodes: members,
    exposed: exposed.filter((x) => members.includes(x.node)),
    collapsed: true,
  });
  next.groups = groups;
  return { model: next, id };
}

export function updateGroup(
  model: GraphModel,
  id: string,
  change: Partial<Omit<GraphGroup, 'id' | 'nodes'>>,
): GraphModel {
  const next = clone(model);
  const g = next.groups?.find((x) => x.id === id);
  if (g) Object.assign(g, clone(change));
  return next;
}

export function ungroup(model: GraphModel, id: string): GraphModel {
  const next = clone(model);
  next.groups = (next.groups ?? []).filter((g) => g.id !== id);
  if (!next.groups.length) delete next.groups;
  return next;
}

/**
 * Lays the graph out left to right: columns by longest path from a source, rows in document order, each row as
 * tall as `heightOf` says the node is (the canvas passes drawn heights).
 */
export function arrange(
  model: GraphModel,
  spacing = { x: 280, y: 30 },
  heightOf: (id: string) => number = () => 140,
): GraphModel {
  const depth = new Map<string, number>(model.nodes.map((n) => [n.id, 0]));
  // Longest path by relaxation; a cycle (invalid anyway) is cut off after |V| rounds.
  for (let round = 0; round < model.nodes.length; round++) {
    let changed = false;
    for (const e of model.edges) {
      const d = (depth.get(e.from.node) ?? 0) + 1;
      if (depth.has(e.to.node) && d > depth.get(e.to.node)!) {
        depth.set(e.to.node, d);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const bottom = new Map<number, number>();
  const next = clone(model);
  for (const n of next.nodes) {
    const col = depth.get(n.id)!;
    const y = bottom.get(col) ?? 0;
    bottom.set(col, y + heightOf(n.id) + spacing.y);
    n.position = { x: col * spacing.x, y };
  }
  return next;
}

/** A copy of the model whose optimisers run `steps` steps (set in the parameter each names in roles.optimiser.steps). */
export function withSteps(model: GraphModel, registry: NodeRegistry, steps: number): GraphModel {
  return {
    ...model,
    nodes: model.nodes.map((n) => {
      const param = registry.get(n.type)?.roles?.optimiser?.steps;
      return param ? { ...n, params: { ...n.params, [param]: steps } } : n;
    }),
  };
}

/** A copy of the model whose optimisers preview every `every` steps (the parameter each names in roles.optimiser.previewEvery). */
export function withPreviewEvery(model: GraphModel, registry: NodeRegistry, every: number): GraphModel {
  return {
    ...model,
    nodes: model.nodes.map((n) => {
      const param = registry.get(n.type)?.roles?.optimiser?.previewEvery;
      return param ? { ...n, params: { ...n.params, [param]: every } } : n;
    }),
  };
}

/** A node's declared picture source (roles.source), its slot read from its parameters; undefined if it takes none. */
export const nodeSource = (registry: NodeRegistry, node: GraphNode): NodeSource | undefined =>
  sourceOf(registry.get(node.type), node.params);

/** The nodes that take pictures, of one kind (image, camera, folder) or of any, by their declared source role. */
export const sourceNodes = (model: GraphModel, registry: NodeRegistry, kind?: SourceKind): GraphModel['nodes'] =>
  model.nodes.filter((n) => {
    const s = nodeSource(registry, n);
    return s !== undefined && (kind === undefined || s.kind === kind);
  });

/** The picture nodes a run input replaces (`content`: a camera too; `style`), in document order. */
export const inputNodes = (model: GraphModel, registry: NodeRegistry, slot: InputSlot): GraphModel['nodes'] =>
  model.nodes.filter((n) => nodeSource(registry, n)?.slot === slot);

/** A copy of the model whose picture nodes that `pick` chooses read `source` (in the parameter their role names). */
export function withSource(
  model: GraphModel,
  registry: NodeRegistry,
  pick: (source: NodeSource, node: GraphNode) => boolean,
  source: string,
): GraphModel {
  return {
    ...model,
    nodes: model.nodes.map((n) => {
      const s = nodeSource(registry, n);
      return s && pick(s, n) ? { ...n, params: { ...n.params, [s.param]: source } } : n;
    }),
  };
}

/** A copy of the model whose picture nodes in `slot` read `source`. */
export const withInput = (model: GraphModel, registry: NodeRegistry, slot: InputSlot, source: string): GraphModel =>
  withSource(model, registry, (s) => s.slot === slot, source);
