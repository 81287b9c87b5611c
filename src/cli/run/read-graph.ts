/** Reading a graph document from the command line: a JSON file or a PNG that carries one. */
import { readFile } from 'node:fs/promises';
import { extractText, isPng } from '../../codecs/png';
import { formatDiagnostic, type Diagnostic } from '../../graph/diagnostics';
import { parseDocument, type ParseResult } from '../../graph/document';
import { missingPacks } from '../../graph/packs';
import type { NodeRegistry } from '../../plugin/registry';
import { UsageError, type Io } from '../io';

/** Each diagnostic on stderr, after the file's name. */
export function reportDiagnostics(io: Io, file: string, ds: Diagnostic[]): void {
  for (const d of ds) io.err(`${file}: ${formatDiagnostic(d)}`);
}

/** A graph document from a JSON file or a PNG written by StyleGraph, its parse problems reported. */
export async function readGraph(file: string, registry: NodeRegistry, io: Io): Promise<ParseResult> {
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(e.code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${e.message}`);
  });
  let text = bytes.toString('utf8');
  if (isPng(bytes)) {
    // A PNG written by StyleGraph carries its graph.
    let embedded: string | null;
    try {
      embedded = extractText(bytes);
    } catch (e) {
      throw new UsageError(`${file}: ${(e as Error).message}`);
    }
    if (embedded === null) throw new UsageError(`${file} is a PNG without a StyleGraph graph in it`);
    text = embedded;
  }
  const parsed = parseDocument(text);
  reportDiagnostics(io, file, parsed.diagnostics);
  if (parsed.model)
    for (const m of missingPacks(parsed.model, registry))
      io.err(
        `${file}: needs node pack "${m.name}" (${m.version}) for ${m.nodes.join(', ')}; load it with --plugin ${m.source ?? 'PATH_OR_URL'}`,
      );
  return parsed;
}
