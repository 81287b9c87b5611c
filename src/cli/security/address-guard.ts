import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect as netConnect, type LookupFunction, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { addressProblem, parseAddress } from '../../codecs/ip-address';

/**
 * Where the command line (and the editor's server, through the CLI's weight cache) connects on a user's behalf.
 * The decision is `addressProblem` (src/codecs/ip-address.ts); this applies it at every step of a connection:
 *
 * - an address literal in the URL is parsed in every textual form and checked before anything connects (Node
 *   calls no lookup for a literal);
 * - a host name is resolved here (every address) and refused if any address is not public;
 * - the socket's own remote address is checked once connected, before a byte is written (the request is handed
 *   an already connected, checked socket);
 * - every redirect is a new request, checked the same way.
 *
 * An origin the user named themselves (a weights mirror) is reached at whatever address it has; a redirect from it
 * to anywhere else is checked.
 */
export interface AddressPolicy {
  /** Loopback, private and link-local addresses too (`--allow-private-network`). */
  privateNetwork: boolean;
  /** Origins (`http://127.0.0.1:8000`) the user named: reached at any address. */
  trustedOrigins?: readonly string[];
  /** What to do instead, appended to a refusal ("fetching from the local network needs --allow-private-network"). */
  hint?: string;
}

/** A connection the address rule refuses. */
export class AddressRefused extends Error {}

const DEFAULT_HINT = 'fetching from the local network needs --allow-private-network';

const trusted = (url: URL, policy: AddressPolicy) =>
  policy.privateNetwork ||
  (policy.trustedOrigins ?? []).some((o) => {
    try {
      return new URL(o).origin === url.origin;
    } catch {
      return false;
    }
  });

/** Why the URL's host, when it is an address literal, may not be reached; null for a name or an allowed address. */
export function literalProblem(url: URL, policy: AddressPolicy): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const ip = parseAddress(host);
  if (!ip || trusted(url, policy)) return null;
  const why = addressProblem(ip);
  return why && `not fetched: ${host} is not a public address: ${why}; ${policy.hint ?? DEFAULT_HINT}`;
}

/** A lookup that resolves every address of a name and refuses the name if any of them is not public. */
export function checkedLookup(policy: AddressPolicy, allowAny = false): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = allowAny ? undefined : addresses.find((a) => addressProblem(a.address));
      if (bad) {
        const e = new AddressRefused(
          `not fetched: ${hostname} resolves to ${bad.address}, not a public address: ${addressProblem(bad.address)}; ${policy.hint ?? DEFAULT_HINT}`,
        );
        return callback(e as NodeJS.ErrnoException, '', 0);
      }
      if (!addresses.length)
        return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), '', 0);
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

const defaultPort = (url: URL) => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

/**
 * A socket connected to `url`'s host and port, every step checked (see above); TLS (with the host's certificate
 * checked) for https. Nothing has been written to it.
 */
