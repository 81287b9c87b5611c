import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { requiredCheckpoints } from '../../compiler/checkpoints';
import type { GraphModel } from '../../graph/model';
import { applyCell, sweepCells, sweepOf } from '../../graph/sweep';
import type { NodeRegistry } from '../../plugin/registry';
import { folderFiles, hashPrefix, isFolderEntry, weightsUrl, type ManifestEntry } from '../../models/weights/manifest';
import type { Io } from '../io';
import { checkedFetch, weightsAddressPolicy } from '../security/address-guard';
import {
  cachedDownload,
  cachedFolder,
  DownloadError,
  folderIntact,
  hashMatches,
  listCache,
  type DownloadOptions,
  type Progress,
} from './weights-cache';

/** Where the CLI keeps and gets checkpoints: the cache folder and, where configured, a mirror. */
export interface WeightsSettings {
  dir: string;
  /** The mirror's base URL and the setting it came from (`STYLEGRAPH_WEIGHTS_MIRROR` or a config file). */
  mirror: { url: string; from: string } | null;
  fetch?: typeof fetch;
}

/** What is known of a manifest checkpoint's hash: its full sha256 where published, else the file name's prefix. */
export const knownHash = (entry: ManifestEntry) => ({ sha256: entry.sha256, hashPrefix: hashPrefix(entry) });

/**
 * How much a manifest checkpoint's download may bring: exactly its size where that was taken from its bytes (an
 * entry with a sha256, every file of a folder), else its size plus 10 % (sizes as their hosts gave them, not checked
 * here), from its host or a mirror alike. See docs/security.md, Limits.
 */
export function manifestLimits(entry: ManifestEntry): Pick<DownloadOptions, 'exactBytes' | 'limits'> {
  if (entry.sha256) return { exactBytes: entry.sizeBytes };
  return {
    limits: { maxBytes: Math.ceil(entry.sizeBytes * 1.1), maxFrom: `the manifest's size of ${entry.name} plus 10 %` },
  };
}

/**
 * The cached file (or folder) of a manifest checkpoint, whichever way it came (its host, a mirror, the editor's dev
 * server), provided it is whole and agrees with the known hash; null when there is none.
 */
export async function cachedWeights(
  entry: ManifestEntry,
  s: Pick<WeightsSettings, 'dir' | 'mirror'>,
): Promise<string | null> {
  const urls = new Set([entry.url, weightsUrl(entry, s.mirror?.url)]);
  for (const e of await listCache(s.dir)) {
    if (e.name !== entry.name && !urls.has(e.url)) continue;
    const path = join(s.dir, e.file);
    if (isFolderEntry(entry)) {
      if (await folderIntact(path, e.files, folderFiles(entry))) return path;
      continue;
    }
    if (e.files) continue;
    const whole = await stat(path).then(
      (st) => st.size === e.size,
      () => false,
    );
    if (whole && hashMatches(e.sha256, knownHash(entry))) return path;
  }
  return null;
}

/** How a file's hash was checked, in words. */
function hashCheck(entry: ManifestEntry): string {
  if (isFolderEntry(entry)) return `${entry.files.length} files, each checked against its size and sha256`;
  if (entry.sha256) return 'sha256 checked';
  const prefix = hashPrefix(entry);
  return prefix
    ? `sha256 checked against the file name's ${prefix}`
    : 'no published hash to check; its sha256 is recorded in the cache index';
}

/** What to do when a download cannot reach its host (issue 28): a mirror, or the file given by hand. */
export function downloadAdvice(entry: ManifestEntry, mirror: WeightsSettings['mirror']): string {
  const file = isFolderEntry(entry) ? 'FOLDER' : 'FILE';
  const where = isFolderEntry(entry) ? `the folder ${entry.url}` : entry.url;
  return (
    `to get ${entry.name} another way: ${mirror ? `check the mirror (${mirror.url}, set by ${mirror.from}), or ` : 'set STYLEGRAPH_WEIGHTS_MIRROR to a copy you can reach, or '}` +
    `download ${where} elsewhere and give it to run with --weights ${entry.name}=${file}`
  );
}

/**
 * A manifest checkpoint in the cache: the cached file, or a download (from the mirror where one is set) with
 * progress, resumed where an earlier one was cut off, held to the manifest's size, checked against the known hash.
 * A folder checkpoint is cached as a folder, each file checked. Says where it comes from; a network or HTTP failure
 * says what failed and what to do instead.
 */
export async function fetchWeights(
  entry: ManifestEntry,
  s: WeightsSettings,
  io: Io,
  onProgress?: (p: Progress) => void,
): Promise<{ path: string; url: string; downloaded: boolean }> {
  const cached = await cachedWeights(entry, s);
  if (cached) return { path: cached, url: entry.url, downloaded: false };
  const url = weightsUrl(entry, s.mirror?.url);
  const folder = isFolderEntry(entry) ? `, ${entry.files.length} files` : '';
  io.err(
    `${entry.name}: from ${url}${s.mirror ? ` (mirror, set by ${s.mirror.from})` : ''}, about ${(entry.sizeBytes / 2 ** 20).toFixed(entry.sizeBytes < 10 * 2 ** 20 ? 1 : 0)} MiB${folder}, ${entry.licence}`,
  );
  // Only the mirror may be on the local network; a manifest host or a redirect may not (address-guard.ts).
  const common = {
    name: entry.name,
    ...(onProgress ? { onProgress } : {}),
    fetch: s.fetch ?? checkedFetch(weightsAddressPolicy(s.mirror?.url)),
  };
  let path: string;
  try {
    path = isFolderEntry(entry)
      ? await cachedFolder(url, folderFiles(entry, s.mirror?.url), s.dir, common)
      : await cachedDownload(url, s.dir, { ...knownHash(entry), ...manifestLimits(entry), ...common });
  } catch (e) {
    if (e instanceof DownloadError && (e.kind === 'network' || e.kind === 'http'))
      throw new DownloadError(`${e.message}; ${downloadAdvice(entry, s.mirror)}`, e.kind);
    throw e;
  }
  io.err(`${entry.name}: ${path}, ${hashCheck(entry)}`);
  return { path, url, downloaded: true };
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The candidate a mistyped name most likely meant (`decoder` -> `adain-decoder`): one that contains it or that it
 * contains, else the nearest by edit distance within a third of the name's length; null when none is close.
 */
export function closestName(name: string, candidates: readonly string[]): string | null {
  const lower = name.toLowerCase();
  const containing = candidates.filter((c) => c.toLowerCase().includes(lower) || lower.includes(c.toLowerCase()));
  if (containing.length)
    return containing.reduce((a, b) => (Math.abs(b.length - name.length) < Math.abs(a.length - name.length) ? b : a));
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** The checkpoint names a graph's nodes ask for, in every cell of its sweep where it has one. */
export function graphCheckpoints(model: GraphModel, registry: NodeRegistry): string[] {
  const names = new Set(requiredCheckpoints(model, registry));
  const { sweep } = sweepOf(model);
  if (sweep)
    for (const cell of sweepCells(sweep)) {
      const applied = applyCell(model, cell);
      if (!applied.error) for (const n of requiredCheckpoints(applied.model, registry)) names.add(n);
    }
  return [...names];
}
