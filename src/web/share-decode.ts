import { decodeLink, LinkError } from '../codecs/link';
import type { Diagnostic } from '../graph/diagnostics';
import { LIMITS, parseDocument } from '../graph/document';
import { arrange } from '../graph/edit';
import type { GraphModel } from '../graph/model';

/**
 * The most nodes the editor shows. The document format allows 2000 (LIMITS.nodes); the canvas draws every node as
 * a component, and past this many a graph takes longer to draw than anyone would wait, so a larger shared graph is
 * refused with a message that says to use the command line. docs/security.md gives the figure this rests on.
 */
export const MAX_SHOWN_NODES = 600;

/** What the share worker answers. */
export type SharedDocument =
  | { ok: true; model: GraphModel; diagnostics: Diagnostic[]; laidOut: boolean; bytes: number }
  | { ok: false; message: string };

/** Whether a document has no layout: every node at the same place (a generated or hand-written one). */
export const unplaced = (m: GraphModel): boolean =>
  m.nodes.length > 1 &&
  m.nodes.every((n) => n.position.x === m.nodes[0]!.position.x && n.position.y === m.nodes[0]!.position.y);

/**
 * A share link's fragment, decoded (base64url, inflated up to 8 MiB), parsed with the document limits, refused
 * above what the editor shows, and laid out when it carries no layout (`heights`: how tall the canvas draws each
 * node type; 140 px for the others). Runs in a worker (share-worker.ts), so a hostile link costs the page nothing.
 */
export function decodeShared(
  fragment: string,
  heights: Record<string, number> = {},
  shown = MAX_SHOWN_NODES,
): SharedDocument {
  let text: string;
  try {
    text = decodeLink(fragment);
  } catch (e) {
    return {
      ok: false,
      message: e instanceof LinkError ? e.message : `the link could not be read: ${(e as Error).message}`,
    };
  }
  const parsed = parseDocument(text);
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (!parsed.model)
    return { ok: false, message: errors.map((d) => d.message).join('; ') || 'the link does not hold a graph' };
  const nodes = parsed.model.nodes.length;
  if (nodes > shown)
    return {
      ok: false,
      message:
        `the graph in this link has ${nodes} nodes; the editor shows at most ${shown} (a document may have up to ${LIMITS.nodes}). ` +
        "Save the link's graph as a file and use the command line (stylegraph validate / run), or share a smaller graph",
    };
  const laidOut = unplaced(parsed.model);
  const types = new Map(parsed.model.nodes.map((n) => [n.id, n.type]));
  const model = laidOut ? arrange(parsed.model, undefined, (id) => heights[types.get(id) ?? ''] ?? 140) : parsed.model;
  return { ok: true, model, diagnostics: parsed.diagnostics, laidOut, bytes: text.length };
}
