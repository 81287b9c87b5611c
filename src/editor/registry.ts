import { ref, shallowRef } from 'vue';
import { builtinRegistry } from '../../nodes';
import type { PackRecord } from '../plugin/packs';
import type { PackQuery, PackTypeData } from '../web/protocol';
import { proxyType } from '../web/sandbox-packs';

/** The node types the editor offers (main thread: palette, inspector, validation), built-ins and installed packs. */
export const registry = builtinRegistry();
/** Bumped whenever the registry changes, so everything computed from it is recomputed. */
export const registryVersion = ref(0);

/** Asks the sandboxed worker about a pack's node type (set by the run store once the worker is up). */
let query: ((q: PackQuery) => Promise<{ result?: unknown; error?: string }>) | null = null;
export const setPackQuery = (fn: typeof query) => void (query = fn);

/** The sandbox's answers by question; 'pending' while one is on its way. */
const answers = new Map<string, { result?: unknown; error?: string } | 'pending'>();
/** Enough for every node of a large graph at a few sizes; beyond it the oldest answers are asked again. */
const MAX_ANSWERS = 5000;

function ask(q: PackQuery): { result?: unknown; error?: string } | undefined {
  const key = JSON.stringify(q);
  const a = answers.get(key);
  if (a && a !== 'pending') return a;
  if (!a && query) {
    if (answers.size >= MAX_ANSWERS) answers.delete(answers.keys().next().value!);
    answers.set(key, 'pending');
    query(q)
      .then(
        (r) => answers.set(key, { ...(r.error !== undefined ? { error: String(r.error) } : { result: r.result }) }),
        (e: unknown) => answers.set(key, { error: String(e) }),
      )
      .finally(() => registryVersion.value++);
  }
  return undefined;
}

/**
 * The packs whose node types the page's registry holds: records the page made from its own store (name, version,
 * types as stored at install), and node types as the sandboxed worker described them. No pack code runs here; each
 * node type is a proxy (src/web/sandbox-packs.ts) whose shapes the worker works out.
 */
export class PackProxies {
  readonly packs: PackRecord[] = [];

  /**
   * Registers the node types the worker described for a pack the page loaded and attributes to `record` (the page's
   * own record). Only the types recorded at install are taken; returns what was left out, for the pack's problem line.
   */
  add(record: PackRecord, types: readonly PackTypeData[]): string[] {
    this.remove(record.name);
    const left: string[] = [];
    const registered: string[] = [];
    for (const data of types) {
      const type = typeof data?.type === 'string' ? data.type : String(data?.type);
      if (!record.types.includes(type) || registered.includes(type)) {
        left.push(type);
        continue;
      }
      let error: string | null;
      try {
        error = registry.register(proxyType(data, ask));
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      if (error) left.push(`${type} (${error})`);
      else registered.push(type);
    }
    this.packs.push({ ...record, types: registered, status: 'enabled' });
    registryVersion.value++;
    return left;
  }

  remove(name: string) {
    const i = this.packs.findIndex((x) => x.name === name);
    if (i < 0) return;
    for (const t of this.packs[i]!.types) registry.unregister(t);
    this.packs.splice(i, 1);
    registryVersion.value++;
  }

  /** Every pack's node types out (a new worker: its packs load again). */
  clear() {
    for (const p of [...this.packs]) this.remove(p.name);
    answers.clear();
  }
}

/** The built-in node types, as this page's code defines them (not as anything registered later). */
const builtins = builtinRegistry();

/**
 * A parameter's default where the page may act on it (fetch a file it names): a built-in node type's own, never one
 * a pack declared (its data came from the sandbox).
 */
export const trustedDefault = (type: string, param: string): unknown => builtins.get(type)?.params[param]?.default;

export const packs = new PackProxies();

/** Layers (name -> output shape) of the tfjs models graphs name, as the worker reported them; null while unknown. */
export const modelLayers = shallowRef(new Map<string, Map<string, number[]> | { error: string }>());

/** Tensor shapes of the checkpoints the worker has loaded, by name: a reduced-width network's wires show its widths. */
export const checkpointShapes = shallowRef(new Map<string, ReadonlyMap<string, readonly number[]>>());
