/** The graph as plain data: what the editor edits, the compiler reads and documents store. */
export interface GraphNode {
  id: string;
  type: string;
  position: { x: number; y: number };
  params: Record<string, unknown>;
  title?: string;
  /** A bypassed node is kept in the graph but its term drops out of the run. */
  bypass?: boolean;
  [extra: string]: unknown;
}

export interface GraphEdge {
  from: { node: string; output: string; [extra: string]: unknown };
  to: { node: string; input: string; [extra: string]: unknown };
  [extra: string]: unknown;
}

/** Nodes collapsed in the editor into one box that shows only the parameters chosen to be exposed. */
export interface GraphGroup {
  id: string;
  title: string;
  nodes: string[];
  exposed: { node: string; param: string }[];
  collapsed: boolean;
  [extra: string]: unknown;
}

export interface GraphModel {
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups?: GraphGroup[];
  metadata: { title?: string; description?: string; [extra: string]: unknown };
  /** Top-level document fields this version does not know, written back unchanged. */
  extra: Record<string, unknown>;
}

export const edgeKey = (node: string, socket: string): string => `${node}.${socket}`;

/** Edges into each node, grouped by input name, in document order. */
export function incomingEdges(model: GraphModel): Map<string, Map<string, GraphEdge[]>> {
  const byNode = new Map<string, Map<string, GraphEdge[]>>();
  for (const e of model.edges) {
    let inputs = byNode.get(e.to.node);
    if (!inputs) byNode.set(e.to.node, (inputs = new Map()));
    const list = inputs.get(e.to.input) ?? [];
    list.push(e);
    inputs.set(e.to.input, list);
  }
  return byNode;
}

/**
 * Kahn's algorithm, stable in document order. Returns the order, or the nodes of one cycle
 * (in edge direction, first node repeated at the end is left to the caller to show).
 */
export function topologicalOrder(
  ids: readonly string[],
  edges: readonly { from: string; to: string }[],
): { order: string[] } | { cycle: string[] } {
  const indegree = new Map(ids.map((id) => [id, 0]));
  const next = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (!indegree.has(e.from) || !indegree.has(e.to)) continue;
    indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
    next.get(e.from)!.push(e.to);
  }
  const ready = ids.filter((id) => indegree.get(id) === 0);
  const order: string[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const n of next.get(id)!) {
      const d = indegree.get(n)! - 1;
      indegree.set(n, d);
      if (d === 0) ready.push(n);
    }
  }
  if (order.length === ids.length) return { order };
  return {
    cycle: findCycle(
      ids.filter((id) => indegree.get(id)! > 0),
      next,
    ),
  };
}

function findCycle(candidates: string[], next: Map<string, string[]>): string[] {
  const inCandidates = new Set(candidates);
  // Every remaining node has a remaining predecessor, so walking backwards-in-forward-direction
  // from any of them must revisit a node; the loop between the two visits is a cycle.
  const start = candidates[0]!;
  const seen = new Map<string, number>();
  const path: string[] = [];
  let cur: string | undefined = start;
  while (cur !== undefined && !seen.has(cur)) {
    seen.set(cur, path.length);
    path.push(cur);
    cur = next.get(cur)!.find((n) => inCandidates.has(n) && canReach(n, cur!, next, inCandidates));
  }
  return cur === undefined ? candidates : path.slice(seen.get(cur));
}

function canReach(from: string, to: string, next: Map<string, string[]>, allowed: Set<string>): boolean {
  const stack = [from];
  const seen = new Set<string>();
  while (stack.length) {
    const n = stack.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const m of next.get(n) ?? []) if (allowed.has(m)) stack.push(m);
  }
  return false;
}
