/**
 * Installed node packs in this browser: each pack's source text with its origin (localStorage, so the worker's
 * copy and the page's come from the same bytes), and the origins the user allowed or refused.
 *
 * This record is the page's own: the pack list, each pack's name and node types, and whether it is enabled come from
 * it, never from what the (sandboxed, untrusted) worker says later. It is keyed by `sha256`.
 */
export interface StoredPack {
  /** The name the pack gave when it was installed (a label: the page shows it, Remove goes by `sha256`). */
  name: string;
  origin: string;
  source: string;
  enabled: boolean;
  /** The sha256 of the source the user allowed: these bytes load again after a reload; others are asked about. */
  sha256?: string;
  /** As the pack described itself when it was installed. */
  version?: string;
  description?: string;
  /** Its node types when it was installed (`name/type`): the only ones the page registers for it later. */
  types?: string[];
}

/** A pack's name as the manifest schema allows it; anything else the worker says is not a name. */
export const PACK_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** Hex sha256 of a pack's text (consent is given to bytes, not only to a place). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
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

export const storedPacks = (): StoredPack[] =>
  read<StoredPack[]>(PACKS, []).filter((p) => typeof p.source === 'string');
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

/** A pack the project lists for the command line, as the editor's server (or a build) offers it. */
export interface ProjectPack {
  /** The folder's name: `pack-wct`. */
  id: string;
  /** As package.json lists it: `examples/pack-wct`. */
  path: string;
  /** The module's URL relative to the page: `packs/pack-wct.js`. */
  url: string;
  description?: string;
}

/** The list of the project's packs, beside the page. */
export const PACKS_INDEX = 'packs.json';

/** The project's packs, or none where the page is served without them. */
export async function projectPackList(base: string, get: typeof fetch = fetch): Promise<ProjectPack[]> {
  try {
    const res = await get(new URL(PACKS_INDEX, base).href);
    if (!res.ok || !/json/.test(res.headers.get('content-type') ?? '')) return [];
    const list = (await res.json()) as unknown;
    return Array.isArray(list)
      ? list.filter(
          (p): p is ProjectPack => typeof p === 'object' && p !== null && typeof (p as ProjectPack).url === 'string',
        )
      : [];
  } catch {
    return [];
  }
}

/**
 * Where the text typed in the plugins dialog points: a project pack by its path (`examples/pack-wct`, as the README
 * and package.json name it), a URL, or a path on this site.
 */
export function packLocation(typed: string, base: string, project: readonly ProjectPack[]): string {
  const t = typed.trim().replace(/^\.\//, '').replace(/\/+$/, '');
  const known = project.find((p) => p.path.replace(/^\.\//, '').replace(/\/+$/, '') === t || p.id === t);
  return new URL(known ? known.url : t, base).href;
}

/** Refuses what is not a module: a web page (a wrong path answered with index.html), or nothing at all. */
export function checkPackText(
  where: string,
  contentType: string | null,
  text: string,
  project: readonly ProjectPack[],
): void {
  const page = /html/i.test(contentType ?? '') || /^\s*</.test(text);
  if (!page && text.trim()) return;
  const offer = project.length ? `; this project's packs: ${project.map((p) => p.path).join(', ')}` : '';
  throw new Error(
    `${where} is not a node pack: the server answered with ${page ? 'a web page' : 'nothing'}, not a JavaScript module (a pack is one .js file)${offer}`,
  );
}
