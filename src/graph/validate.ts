import { checkParams, resolveParams } from '../plugin/params';
import type { NodeRegistry } from '../plugin/registry';
import { sourceOf } from '../plugin/roles';
import { checkConnection, outputsOf } from '../plugin/types';
import type { Diagnostic } from './diagnostics';
import { topologicalOrder, type GraphModel } from './model';

/**
 * Checks a model against the registry. Every problem becomes a diagnostic with a path;
 * nothing is removed from the model.
 */
export function validateGraph(model: GraphModel, registry: NodeRegistry): Diagnostic[] {
  const ds: Diagnostic[] = [];
  const index = new Map<string, number>();

  checkNodes(model, registry, index, ds);
  checkRegionNames(model, registry, ds);
  const { connected, validEdges } = checkEdges(model, registry, index, ds);

  model.nodes.forEach((node, i) => {
    const def = registry.get(node.type);
    if (!def || index.get(node.id) !== i) return;
    // An input wired to a placeholder (a node type that is missing) is connected; the placeholder is the problem.
    const fromPlaceholder = (name: string) =>
      model.edges.some(
        (e) =>
          e.to.node === node.id &&
          e.to.input === name &&
          !registry.has(model.nodes.find((n) => n.id === e.from.node)?.type ?? ''),
      );
    for (const [name, input] of Object.entries(def.inputs))
      if (!input.optional && !connected.has(`${node.id}.${name}`) && !fromPlaceholder(name))
        ds.push({
          severity: 'error',
          code: 'missing-input',
          nodeId: node.id,
          path: `$.nodes[${i}]`,
          message: `node "${node.id}" (${def.title}) needs its "${input.label ?? name}" input (${input.type}) connected`,
        });
  });

  const topo = topologicalOrder([...index.keys()], validEdges);
  if ('cycle' in topo) {
    const loop = [...topo.cycle, topo.cycle[0]].join(' -> ');
    ds.push({
      severity: 'error',
      code: 'cycle',
      nodeId: topo.cycle[0],
      path: '$.edges',
      message: `the graph has a cycle: ${loop}; an optimiser loop is expressed with a variable node, not a back edge`,
    });
  }
  return ds;
}

function describe(e: GraphModel['edges'][number]): string {
  return `${e.from.node}.${e.from.output} -> ${e.to.node}.${e.to.input}`;
}

function hintOutputs(def: Parameters<typeof outputsOf>[0], params: Record<string, unknown>): string {
  const names = Object.keys(outputsOf(def, resolveParams(def.params, params)));
  return names.length ? ` (outputs: ${names.join(', ')})` : '';
}

/** Ids, node types and parameters: fills `index` (node id to its place) with the first node of each id. */
function checkNodes(model: GraphModel, registry: NodeRegistry, index: Map<string, number>, ds: Diagnostic[]): void {
  model.nodes.forEach((node, i) => {
    const path = `$.nodes[${i}]`;
    if (index.has(node.id)) {
      ds.push({
        severity: 'error',
        code: 'duplicate-id',
        nodeId: node.id,
        path: `${path}.id`,
        message: `node id "${node.id}" is also used by nodes[${index.get(node.id)}]; ids must be unique`,
      });
      return;
    }
    index.set(node.id, i);
    const def = registry.get(node.type);
    if (!def) {
      ds.push({
        severity: 'error',
        code: 'unknown-type',
        nodeId: node.id,
        path: `${path}.type`,
        message: `unknown node type "${node.type}" on node "${node.id}" (kept as a placeholder; load the plugin that provides it)`,
      });
      return;
    }
    for (const p of checkParams(def.params, node.params)) {
      const unknown = !(p.param in def.params);
      ds.push({
        severity: unknown ? 'warning' : 'error',
        code: 'param',
        nodeId: node.id,
        path: `${path}.params.${p.param}`,
        message: `${node.id}.${p.param}: ${p.message}`,
      });
    }
  });
}

