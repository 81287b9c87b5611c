import type { GraphNode } from '../graph/model';
import { resolveParams } from '../plugin/params';
import type { ParamDef } from '../plugin/types';
import { registry } from './registry';

/**
 * The layers a layer picker offers, with their shapes at the run size: the encoder is asked for every layer
 * at once (its shape inference is cheap), so the picker shows whichever network is chosen.
 */
export function layerChoices(
  node: GraphNode,
  param: ParamDef,
  size: number,
  inputShapes: Record<string, number[]>,
): { name: string; shape?: number[] }[] {
  if (param.kind !== 'layer' && param.kind !== 'layers') return [];
  const def = registry.get(node.type);
  const names = [...param.layers];
  if (!def) return names.map((name) => ({ name }));
  try {
    const params = { ...resolveParams(def.params, node.params) };
    const name = Object.entries(def.params).find(([, p]) => p === param)?.[0];
    if (name) params[name] = param.kind === 'layers' ? names : names[0]!;
    const inputs = Object.fromEntries(Object.entries(inputShapes).map(([k, shape]) => [k, { shape }]));
    const info = def.infer({ params, inputs, size });
    return names.map((n) => ({ name: n, ...(info[n] ? { shape: info[n].shape } : {}) }));
  } catch {
    return names.map((n) => ({ name: n }));
  }
}

/** Bundled sample images, served next to the presets. */
export const SAMPLES = Object.keys(import.meta.glob('../../presets/images/*.{jpg,png}')).map(
  (p) => `images/${p.split('/').pop()}`,
);

/**
 * A text parameter that names layers of the node's tfjs model (an encoder's roles.encoder.taps, with its
 * roles.encoder.model), shown as a layer picker once the model's layers are known: the list comes from the model,
 * with shapes; the value stays text.
 */
export function modelTapsPicker(
  node: GraphNode,
  name: string,
  param: ParamDef,
  known: Map<string, Map<string, number[]> | { error: string }>,
) {
  const encoder = registry.get(node.type)?.roles?.encoder;
  if (param.kind !== 'string' || encoder?.taps !== name || encoder.model === undefined) return null;
  const given = node.params[encoder.model];
  const fallback = registry.get(node.type)?.params[encoder.model]?.default;
  const source = typeof given === 'string' ? given : typeof fallback === 'string' ? fallback : '';
  const layers = known.get(source);
  if (!(layers instanceof Map)) return { error: layers?.error ?? null, source };
  const names = [...layers.keys()];
  const value = String(node.params[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    source,
    def: {
      kind: 'layers',
      default: [],
      layers: names,
      label: param.label ?? name,
      description: `${param.description ?? ''} Layers of ${source}.`,
    } as ParamDef,
    value,
    layers: names.map((n) => ({ name: n, shape: layers.get(n)! })),
    toParam: (v: unknown) => (Array.isArray(v) ? v.join(', ') : String(v)),
  };
}
