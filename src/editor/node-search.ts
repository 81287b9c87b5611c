/** What the add menu searches in: a node type's title, id, category and description. */
export interface Searchable {
  type: string;
  title: string;
  category: string;
  description?: string;
}

export interface SearchHit<T extends Searchable> {
  def: T;
  score: number;
}

const norm = (s: string) =>
  s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '');
const words = (s: string) =>
  norm(s)
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

/** How well one query term matches a node type: 0 when it does not. Title first, then id, category, description. */
function termScore(term: string, d: Searchable): number {
  const title = norm(d.title);
  const type = norm(d.type);
  if (title === term) return 100;
  if (type === term) return 95;
  if (title.startsWith(term)) return 80;
  if (words(d.title).some((w) => w.startsWith(term))) return 70;
  if (type.startsWith(term) || words(d.type).some((w) => w.startsWith(term))) return 60;
  if (title.includes(term)) return 50;
  if (type.includes(term)) return 45;
  if (words(d.category).some((w) => w.startsWith(term))) return 30;
  if (d.description && words(d.description).some((w) => w.startsWith(term))) return 20;
  if (d.description && norm(d.description).includes(term)) return 10;
  return 0;
}

/**
 * Node types matching a query, best first: every word of the query must match the title, the type id, the
 * category or the description (a word's start, or inside the title or id); a title match ranks above an id
 * match, above a category match, above a description match. Ties keep the given order. An empty query lists all.
 */
export function searchNodeTypes<T extends Searchable>(defs: readonly T[], query: string): T[] {
  const terms = words(query);
  if (!terms.length) return [...defs];
  const hits: (SearchHit<T> & { index: number })[] = [];
  defs.forEach((def, index) => {
    let score = 0;
    for (const t of terms) {
      const s = termScore(t, def);
      if (!s) return;
      score += s;
    }
    hits.push({ def, score, index });
  });
  return hits.sort((a, b) => b.score - a.score || a.index - b.index).map((h) => h.def);
}
