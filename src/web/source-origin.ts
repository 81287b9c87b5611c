/**
 * Where an image or model source in a document leads, decided the way the browser will fetch it: parsed against
 * the page with `new URL(source, page)` and compared by origin, never by a pattern. So ` //host/x.png`,
 * `/\host/x.png`, `ht<TAB>tp://host/` or a newline inside the scheme all count as the host they reach, as fetch and
 * <img src> would read them. `data:` URLs and `upload:` references (bytes kept in this browser) are local.
 */
export type SourcePlace = { local: true; href: string | null } | { local: false; origin: string; href: string };

export function sourcePlace(source: string, page: string): SourcePlace {
  let url: URL;
  try {
    url = new URL(source, page);
  } catch {
    // The browser cannot parse it either, so it fetches nothing.
    return { local: true, href: null };
  }
  if (url.protocol === 'data:') return { local: true, href: url.href };
  if (url.protocol === 'upload:') return { local: true, href: null };
  // The editor's live camera (a camera node's `camera:`): frames the page grabs, nothing fetched.
  if (url.protocol === 'camera:') return { local: true, href: null };
  const pageOrigin = new URL(page).origin;
  if ((url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'blob:') && url.origin === pageOrigin)
    return { local: true, href: url.href };
  // Another site, or a scheme the page does not serve (file:, ftp:, javascript:...): named by its origin or scheme.
  return { local: false, origin: url.origin !== 'null' ? url.origin : url.protocol, href: url.href };
}

/** The origin a source would be fetched from when it is not the page's own, else null. */
export const remoteOrigin = (source: string, page: string): string | null => {
  const p = sourcePlace(source, page);
  return p.local ? null : p.origin;
};
