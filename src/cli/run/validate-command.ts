/** `stylegraph validate FILE ...`: everything plan and run check before reading an image, for each file. */
import { dirname } from 'node:path';
import { checkGraph } from '../../compiler/check';
import { hasErrors, type Diagnostic } from '../../graph/diagnostics';
import type { GraphModel } from '../../graph/model';
import type { NodeRegistry } from '../../plugin/registry';
import type { Loaded } from '../context';
import { UsageError, type Io } from '../io';
import { documentSourceAccess, sourceProblem, type RemoteConsent } from '../security/source-access';
import { readGraph, reportDiagnostics } from './read-graph';

/** Several files at once (presets/*.json): each is reported; the exit status is the worst. */
export async function validateCommand(io: Io, files: string[], { registry, remote }: Loaded): Promise<number> {
  let status = 0;
  for (const f of files) {
    const doc = await readGraph(f, registry, io).catch((e: unknown) => {
      if (e instanceof UsageError) io.err(`stylegraph: ${e.message}`);
      else throw e;
      return null;
    });
    if (!doc?.model) {
      status = 2;
      continue;
    }
    const ds = [...checkGraph(doc.model, registry).diagnostics, ...sourceProblems(doc.model, registry, f, remote)];
    reportDiagnostics(io, f, ds);
    if (hasErrors([...doc.diagnostics, ...ds])) status = 2;
    else io.out(`${f}: valid (${doc.model.nodes.length} nodes, ${doc.model.edges.length} edges)`);
  }
  return status;
}

/** `validate`: the sources a run would refuse (outside the document's folder, remote without consent), as errors. */
function sourceProblems(model: GraphModel, registry: NodeRegistry, file: string, remote: RemoteConsent): Diagnostic[] {
  const access = documentSourceAccess(dirname(file), { remote });
  const out: Diagnostic[] = [];
  for (const [i, n] of model.nodes.entries())
    for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
      if (p.kind !== 'image' && p.kind !== 'model') continue;
      const value = n.params[name] ?? p.default;
      const problem = typeof value === 'string' ? sourceProblem(value, access) : null;
      if (problem)
        out.push({
          severity: 'error',
          code: 'source',
          nodeId: n.id,
          path: `$.nodes[${i}].params.${name}`,
          message: `node "${n.id}": ${problem}`,
        });
    }
  return out;
}
