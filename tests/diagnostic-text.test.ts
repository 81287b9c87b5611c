import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { checkGraph } from '../src/compiler/check';
import { formatDiagnostic } from '../src/graph/diagnostics';
import { parseDocument } from '../src/graph/document';
import { diagnosticText } from '../src/editor/diagnostic-text';

const registry = builtinRegistry();

/** Gatys with an unconnected Gram matrix added (as a user drops one from the palette). */
function gatysWithLooseGram() {
  const model = parseDocument(readFileSync(new URL('../presets/gatys.json', import.meta.url), 'utf8')).model!;
  model.nodes.push({ id: 'gram', type: 'gram', position: { x: 0, y: 0 }, params: {} });
  return model;
}

describe('diagnostics in the editor name nodes by their titles (issue 28 item 8)', () => {
  it('an unconnected Gram matrix: no JSON path, no node id, its title', () => {
    const model = gatysWithLooseGram();
    const problems = checkGraph(model, registry).diagnostics.filter((d) => d.nodeId === 'gram');
    expect(problems.length).toBeGreaterThan(0);
    for (const d of problems) {
      // What the inspector showed before: the path and the id first.
      expect(formatDiagnostic(d)).toMatch(/^(warning|error): \$\.nodes\[\d+\]/);
      const graphList = diagnosticText(d, model, registry);
      expect(graphList).not.toMatch(/\$\.nodes|node "gram"|"gram"/);
      expect(graphList).toMatch(/^(warning|error): .*"?Gram matrix"?/);
      // Under the node's own heading: the title still stands for the id.
      const own = diagnosticText(d, model, registry, 'gram');
      expect(own).not.toMatch(/\$\.nodes|"gram"/);
    }
  });

  it('a node with its own title is named by it; other ids stay as they are when no node has them', () => {
    const model = gatysWithLooseGram();
    model.nodes.find((n) => n.id === 'gram')!.title = 'My Gram';
    const d = {
      severity: 'warning' as const,
      path: '$.nodes[17]',
      nodeId: 'gram',
      message:
        'node "gram" (Gram matrix) needs its "features" input (Features) connected; "gram" reaches no output, so it is left out; "nobody" too',
    };
    expect(diagnosticText(d, model, registry)).toBe(
      'warning: "My Gram" needs its "features" input (Features) connected; "My Gram" reaches no output, so it is left out; "nobody" too',
    );
    // A parameter's problem (`id.param: ...`), and the id of a node whose title starts like another's id.
    const p = {
      severity: 'error' as const,
      path: '$.nodes[6].params.weight',
      nodeId: 'style_relu1_1',
      message: 'style_relu1_1.weight: must be at least 0',
    };
    expect(diagnosticText(p, model, registry)).toBe('error: "Style loss (relu1_1)" weight: must be at least 0');
  });
});