export function connectChecked(
  url: URL,
  policy: AddressPolicy,
  o: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<Socket> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.reject(new Error(`${url.protocol} URLs are not fetched`));
  const literal = literalProblem(url, policy);
  if (literal) return Promise.reject(new AddressRefused(literal));
  const allowAny = trusted(url, policy);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const ip = parseAddress(host);
  return new Promise<Socket>((resolve, reject) => {
    let done = false;
    const finish = (e: Error | null, s?: Socket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (e) {
        raw.destroy();
        reject(e);
      } else resolve(s!);
    };
    const onAbort = () => finish(o.signal?.reason instanceof Error ? o.signal.reason : new Error('aborted'));
    const timeoutMs = o.timeoutMs ?? 30_000;
    const timer = setTimeout(
      () => finish(new Error(`no connection to ${url.host} within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    // A literal in a non-canonical form (`0x7f.1`) is passed on as the address it parsed to.
    const target = ip ? (ip.family === 4 ? Array.from(ip.bytes).join('.') : host.replace(/%.*$/, '')) : host;
    const raw = netConnect({ host: target, port: defaultPort(url), lookup: checkedLookup(policy, allowAny) });
    raw.once('error', (e) => finish(e));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) return onAbort();
    raw.once('connect', () => {
      // The address actually connected to, whatever resolved it.
      const why = allowAny ? null : addressProblem(raw.remoteAddress ?? '');
      if (why)
        return finish(
          new AddressRefused(
            `not fetched: ${url.host} connected to ${raw.remoteAddress}, not a public address: ${why}; ${policy.hint ?? DEFAULT_HINT}`,
          ),
        );
      if (url.protocol === 'http:') return finish(null, raw);
      const tls = tlsConnect({ socket: raw, host, ...(ip ? {} : { servername: host }), ALPNProtocols: ['http/1.1'] });
      tls.once('error', (e) => finish(e));
      tls.once('secureConnect', () => finish(null, tls));
    });
  });
}

export interface CheckedRequest {
  method?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** A socket that stays idle this long ends the request (default 60 s). */
  idleMs?: number;
}

/** One request (no redirects followed) over a checked connection. */
export async function requestChecked(
  url: URL,
  policy: AddressPolicy,
  r: CheckedRequest = {},
): Promise<IncomingMessage> {
  const socket = await connectChecked(url, policy, r.signal ? { signal: r.signal } : {});
  const idleMs = r.idleMs ?? 60_000;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(
      {
        method: r.method ?? 'GET',
        path: `${url.pathname}${url.search}`,
        createConnection: () => socket,
        headers: { host: url.host, 'user-agent': 'stylegraph', ...r.headers },
        ...(r.signal ? { signal: r.signal } : {}),
      },
      resolve,
    );
    req.setTimeout(idleMs, () => req.destroy(new Error(`no answer within ${idleMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** GETs `url`, following up to `maxRedirects` redirects, each target checked again as a new request. */
export async function getChecked(
  url: URL,
  policy: AddressPolicy,
  r: CheckedRequest & { maxRedirects?: number; onRedirect?: (to: URL) => void } = {},
): Promise<{ res: IncomingMessage; url: URL }> {
  let at = url;
  for (let left = r.maxRedirects ?? 5; ; left--) {
    const res = await requestChecked(at, policy, r);
    const status = res.statusCode ?? 0;
    if (!REDIRECTS.has(status) || !res.headers.location) return { res, url: at };
    res.resume();
    if (left <= 0) throw new Error(`${url.href}: too many redirects`);
    at = new URL(res.headers.location, at);
    r.onRedirect?.(at);
  }
}

/**
 * The address rule for weight downloads: public addresses only, except the mirror the user named (its origin is
 * theirs to choose, a local copy included); a redirect from it to another origin is checked.
 */
export const weightsAddressPolicy = (...mirrors: (string | null | undefined)[]): AddressPolicy => ({
  privateNetwork: false,
  trustedOrigins: mirrors.filter((m): m is string => Boolean(m)),
  hint: 'weights are downloaded from the local network only from a mirror you name (STYLEGRAPH_WEIGHTS_MIRROR, or weightsMirror in a trusted config)',
});

const toHeaders = (h: IncomingHttpHeaders) => {
  const out = new Headers();
  for (const [k, v] of Object.entries(h))
    if (v !== undefined) for (const x of Array.isArray(v) ? v : [v]) out.append(k, x);
  return out;
};

/**
 * A `fetch` for downloads (GET only) whose every connection and redirect goes through the address rule: what the
 * weight cache is given, so a manifest URL, or a mirror's redirect, cannot reach the local network.
 */
export function checkedFetch(policy: AddressPolicy): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const { res } = await getChecked(url, policy, { headers, ...(init?.signal ? { signal: init.signal } : {}) });
    const status = res.statusCode ?? 0;
    const empty = status === 204 || status === 304 || status < 200;
    if (empty) res.resume();
    const body = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
    return new Response(body, { status, statusText: res.statusMessage ?? '', headers: toHeaders(res.headers) });
  }) as typeof fetch;
}
