import { MANIFEST } from '../models/weights/manifest';
import { UsageError, type Io } from './io';
import { clearCache, defaultCacheDir, listCache, type Progress } from './weights-cache';

/** `stylegraph weights list|clear|known`. */
export async function weightsCommand(action: string | undefined, io: Io): Promise<number> {
  const dir = defaultCacheDir();
  if (action === 'list') {
    const entries = await listCache(dir);
    if (!entries.length) io.out(`the weight cache (${dir}) is empty`);
    for (const e of entries) io.out(`${e.file}  ${(e.size / 2 ** 20).toFixed(1)} MiB  sha256 ${e.sha256.slice(0, 16)}…  ${e.url}`);
    return 0;
  }
  if (action === 'clear') {
    io.out(`removed ${await clearCache(dir)} cached checkpoint(s) from ${dir}`);
    return 0;
  }
  if (action === 'known') {
    for (const e of MANIFEST) io.out(`${e.name.padEnd(18)} ${e.network}${e.variant ? ` (${e.variant})` : ''}, ${e.format}, about ${(e.sizeBytes / 2 ** 20).toFixed(0)} MiB, ${e.licence}\n  ${e.url}`);
    return 0;
  }
  throw new UsageError('weights needs list, clear or known');
}

/** Download progress: a redrawn line on a terminal, every 10 % otherwise. */
export function downloadProgress(io: Io, name: string): (p: Progress) => void {
  let shown = -1;
  return ({ received, total }) => {
    const pct = total ? Math.floor((100 * received) / total) : -1;
    if (pct === shown || (pct < 0 && received % (16 * 2 ** 20) > 65536)) return;
    shown = pct;
    const text = `downloading ${name}: ${(received / 2 ** 20).toFixed(1)} MiB${total ? ` of ${(total / 2 ** 20).toFixed(1)} MiB (${pct}%)` : ''}`;
    if (io.isTTY) process.stderr.write(`\r${text}\x1b[K${total && received >= total ? '\n' : ''}`);
    else if (pct % 10 === 0) io.err(text);
  };
}
