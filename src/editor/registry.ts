import { ref, shallowRef } from 'vue';
import { builtinRegistry } from '../../nodes';
import type { PackRecord } from '../plugin/packs';
import type { PackQuery } from '../web/protocol';
import { proxyType, type PacksLoaded } from '../web/sandbox-packs';

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
    query(q).then(
      (r) => answers.set(key, { ...(r.error !== undefined ? { error: String(r.error) } : { result: r.result }) }),
      (e: unknown) => answers.set(key, { error: String(e) }),
    ).finally(() => registryVersion.value++);
  }
  return undefined;
}

/**
 * The installed packs as the page knows them: records and node types as the sandboxed worker described them. No
 * pack code runs here; each node type is a proxy (src/web/sandbox-packs.ts) whose shapes the worker works out.
 */
export class PackProxies {
  readonly packs: PackRecord[] = [];

  /** Replaces the packs with what the worker installed. */
  set(loaded: PacksLoaded['packs']) {
    for (const p of [...this.packs]) this.remove(p.name);
    answers.clear();
    for (const { record, types } of loaded) {
      const registered: string[] = [];
      for (const data of types) {
        const error = registry.register(proxyType(data, ask));
        if (error) console.warn(`pack "${record.name}": ${error}`);
        else registered.push(data.type);
      }
      this.packs.push({ ...record, types: registered, status: 'enabled' });
    }
    registryVersion.value++;
  }

  /** Takes a pack's node types out of the registry, keeping the record with the reason. */
  disable(name: string, problem: string) {
    const p = this.packs.find((x) => x.name === name);
    if (!p || p.status === 'disabled') return;
    for (const t of p.types) registry.unregister(t);
    p.status = 'disabled';
    p.problem = problem;
    registryVersion.value++;
  }

  remove(name: string) {
    const i = this.packs.findIndex((x) => x.name === name);
    if (i < 0) return;
    for (const t of this.packs[i]!.types) registry.unregister(t);
    this.packs.splice(i, 1);
    registryVersion.value++;
  }
}

export const packs = new PackProxies();

/** Layers (name -> output shape) of the tfjs models graphs name, as the worker reported them; null while unknown. */
export const modelLayers = shallowRef(new Map<string, Map<string, number[]> | { error: string }>());

/** Tensor shapes of the checkpoints the worker has loaded, by name: a reduced-width network's wires show its widths. */
export const checkpointShapes = shallowRef(new Map<string, ReadonlyMap<string, readonly number[]>>());
