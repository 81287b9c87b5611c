import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { addressProblem } from '../../codecs/ip-address';
import { AddressRefused, literalProblem, requestChecked, type AddressPolicy } from './address-guard';
import { CAMERA_SOURCE } from '../../../nodes/camera-input';

/**
 * What a document may make the command line read or fetch (docs/security.md, "What a shared document can make
 * StyleGraph read or fetch"). A document's image and model sources resolve inside the document's folder and must be
 * regular files there; what the user gave on the command line (--content, --style, --set, --weights) is read
 * wherever it is. Remote sources are fetched only with the user's consent (--allow-remote, or a host a trusted
 * config lists), and never from a private, loopback or link-local address without --allow-private-network.
 */

export interface RemoteConsent {
  /** `--allow-remote`: any public host. */
  any: boolean;
  /** Host names a trusted config allows (`"remoteHosts": ["images.example.org", "*.example.org"]`). */
  hosts: readonly string[];
  /** `--allow-private-network`: loopback, private and link-local addresses too. */
  privateNetwork: boolean;
}

export const NO_REMOTE: RemoteConsent = { any: false, hosts: [], privateNetwork: false };

export interface SourceAccess {
  /** The document's folder: the sources it names resolve, and must stay, inside it. */
  base: string;
  /** Sources the user gave on the command line, as they appear in the model: read wherever they are. */
  given: Set<string>;
  /** True when every source is the user's own (a path typed at the prompt, a queue job the submitter checked). */
  trusted: boolean;
  remote: RemoteConsent;
}

/** A source the access rules refuse: bad input, exit 2, with a message that says what to do instead. */
export class SourceRefused extends Error {}

/** Access for a document in `base`: only what lies inside it, plus what the user gave. */
export function documentSourceAccess(
  base: string,
  o: { given?: Iterable<string>; remote?: RemoteConsent } = {},
): SourceAccess {
  return { base: resolve(base), given: new Set(o.given ?? []), trusted: false, remote: o.remote ?? NO_REMOTE };
}

/** Access for sources that are all the user's own (paths given at the prompt): any regular file; remote as consented. */
export function userSourceAccess(base: string, remote: RemoteConsent = NO_REMOTE): SourceAccess {
  return { base: resolve(base), given: new Set(), trusted: true, remote };
}

export const isRemote = (source: string) => /^https?:\/\//i.test(source.trim());

/** Images and model files larger than this are refused before they are read (1 GiB). */
export const MAX_SOURCE_BYTES = 2 ** 30;

// ---- addresses ---------------------------------------------------------------------------------------------

/** Why an address is not a public one (the one rule: src/codecs/ip-address.ts), or null for a public address. */
export const privateAddress = (address: string): string | null => addressProblem(address);

const addressPolicy = (access: SourceAccess): AddressPolicy => ({ privateNetwork: access.remote.privateNetwork });

const hostAllowed = (host: string, list: readonly string[]) =>
  list.some((h) => {
    const pattern = h.toLowerCase();
    return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
  });

const consentHint = (url: URL) =>
  `pass --allow-remote to fetch it, or list "${url.hostname}" under "remoteHosts" in a trusted stylegraph.config.json`;

/** Whether the user consented to fetching `url` at all (its address is checked when connecting). */
function remoteProblem(url: URL, access: SourceAccess, given: boolean): string | null {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${url.protocol} URLs are not read`;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!given && !access.trusted && !access.remote.any && !hostAllowed(host, access.remote.hosts))
    return `not fetched: the document names a remote source (${url.origin}) and remote sources are fetched only with your consent; ${consentHint(url)}`;
  const literal = literalProblem(url, addressPolicy(access));
  if (literal) return literal;
  return null;
}

/** GETs `url` through the consent and address checks, following up to 5 redirects (each checked again). */
export async function fetchChecked(
  url: URL,
  access: SourceAccess,
  given: boolean,
  maxBytes = MAX_SOURCE_BYTES,
  redirects = 5,
): Promise<Uint8Array> {
  const problem = remoteProblem(url, access, given);
  if (problem) throw new SourceRefused(`${url.href}: ${problem}`);
  const res = await requestChecked(url, addressPolicy(access)).catch((e: Error) => {
    throw e instanceof AddressRefused
      ? new SourceRefused(`${url.href}: ${e.message}`)
      : new Error(`${url.href}: ${e.message}`);
  });
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    if (redirects <= 0) throw new Error(`${url.href}: too many redirects`);
    return fetchChecked(new URL(res.headers.location, url), access, given, maxBytes, redirects - 1);
  }
  if (status !== 200) {
    res.resume();
    throw new Error(`${url.href}: HTTP ${status} ${res.statusMessage ?? ''}`.trim());
  }
  const declared = Number(res.headers['content-length'] ?? NaN);
  if (declared > maxBytes) {
    res.destroy();
    throw new SourceRefused(`${url.href}: ${declared} bytes is more than the ${maxBytes}-byte limit for a source`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      res.destroy();
      throw new SourceRefused(`${url.href}: more than the ${maxBytes}-byte limit for a source`);
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

// ---- files -------------------------------------------------------------------------------------------------

const inside = (root: string, path: string) => {
  const r = relative(root, path);
  return r === '' || (!r.startsWith('..' + sep) && r !== '..' && !isAbsolute(r));
};

/**
 * Where a local source resolves, or why it is refused, without touching the disk: a document's path must land
 * inside the document's folder (an absolute path outside it, or `..` out of it, is refused).
 */
export function localPath(
  source: string,
  access: SourceAccess,
  given = access.trusted || access.given.has(source),
): string {
  const path = resolve(access.base, source);
  if (!given && !inside(access.base, path))
    throw new SourceRefused(
      `${source}: not read: ${isAbsolute(source) ? 'an absolute path' : 'a path'} outside the document's folder (${access.base}); ` +
        'a document reads only files beside it. Give the file on the command line instead (--content, --style or --set NODE.PARAM=PATH)',
    );
  return path;
}

