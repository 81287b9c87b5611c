/**
 * Installed node packs in this browser: each pack's source text with its origin (localStorage, so the worker's
 * copy and the page's come from the same bytes), and the origins the user allowed or refused.
 */
export interface StoredPack {
  name: string;
  origin: string;
  source: string;
  enabled: boolean;
}

const PACKS = 'stylegraph.packs';
const ORIGINS = 'stylegraph.pack-origins';

const read = <T>(key: string, fallback: T): T => {
  try {
    return (JSON.parse(localStorage.getItem(key) ?? 'null') as T | null) ?? fallback;
  } catch {
    return fallback;
  }
};

export const storedPacks = (): StoredPack[] => read<StoredPack[]>(PACKS, []).filter((p) => typeof p.source === 'string');
export const saveStoredPacks = (packs: StoredPack[]) => localStorage.setItem(PACKS, JSON.stringify(packs));

/** `allow` or `deny` per origin (a URL's origin, or `file:` for files the user picked). */
export const originChoices = (): Record<string, 'allow' | 'deny'> => read(ORIGINS, {});
export function rememberOrigin(origin: string, choice: 'allow' | 'deny' | null) {
  const all = originChoices();
  if (choice) all[origin] = choice;
  else delete all[origin];
  localStorage.setItem(ORIGINS, JSON.stringify(all));
}

/** Where a pack comes from, as the consent dialog shows it: the URL's origin, or `file:` for a local file. */
export const originOf = (where: string): string => {
  try {
    return /^https?:/.test(where) ? new URL(where).origin : 'file:';
  } catch {
    return where;
  }
};

/** Imports a single-file ES module from its text (packs must bundle their own imports). */
export async function importSource(source: string): Promise<unknown> {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    return await import(/* @vite-ignore */ url);
  } finally {
    URL.revokeObjectURL(url);
  }
}
