import { resolveParams } from '../plugin/params';
import type { NodeRegistry } from '../plugin/registry';
import { outputsOf, type NodeRole, type SocketType } from '../plugin/types';
import { isPictureNode } from './pictures';
import { arrange } from '../graph/edit';
import type { GraphModel } from '../graph/model';

/**
 * What the canvas draws for a model: graph nodes as they are, each collapsed group as one box whose sockets
 * are the edges that cross its border. Socket keys of a group box are `member:socket`, so a connection made
 * on the box maps back to the member it belongs to.
 */
export interface ViewSocket {
  key: string;
  label: string;
  /** Null for a placeholder's sockets (its node type is missing). */
  type: SocketType | null;
  multiple: boolean;
  /**
   * An optional input nothing feeds (a loss's mask, weight): drawn on a small, muted row below the others, so the
   * rows a graph uses read first. It is still a socket a wire can be dropped on; once fed it is an ordinary row.
   */
  compact?: boolean;
}

export interface ViewNode {
  id: string;
  kind: 'node' | 'group' | 'placeholder';
  title: string;
  type: string;
  /** The node type's declared role (an output node is where a first view ends). */
  role?: NodeRole;
  /** A still-picture node (its source role reads an image): the canvas shows the picture. */
  picture?: boolean;
  position: { x: number; y: number };
  inputs: ViewSocket[];
  outputs: ViewSocket[];
  /** For a group box: its members. */
  members?: string[];
}

export interface ViewEdge {
  id: string;
  from: { node: string; socket: string };
  to: { node: string; socket: string };
}

export interface ViewGraph {
  nodes: ViewNode[];
  edges: ViewEdge[];
}

export const groupViewId = (groupId: string) => `group:${groupId}`;

/** Where a socket of the view lives in the model: a group box's `member:socket` key names its member. */
export function modelEndpoint(viewNode: string, socket: string): { node: string; socket: string } {
  if (!viewNode.startsWith('group:')) return { node: viewNode, socket };
  const at = socket.indexOf(':');
  return { node: socket.slice(0, at), socket: socket.slice(at + 1) };
}

