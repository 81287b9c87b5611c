export type Severity = 'error' | 'warning';

/** A problem found in a document or graph, with a JSON path to the offending field. */
export interface Diagnostic {
  severity: Severity;
  /** JSON path into the document, e.g. `$.nodes[3].params.weight`. */
  path: string;
  message: string;
  /** The node concerned, so an editor can show the problem on it. */
  nodeId?: string;
  code?: DiagnosticCode;
}

export type DiagnosticCode =
  | 'unknown-type'
  | 'duplicate-id'
  /** Two painted regions share a name (`--mask NAME=file.png` could not tell them apart). */
  | 'duplicate-region'
  | 'dangling-edge'
  | 'wrong-socket'
  | 'missing-input'
  | 'too-many-edges'
  | 'cycle'
  | 'param'
  | 'no-output'
  | 'optimiser'
  /** An image or model a parameter names could not be loaded. */
  | 'source'
  /** A checkpoint a node asks for is not known, or one given is asked for by no node. */
  | 'weights'
  /** The run broke in this node (the graph was valid; the run failed). */
  | 'run';

export const hasErrors = (ds: readonly Diagnostic[]): boolean => ds.some((d) => d.severity === 'error');

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.severity}: ${d.path}: ${d.message}`;
}
