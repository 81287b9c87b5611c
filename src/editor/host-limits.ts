import { nodeSource, sourceNodes } from '../graph/edit';
import type { GraphModel } from '../graph/model';
import type { NodeRegistry } from '../plugin/registry';

/** Why this page cannot run a graph that compiles, and the command that runs it instead. */
export interface HostLimit {
  /** One sentence for the status line and Run's tooltip. */
  reason: string;
  /** A command line to paste into a terminal at the root of a clone. */
  command: string;
  /** The nodes that need the command line. */
  nodes: string[];
}

/**
 * A graph with nodes that read folders (training batches) cannot run in the browser: say so, and give the
 * `stylegraph run` command with a `--set NODE.folder=...` placeholder for each of them. `inPlan` is the set of nodes
 * the run would use (nodes that reach no output are dropped and do not count); `presets` the bundled preset file
 * names, which live in `presets/` in a clone.
 */
export function hostLimit(
  model: GraphModel,
  registry: NodeRegistry,
  fileName: string,
  inPlan: ReadonlySet<string> | null,
  presets: readonly string[] = [],
): HostLimit | null {
  // Nodes that read a folder of files (their declared source role), which a web page cannot list.
  const folders = sourceNodes(model, registry, 'folder').filter((n) => !n.bypass && (!inPlan || inPlan.has(n.id)));
  if (!folders.length) return null;
  const name = fileName.endsWith('.json') ? fileName : `${fileName}.json`;
  const file = presets.includes(name) ? `presets/${name}` : name;
  const title = (id: string) => {
    const n = model.nodes.find((m) => m.id === id)!;
    return n.title ?? registry.get(n.type)?.title ?? n.type;
  };
  const sets = folders.map(
    (n) => `--set ${n.id}.${nodeSource(registry, n)!.param}=${n.id.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_FOLDER`,
  );
  const quoted = /^[\w./-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
  return {
    nodes: folders.map((n) => n.id),
    reason: `this graph trains on image folders (${folders.map((n) => title(n.id)).join(', ')}), which a web page cannot read: run it from the command line`,
    command: `npx stylegraph run ${quoted} ${sets.join(' ')}`,
  };
}
