import { deflateSync } from 'fflate';
import { inflateLimited } from './inflate';

/** Share links carry the document deflated and base64url-encoded in the URL fragment: `#graph=...`. */
export const LINK_PREFIX = 'graph=';
/** Beyond this a link breaks in chat apps and some browsers; the UI offers a file instead. */
export const COMFORTABLE_LINK_LENGTH = 8000;
const MAX_INFLATED = 8 * 1024 * 1024;

export class LinkError extends Error {}

const toBase64Url = (bytes: Uint8Array): string => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

export function encodeLink(documentText: string): { fragment: string; tooLong: boolean } {
  const fragment = LINK_PREFIX + toBase64Url(deflateSync(new TextEncoder().encode(documentText), { level: 9 }));
  return { fragment, tooLong: fragment.length > COMFORTABLE_LINK_LENGTH };
}

/** The document text from a fragment (with or without '#'); a readable LinkError otherwise. */
export function decodeLink(fragment: string): string {
  const f = fragment.replace(/^#/, '');
  if (!f.startsWith(LINK_PREFIX)) throw new LinkError('this link does not carry a StyleGraph graph (no #graph=...)');
  const b64 = f.slice(LINK_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(b64) || b64.length % 4 === 1)
    throw new LinkError('the graph in this link is not valid base64url (was it cut short?)');
  const bin = atob(b64.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  let text: Uint8Array;
  try {
    text = inflateLimited(bytes, 'raw', MAX_INFLATED, () => new LinkError('the graph in this link is too large'));
  } catch (e) {
    if (e instanceof LinkError) throw e;
    throw new LinkError('the graph in this link is damaged (it does not decompress)');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(text);
  } catch {
    throw new LinkError('the graph in this link is not text');
  }
}