export function viewGraph(model: GraphModel, registry: NodeRegistry): ViewGraph {
  const boxOf = new Map<string, string>();
  for (const g of model.groups ?? []) if (g.collapsed) for (const m of g.nodes) boxOf.set(m, groupViewId(g.id));
  const nodes: ViewNode[] = [];
  const byId = new Map(model.nodes.map((n) => [n.id, n]));
  const socketsOf = (nodeId: string) => {
    const n = byId.get(nodeId)!;
    const def = registry.get(n.type);
    if (!def) {
      // A placeholder keeps the sockets its edges name, so they still draw.
      const ins = [...new Set(model.edges.filter((e) => e.to.node === n.id).map((e) => e.to.input))];
      const outs = [...new Set(model.edges.filter((e) => e.from.node === n.id).map((e) => e.from.output))];
      return {
        inputs: ins.map((k) => ({ key: k, label: k, type: null, multiple: true })),
        outputs: outs.map((k) => ({ key: k, label: k, type: null, multiple: true })),
      };
    }
    const fed = (k: string) => model.edges.some((e) => e.to.node === nodeId && e.to.input === k);
    return {
      inputs: Object.entries(def.inputs).map(([k, d]) => ({
        key: k,
        label: d.label ?? k,
        type: d.type,
        multiple: d.multiple === true,
        ...(d.optional === true && !fed(k) ? { compact: true } : {}),
      })),
      outputs: Object.entries(outputsOf(def, resolveParams(def.params, n.params))).map(([k, d]) => ({
        key: k,
        label: d.label ?? k,
        type: d.type,
        multiple: true,
      })),
    };
  };

  for (const n of model.nodes) {
    if (boxOf.has(n.id)) continue;
    const def = registry.get(n.type);
    nodes.push({
      id: n.id,
      kind: def ? 'node' : 'placeholder',
      title: n.title ?? def?.title ?? n.type,
      type: n.type,
      ...(def?.role ? { role: def.role } : {}),
      ...(isPictureNode(registry, n) ? { picture: true } : {}),
      position: n.position,
      ...socketsOf(n.id),
    });
  }
  for (const g of model.groups ?? []) {
    if (!g.collapsed) continue;
    const members = g.nodes.filter((m) => byId.has(m));
    if (!members.length) continue;
    const inside = new Set(members);
    const inputs: ViewSocket[] = [];
    const outputs: ViewSocket[] = [];
    for (const m of members) {
      const s = socketsOf(m);
      // An input shows when it is fed from outside or not fed at all (so it can be wired); an output when it leaves.
      for (const i of s.inputs) {
        const feeds = model.edges.filter((e) => e.to.node === m && e.to.input === i.key);
        if (!feeds.length || feeds.some((e) => !inside.has(e.from.node)))
          inputs.push({ ...i, key: `${m}:${i.key}`, label: `${m}.${i.label}` });
      }
      for (const o of s.outputs)
        if (model.edges.some((e) => e.from.node === m && e.from.output === o.key && !inside.has(e.to.node)))
          outputs.push({ ...o, key: `${m}:${o.key}`, label: `${m}.${o.label}` });
    }
    const xs = members.map((m) => byId.get(m)!.position);
    const position = { x: Math.min(...xs.map((p) => p.x)), y: Math.min(...xs.map((p) => p.y)) };
    nodes.push({
      id: groupViewId(g.id),
      kind: 'group',
      title: g.title,
      type: 'group',
      position,
      inputs,
      outputs,
      members,
    });
  }

  const edges: ViewEdge[] = [];
  for (const e of model.edges) {
    if (!byId.has(e.from.node) || !byId.has(e.to.node)) continue;
    const a = boxOf.get(e.from.node);
    const b = boxOf.get(e.to.node);
    if (a && a === b) continue; // inside one collapsed group
    const from = a
      ? { node: a, socket: `${e.from.node}:${e.from.output}` }
      : { node: e.from.node, socket: e.from.output };
    const to = b ? { node: b, socket: `${e.to.node}:${e.to.input}` } : { node: e.to.node, socket: e.to.input };
    edges.push({ id: `${from.node}.${from.socket}>${to.node}.${to.socket}`, from, to });
  }
  return { nodes, edges };
}

/** How tall the canvas draws a socket row, and a compact one (an optional input nothing feeds: NodeView.vue). */
const SOCKET_ROW = 24;
const COMPACT_ROW = 16;

/** About how tall the canvas draws a node (header, socket rows, inline parameters), for layouts made without a DOM. */
export function estimateHeight(v: ViewNode, inlineParams = 4): number {
  const thumbnail = v.picture ? 164 : 0;
  const inputs = v.inputs.filter((s) => !s.compact);
  const rows = stackedSockets(v) ? inputs.length + v.outputs.length : Math.max(inputs.length, v.outputs.length);
  const compact = v.inputs.length - inputs.length;
  return 34 + SOCKET_ROW * rows + COMPACT_ROW * compact + 15 * inlineParams + 8 + thumbnail;
}

/**
 * Whether a node's longest input and output labels cannot share a row of its 220 px box (AdaIN's "style outside the
 * mask" beside "features 512x64x64"): then its outputs get rows of their own above the inputs, so every label is
 * read whole. 8 characters are kept for the output's shape. Compact rows (optional inputs nothing feeds) span the
 * box below both columns, so their labels never share a row with an output.
 */
export function stackedSockets(v: Pick<ViewNode, 'inputs' | 'outputs'>): boolean {
  const longest = (sockets: ViewSocket[]) => Math.max(0, ...sockets.map((s) => s.label.length));
  const inputs = v.inputs.filter((s) => !s.compact);
  return inputs.length > 0 && v.outputs.length > 0 && longest(inputs) + longest(v.outputs) + 8 > 28;
}

