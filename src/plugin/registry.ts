import { checkParam } from './params';
import { checkRoles, withLegacyRoles } from './roles';
import { SOCKET_TYPES, type NodeTypeDef } from './types';

/** A plugin is a node type, or a function returning one or several (it may throw). */
export type NodePlugin = NodeTypeDef | (() => NodeTypeDef | NodeTypeDef[]);

export interface RegistryProblem {
  plugin: string;
  message: string;
}

export interface NodeRegistry {
  get(type: string): NodeTypeDef | undefined;
  has(type: string): boolean;
  list(): NodeTypeDef[];
  /** Registers one type; returns an error message instead of throwing. */
  register(def: NodeTypeDef): string | null;
  /** Removes a type (a disabled plugin's); documents then keep its nodes as placeholders. */
  unregister(type: string): void;
  /** Registers each plugin in isolation: one that throws or is invalid is reported, the rest still load. */
  use(plugins: NodePlugin[]): RegistryProblem[];
  readonly problems: readonly RegistryProblem[];
}

export function createRegistry(plugins: NodePlugin[] = []): NodeRegistry {
  const types = new Map<string, NodeTypeDef>();
  const problems: RegistryProblem[] = [];

  const registry: NodeRegistry = {
    get: (type) => types.get(type),
    has: (type) => types.has(type),
    list: () => [...types.values()],
    problems,
    register(given) {
      const shape = checkDefinition(given);
      if (shape) return shape;
      // A node type written before roles existed (plugin API 1.1) gets the roles its names meant.
      const def = withLegacyRoles(given);
      const error = checkRoles(def);
      if (error) return error;
      if (types.has(def.type)) return `a node type named "${def.type}" is already registered`;
      types.set(def.type, def);
      return null;
    },
    unregister(type) {
      types.delete(type);
    },
    use(list) {
      const found: RegistryProblem[] = [];
      list.forEach((plugin, i) => {
        const name = typeof plugin === 'function' ? plugin.name || `plugin #${i}` : plugin.type;
        try {
          const defs = typeof plugin === 'function' ? plugin() : plugin;
          for (const def of Array.isArray(defs) ? defs : [defs]) {
            const error = registry.register(def);
            if (error) found.push({ plugin: def?.type ?? name, message: error });
          }
        } catch (e) {
          found.push({
            plugin: name,
            message: `failed while registering: ${e instanceof Error ? e.message : String(e)}`,
          });
        }
      });
      problems.push(...found);
      return found;
    },
  };
  registry.use(plugins);
  return registry;
}

function checkDefinition(def: NodeTypeDef): string | null {
  if (!def || typeof def !== 'object') return 'a node type must be an object';
  if (typeof def.type !== 'string' || !/^[a-z][a-z0-9-]*(\/[a-z][a-z0-9-]*)*$/.test(def.type))
    return `invalid node type name ${JSON.stringify(def.type)} (lower-case words joined by - or /)`;
  if (typeof def.infer !== 'function') return `${def.type}: infer() is required`;
  for (const [name, input] of Object.entries(def.inputs ?? {}))
    if (!SOCKET_TYPES.includes(input.type)) return `${def.type}: input "${name}" has unknown socket type ${input.type}`;
  if (typeof def.outputs !== 'function')
    for (const [name, output] of Object.entries(def.outputs ?? {}))
      if (!SOCKET_TYPES.includes(output.type))
        return `${def.type}: output "${name}" has unknown socket type ${output.type}`;
  for (const [name, p] of Object.entries(def.params ?? {})) {
    const msg = checkParam(p, p.default);
    if (msg) return `${def.type}: default of parameter "${name}" is invalid: ${msg}`;
  }
  if (!def.compute && !def.shared && def.role !== 'optimiser' && def.role !== 'variable')
    return `${def.type}: compute() is required`;
  return null;
}
