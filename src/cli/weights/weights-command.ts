import { MANIFEST, manifestEntry, type ManifestEntry } from '../../models/weights/manifest';
import { UsageError, type Io } from '../io';
import { clearCache, listCache, type Progress } from './weights-cache';
import { cachedWeights, closestName, fetchWeights, type WeightsSettings } from './weights-fetch';

/** What `weights fetch` was asked for: names, and the graphs whose networks it should get (`--for GRAPH`). */
export interface FetchRequest {
  names: string[];
  graphs: { file: string; names: string[] }[];
}

/** `stylegraph weights list|clear|known|fetch`. */
export async function weightsCommand(
  action: string | undefined,
  io: Io,
  settings: WeightsSettings,
  request: FetchRequest = { names: [], graphs: [] },
): Promise<number> {
  const { dir } = settings;
  if (action === 'list') {
    const entries = await listCache(dir);
    if (!entries.length) io.out(`the weight cache (${dir}) is empty`);
    for (const e of entries) {
      const name = e.name ?? MANIFEST.find((m) => m.url === e.url)?.name;
      io.out(
        `${name ? `${name}  ` : ''}${e.file}  ${(e.size / 2 ** 20).toFixed(1)} MiB  sha256 ${e.sha256.slice(0, 16)}…  ${e.url}`,
      );
    }
    return 0;
  }
  if (action === 'clear') {
    io.out(`removed ${await clearCache(dir)} cached checkpoint(s) from ${dir}`);
    return 0;
  }
  if (action === 'known') {
    for (const e of MANIFEST) {
      const cached = await cachedWeights(e, settings);
      io.out(
        `${e.name.padEnd(18)} ${cached ? 'cached ' : '       '} ${e.network}${e.variant ? ` (${e.variant})` : ''}, ${e.format}, about ${(e.sizeBytes / 2 ** 20).toFixed(0)} MiB, ${e.licence}\n  ${e.url}${cached ? `\n  cached: ${cached}` : ''}`,
      );
    }
    if (settings.mirror)
      io.out(`downloads come from the mirror ${settings.mirror.url} (set by ${settings.mirror.from})`);
    return 0;
  }
  if (action === 'fetch') return fetchCommand(io, settings, request);
  throw new UsageError('weights needs list, clear, known or fetch');
}

/**
 * `stylegraph weights fetch NAME... | --for GRAPH`: every named checkpoint into the cache `run` reads. Names the
 * manifest does not know are refused before anything downloads; a failed download does not stop the others (exit 1).
 */
async function fetchCommand(io: Io, settings: WeightsSettings, request: FetchRequest): Promise<number> {
  if (!request.names.length && !request.graphs.length)
    throw new UsageError('weights fetch needs checkpoint names (see stylegraph weights known) or --for GRAPH');
  const known = MANIFEST.map((e) => e.name);
  const unknown = request.names.filter((n) => !manifestEntry(n));
  if (unknown.length)
    throw new UsageError(
      unknown
        .map((n) => {
          const near = closestName(n, known);
          return `weights fetch: "${n}" is not in the weights manifest${near ? ` (did you mean ${near}?)` : ''}; it knows ${known.join(', ')}`;
        })
        .join('\n'),
    );
  const wanted: ManifestEntry[] = request.names.map((n) => manifestEntry(n)!);
  for (const g of request.graphs) {
    if (!g.names.length) io.err(`${g.file} names no checkpoint: nothing to fetch for it`);
    for (const n of g.names) {
      const entry = manifestEntry(n);
      if (!entry)
        io.err(
          `${g.file} asks for weights named "${n}", which the manifest does not know: give them to run with --weights ${n}=PATH`,
        );
      else if (!wanted.includes(entry)) wanted.push(entry);
    }
  }
  let status = 0;
  for (const entry of wanted) {
    try {
      const r = await fetchWeights(entry, settings, io, downloadProgress(io, entry.name));
      if (!r.downloaded) io.err(`${entry.name}: already cached: ${r.path}`);
    } catch (e) {
      if (io.isTTY) process.stderr.write('\n'); // end the progress bar's line
      io.err(`stylegraph: ${entry.name}: ${(e as Error).message}`);
      status = 1;
    }
  }
  return status;
}

/** Download progress: a redrawn line on a terminal, every 10 % otherwise. */
export function downloadProgress(io: Io, name: string): (p: Progress) => void {
  let shown = -1;
  return ({ received, total }) => {
    const pct = total ? Math.floor((100 * received) / total) : -1;
    if (pct === shown || (pct < 0 && received % (16 * 2 ** 20) > 65536)) return;
    shown = pct;
    const bar = total ? `[${'#'.repeat(Math.floor(pct / 5)).padEnd(20, '.')}] ` : '';
    const text = `downloading ${name} ${bar}${(received / 2 ** 20).toFixed(1)} MiB${total ? ` of ${(total / 2 ** 20).toFixed(1)} MiB (${pct}%)` : ''}`;
    if (io.isTTY) process.stderr.write(`\r${text}\x1b[K${total && received >= total ? '\n' : ''}`);
    else if (pct % 10 === 0) io.err(text);
  };
}