/** Arrange with each node as tall as the canvas draws it: columns by depth, rows by drawn height. */
export function layOut(model: GraphModel, registry: NodeRegistry): GraphModel {
  const views = new Map(viewGraph(model, registry).nodes.map((v) => [v.id, v]));
  return arrange(model, undefined, (id) => (views.get(id) ? estimateHeight(views.get(id)!) : 140));
}

/**
 * How presets are folded to fit the first view at 1600x1000 (at READABLE_ZOOM, 0.75, the canvas between the palette
 * and the right panel is 1060 x 931 px, about 1350 x 1180 graph units inside its margins): five columns 280 apart,
 * the graph's ends within the top 800 units (well inside the 1180) and its inputs within 1100 units of one column.
 */
export const FIRST_VIEW = { columns: 5, endsWithin: 800, inputsWithin: 1100 };

/**
 * Arrange folded into `columns` columns, for graphs that must fit the first view (scripts/arrange-presets.ts):
 * columns by depth as `arrange`, but nodes deeper than the last column stack in it, below that column's own and in
 * order of depth, so a long tail (sum, optimiser, output) turns down instead of running off to the right. The graph's
 * ends (its output nodes, else the nodes that feed nothing) that would land below `budget` go to the top of their
 * column, so they are in view with the inputs. Inputs taller together than `tallest` take two columns.
 */
export function layOutFolded(
  model: GraphModel,
  registry: NodeRegistry,
  columns: number,
  budget: number,
  tallest = budget,
): GraphModel {
  const views = new Map(viewGraph(model, registry).nodes.map((v) => [v.id, v]));
  const heightOf = (id: string) => (views.get(id) ? estimateHeight(views.get(id)!) : 140);
  const spacing = { x: 280, y: 30 };
  const depth = new Map<string, number>(arrange(model).nodes.map((n) => [n.id, n.position.x / 280]));
  // Inputs too many for one column (a training graph's folders, weights and preview pictures) take two.
  const sources = model.nodes.filter((n) => depth.get(n.id) === 0);
  const sourceHeight = sources.reduce((h, n) => h + heightOf(n.id) + spacing.y, 0);
  if (sourceHeight > tallest) {
    for (const [id, d] of depth) if (d > 0) depth.set(id, d + 1);
    let h = 0;
    for (const n of sources) {
      if (h > sourceHeight / 2) depth.set(n.id, 1);
      h += heightOf(n.id) + spacing.y;
    }
  }
  const feeding = new Set(model.edges.map((e) => e.from.node));
  const outputs = model.nodes.filter((n) => registry.get(n.type)?.role === 'output');
  const ends = new Set((outputs.length ? outputs : model.nodes.filter((n) => !feeding.has(n.id))).map((n) => n.id));
  const byColumn = new Map<number, GraphModel['nodes']>();
  const ordered = [...model.nodes].sort((a, b) => depth.get(a.id)! - depth.get(b.id)!);
  for (const n of ordered) {
    const col = Math.min(depth.get(n.id)!, columns - 1);
    byColumn.set(col, [...(byColumn.get(col) ?? []), n]);
  }
  const position = new Map<string, { x: number; y: number }>();
  for (const [col, nodes] of byColumn) {
    const stack = (list: GraphModel['nodes']) => {
      let y = 0;
      return list.map((n) => {
        const at = { id: n.id, y, bottom: y + heightOf(n.id) };
        y = at.bottom + spacing.y;
        return at;
      });
    };
    let placed = stack(nodes);
    if (placed.some((p) => ends.has(p.id) && p.bottom > budget))
      placed = stack([...nodes.filter((n) => ends.has(n.id)), ...nodes.filter((n) => !ends.has(n.id))]);
    for (const p of placed) position.set(p.id, { x: col * spacing.x, y: p.y });
  }
  return { ...model, nodes: model.nodes.map((n) => ({ ...n, position: position.get(n.id)! })) };
}