const kindOf = (s: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}) =>
  s.isDirectory()
    ? 'a folder'
    : s.isFIFO()
      ? 'a FIFO (named pipe)'
      : s.isCharacterDevice() || s.isBlockDevice()
        ? 'a device'
        : s.isSocket()
          ? 'a socket'
          : 'not a regular file';

/**
 * Checks a local source before anything opens it, and returns its real path: inside the document's folder also
 * after following links (unless the user gave it), a regular file (never a device, FIFO, socket or folder: checked
 * with stat, which does not open it, so a FIFO cannot hang), not a /proc or /sys file (they say they are empty), and
 * at most `maxBytes`.
 */
export async function checkLocalFile(
  source: string,
  access: SourceAccess,
  maxBytes = MAX_SOURCE_BYTES,
  root?: string,
): Promise<{ real: string; ino: number; dev: number }> {
  const given = access.trusted || access.given.has(source);
  const path = localPath(source, access, given);
  let real: string;
  try {
    real = await realpath(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(e as Error).message}`);
  }
  const confine = root ?? (given ? null : access.base);
  if (confine !== null) {
    const realRoot = await realpath(confine).catch(() => confine);
    if (!inside(realRoot, real))
      throw new SourceRefused(`${source}: not read: it links to ${real}, outside the document's folder (${realRoot})`);
  }
  const before = await stat(real);
  if (!before.isFile())
    throw new SourceRefused(`${source}: not read: ${real} is ${kindOf(before)}, not an image or model file`);
  if (real === '/proc' || real.startsWith('/proc/') || real.startsWith('/sys/'))
    throw new SourceRefused(`${source}: not read: ${real} is a kernel file, not an image or model file`);
  if (before.size > maxBytes)
    throw new SourceRefused(`${source}: ${before.size} bytes is more than the ${maxBytes}-byte limit for a source`);
  return { real, ino: before.ino, dev: before.dev };
}

/** The bytes of a local file, after `checkLocalFile`; the opened file is checked to be the one that was checked. */
export async function readLocalFile(
  source: string,
  access: SourceAccess,
  maxBytes = MAX_SOURCE_BYTES,
  root?: string,
): Promise<Uint8Array> {
  const before = await checkLocalFile(source, access, maxBytes, root);
  const real = before.real;
  // O_NONBLOCK: were the file swapped for a FIFO since the stat, opening it does not wait for a writer.
  const handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const now = await handle.stat();
    if (!now.isFile() || now.ino !== before.ino || now.dev !== before.dev)
      throw new SourceRefused(`${source}: not read: ${real} changed while it was checked`);
    const bytes = Buffer.alloc(Math.min(now.size, maxBytes));
    let at = 0;
    while (at < bytes.length) {
      const { bytesRead } = await handle.read(bytes, at, bytes.length - at, at);
      if (!bytesRead) break;
      at += bytesRead;
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, at);
  } finally {
    await handle.close();
  }
}

/** Reads any source the access allows: a data: URL, a remote URL (with consent), or a local file. */
export async function readAllowed(
  source: string,
  access: SourceAccess,
  maxBytes = MAX_SOURCE_BYTES,
): Promise<Uint8Array> {
  if (isRemote(source)) return fetchChecked(new URL(source.trim()), access, access.given.has(source), maxBytes);
  return readLocalFile(source, access, maxBytes);
}

/**
 * What `validate` says about a source without reading it: null when it may be read, else why not (the same
 * rules as a run: a path outside the document's folder, a URL without consent, a private address literal).
 */
export function sourceProblem(source: string, access: SourceAccess): string | null {
  // The live camera is a slot, not something read: the editor fills it with frames, `run --content` with a photo or clip.
  if (source.startsWith('data:') || source.startsWith('upload:') || source === CAMERA_SOURCE) return null;
  const given = access.trusted || access.given.has(source);
  try {
    if (isRemote(source)) {
      const url = new URL(source.trim());
      const p = remoteProblem(url, access, given);
      return p && `${url.href}: ${p}`;
    }
    if (/^[a-z][a-z0-9+.-]+:/i.test(source))
      return `${source}: not read: only file paths, http(s) and data: URLs are sources`;
    localPath(source, access, given);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