/** Painted regions (source role kind `mask`) are picked by name (`--mask NAME=file.png`): two with one name is an error. */
function checkRegionNames(model: GraphModel, registry: NodeRegistry, ds: Diagnostic[]): void {
  const byName = new Map<string, number[]>();
  model.nodes.forEach((node, i) => {
    const s = sourceOf(registry.get(node.type), node.params);
    if (s?.kind === 'mask') byName.set(s.name ?? '', [...(byName.get(s.name ?? '') ?? []), i]);
  });
  for (const [name, at] of byName) {
    if (at.length < 2) continue;
    const ids = at.map((i) => `"${model.nodes[i]!.id}"`).join(', ');
    for (const i of at.slice(1))
      ds.push({
        severity: 'error',
        code: 'duplicate-region',
        nodeId: model.nodes[i]!.id,
        path: `$.nodes[${i}].params`,
        message: `painted regions ${ids} are all named "${name}"; give each region its own name (--mask NAME=file.png picks a region by name)`,
      });
  }
}

/** Each edge's ends, sockets and counts: the inputs connected (how many times) and the edges between real nodes. */
function checkEdges(
  model: GraphModel,
  registry: NodeRegistry,
  index: ReadonlyMap<string, number>,
  ds: Diagnostic[],
): { connected: Map<string, number>; validEdges: { from: string; to: string }[] } {
  const connected = new Map<string, number>();
  const validEdges: { from: string; to: string }[] = [];
  model.edges.forEach((edge, i) => {
    const path = `$.edges[${i}]`;
    const fromNode = model.nodes[index.get(edge.from.node) ?? -1];
    const toNode = model.nodes[index.get(edge.to.node) ?? -1];
    if (!fromNode || !toNode) {
      const missing = !fromNode ? edge.from.node : edge.to.node;
      ds.push({
        severity: 'error',
        code: 'dangling-edge',
        path: `${path}.${!fromNode ? 'from' : 'to'}.node`,
        message: `edge ${describe(edge)} refers to node "${missing}", which does not exist`,
      });
      return;
    }
    validEdges.push({ from: fromNode.id, to: toNode.id });
    const fromDef = registry.get(fromNode.type);
    const toDef = registry.get(toNode.type);
    if (!fromDef || !toDef) return; // already reported as unknown type
    const out = outputsOf(fromDef, resolveParams(fromDef.params, fromNode.params))[edge.from.output];
    if (!out) {
      ds.push({
        severity: 'error',
        code: 'dangling-edge',
        nodeId: fromNode.id,
        path: `${path}.from.output`,
        message: `node "${fromNode.id}" (${fromDef.title}) has no output "${edge.from.output}"${hintOutputs(fromDef, fromNode.params)}`,
      });
      return;
    }
    const input = toDef.inputs[edge.to.input];
    if (!input) {
      ds.push({
        severity: 'error',
        code: 'dangling-edge',
        nodeId: toNode.id,
        path: `${path}.to.input`,
        message: `node "${toNode.id}" (${toDef.title}) has no input "${edge.to.input}" (inputs: ${Object.keys(toDef.inputs).join(', ') || 'none'})`,
      });
      return;
    }
    const check = checkConnection(out.type, input.type);
    if (!check.ok) {
      ds.push({
        severity: 'error',
        code: 'wrong-socket',
        nodeId: toNode.id,
        path,
        message: `${describe(edge)}: ${check.reason}`,
      });
      return;
    }
    const key = `${toNode.id}.${edge.to.input}`;
    const count = (connected.get(key) ?? 0) + 1;
    connected.set(key, count);
    if (count > 1 && !input.multiple)
      ds.push({
        severity: 'error',
        code: 'too-many-edges',
        nodeId: toNode.id,
        path,
        message: `input "${edge.to.input}" of node "${toNode.id}" takes one connection; this is connection ${count}`,
      });
  });
  return { connected, validEdges };
}
