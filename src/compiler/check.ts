import type { GraphModel } from '../graph/model';
import type { NodeRegistry } from '../plugin/registry';
import { manifestEntry } from '../models/weights/manifest';
import { unknownCheckpoints } from './checkpoints';
import { compile, type CompileOptions, type CompileResult } from './compile';

/**
 * The one meaning of "valid": every check that `plan` and a run make before they read an image or a model
 * (structure, socket types, an output reached, one optimiser with a loss, parameters in range, shapes at
 * `size` with square images). `stylegraph validate` and the editor show this list. Shapes after a tfjs model
 * cannot be checked without it: a host that loads none (validate) gets a warning, not an error; a host that
 * describes models (the editor, through `modelLayers`) keeps the error until the model is described.
 * Checkpoint names that neither the manifest nor `knownWeights` knows are warned about (they run on random weights).
 */
export function checkGraph(
  model: GraphModel,
  registry: NodeRegistry,
  options: Partial<CompileOptions> = {},
  knownWeights: (name: string) => boolean = () => false,
): CompileResult {
  // Without a host that describes tfjs models (validate), note which ones a node asked for and did not get.
  const undescribed = new Set<string>();
  const modelLayers = options.modelLayers ?? ((source: string) => void undescribed.add(source));
  const compiled = compile(model, registry, { size: 256, ...options, modelLayers });
  const result = {
    ...compiled,
    diagnostics: [
      ...compiled.diagnostics,
      ...unknownCheckpoints(model, registry, (n) => !!manifestEntry(n) || knownWeights(n)),
    ],
  };
  if (result.plan || options.modelLayers) return result;
  // Compiling stopped at a node that asked for a model's layers and got none: what follows is checked when it loads.
  const last = compiled.diagnostics.at(-1);
  const node = model.nodes.find((n) => n.id === last?.nodeId);
  const waitsForModel =
    !!node &&
    Object.entries(registry.get(node.type)?.params ?? {}).some(
      ([name, p]) => p.kind === 'model' && undescribed.has(String(node.params[name] ?? p.default)),
    );
  if (!last || last.code !== 'param' || !waitsForModel) return result;
  return {
    plan: null,
    diagnostics: result.diagnostics.map((d) =>
      d === last
        ? { ...d, severity: 'warning', message: `${d.message}: shapes from "${d.nodeId}" on are checked when it loads` }
        : d,
    ),
  };
}
