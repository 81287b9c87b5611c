/**
 * The one address rule (docs/security.md, "Addresses"): an IP address in any textual form is parsed into its bytes
 * first, and the decision is taken on those bytes, so `::ffff:7f00:1`, `[0:0:0:0:0:FFFF:127.0.0.1]`, `127.1`,
 * `2130706433`, `0x7f.1` and `0177.0.0.1` are all the loopback address they name. IPv6 forms that carry an IPv4
 * address (mapped, compatible, NAT64, 6to4, Teredo) are decided by that IPv4 address.
 *
 * Pure: bytes in, a verdict out. The hosts connect through `src/cli/security/address-guard.ts`, which applies it to
 * literals, to every address a name resolves to, to the address actually connected to, and to every redirect.
 */

export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

/** One part of an inet_aton-style IPv4 address: decimal, octal (leading 0) or hex (0x). */
function v4Part(part: string): number | null {
  if (/^0x[0-9a-f]*$/i.test(part)) return part.length === 2 ? 0 : parseInt(part.slice(2), 16);
  if (/^0[0-7]*$/.test(part)) return parseInt(part, 8);
  if (/^[1-9][0-9]*$/.test(part)) return Number(part);
  return null;
}

/**
 * IPv4 in every form the C library and the URL parser accept: 1 to 4 parts (`127.1`, `2130706433`, `10.1.2`),
 * each decimal, octal or hex, the last part filling the bytes that remain. A trailing dot is allowed (`127.0.0.1.`).
 */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.replace(/\.$/, '').split('.');
  if (parts.length < 1 || parts.length > 4 || parts.some((p) => p === '')) return null;
  const nums = parts.map(v4Part);
  if (nums.some((n) => n === null || !Number.isFinite(n))) return null;
  const values = nums as number[];
  const last = values.pop()!;
  if (values.some((n) => n > 255) || last >= 2 ** (8 * (4 - values.length))) return null;
  const out = new Uint8Array(4);
  values.forEach((n, i) => (out[i] = n));
  for (let i = 3, rest = last; i >= values.length; i--, rest = Math.floor(rest / 256)) out[i] = rest % 256;
  return out;
}

/** Strict dotted-quad IPv4 (as inside an IPv6 address): four decimal parts 0-255. */
function dottedQuad(text: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const nums = m.slice(1).map(Number);
  return nums.every((n) => n <= 255) ? Uint8Array.from(nums) : null;
}

/**
 * IPv6 in any textual form: brackets, a zone id (`%eth0`, `%25eth0`), upper or lower case, compressed (`::`) or
 * expanded, leading zeros, an embedded dotted IPv4 address in the last 32 bits.
 */
export function parseIPv6(text: string): Uint8Array | null {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  s = s.replace(/%.*$/, '');
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const items = half.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item.includes('.')) {
        if (i !== items.length - 1) return null;
        const v4 = dottedQuad(item);
        if (!v4) return null;
        out.push(v4[0]! * 256 + v4[1]!, v4[2]! * 256 + v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) out.push(parseInt(item, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return null;
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return null;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    all = head;
  }
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** An IP address in any textual form, or null for anything else (a host name). */
export function parseAddress(text: string): IpAddress | null {
  const s = text.trim();
  const v6 = s.includes(':') ? parseIPv6(s) : null;
  if (v6) return { family: 6, bytes: v6 };
  const v4 = /^[0-9a-fA-Fx.]+$/.test(s) ? parseIPv4(s) : null;
  return v4 ? { family: 4, bytes: v4 } : null;
}

export const formatIPv4 = (b: Uint8Array): string => Array.from(b.subarray(0, 4)).join('.');

/** Whether the first `bits` of `bytes` equal those of `prefix`. */
function inPrefix(bytes: Uint8Array, prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const n = Math.min(8, bits - i);
    const mask = (0xff << (8 - n)) & 0xff;
    if (((bytes[i / 8] ?? 0) & mask) !== ((prefix[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

/** IPv4 ranges that are not the public internet, each with what it is (docs/security.md lists the same). */
export const IPV4_NON_PUBLIC: readonly { prefix: readonly number[]; bits: number; what: string }[] = [
  { prefix: [255, 255, 255, 255], bits: 32, what: 'broadcast' },
  { prefix: [0], bits: 8, what: 'unspecified ("this network", 0/8)' },
  { prefix: [10], bits: 8, what: 'private (10/8)' },
  { prefix: [100, 64], bits: 10, what: 'shared (carrier-grade NAT, 100.64/10)' },
  { prefix: [127], bits: 8, what: 'loopback (127/8)' },
  { prefix: [169, 254], bits: 16, what: 'link-local (169.254/16)' },
  { prefix: [172, 16], bits: 12, what: 'private (172.16/12)' },
  { prefix: [192, 0, 0], bits: 24, what: 'IETF protocol assignments (192.0.0/24)' },
  { prefix: [192, 0, 2], bits: 24, what: 'documentation (192.0.2/24)' },
  { prefix: [192, 88, 99], bits: 24, what: '6to4 relay anycast (192.88.99/24)' },
  { prefix: [192, 168], bits: 16, what: 'private (192.168/16)' },
  { prefix: [198, 18], bits: 15, what: 'benchmarking (198.18/15)' },
  { prefix: [198, 51, 100], bits: 24, what: 'documentation (198.51.100/24)' },
  { prefix: [203, 0, 113], bits: 24, what: 'documentation (203.0.113/24)' },
  { prefix: [224], bits: 4, what: 'multicast (224/4)' },
  { prefix: [240], bits: 4, what: 'reserved (240/4)' },
];

const h = (...groups: number[]) => groups.flatMap((g) => [g >> 8, g & 0xff]);

/** IPv6 ranges decided by the IPv4 address they carry: where it sits, and how to read it. */
const IPV6_EMBEDDING: readonly {
  prefix: readonly number[];
  bits: number;
  what: string;
  v4: (b: Uint8Array) => Uint8Array;
}[] = [
  { prefix: h(0, 0, 0, 0, 0, 0xffff), bits: 96, what: 'IPv4-mapped', v4: (b) => b.slice(12, 16) },
  { prefix: h(0, 0, 0, 0, 0xffff, 0), bits: 96, what: 'IPv4-translated', v4: (b) => b.slice(12, 16) },
  { prefix: h(0, 0, 0, 0, 0, 0), bits: 96, what: 'IPv4-compatible', v4: (b) => b.slice(12, 16) },
  { prefix: h(0x64, 0xff9b, 0, 0, 0, 0), bits: 96, what: 'NAT64', v4: (b) => b.slice(12, 16) },
  { prefix: h(0x2002), bits: 16, what: '6to4', v4: (b) => b.slice(2, 6) },
  // Teredo: the client's address is stored inverted in the last 32 bits.
  { prefix: h(0x2001, 0), bits: 32, what: 'Teredo', v4: (b) => b.slice(12, 16).map((x) => x ^ 0xff) },
];

const IPV6_NON_PUBLIC: readonly { prefix: readonly number[]; bits: number; what: string }[] = [
  { prefix: h(0x64, 0xff9b, 1), bits: 48, what: 'local-use NAT64 (64:ff9b:1::/48)' },
  { prefix: h(0x100, 0, 0, 0), bits: 64, what: 'discard-only (100::/64)' },
  { prefix: h(0x2001, 0x2, 0), bits: 48, what: 'benchmarking (2001:2::/48)' },
  { prefix: h(0x2001, 0x10), bits: 28, what: 'ORCHID (2001:10::/28)' },
  { prefix: h(0x2001, 0x20), bits: 28, what: 'ORCHIDv2 (2001:20::/28)' },
  { prefix: h(0x2001, 0xdb8), bits: 32, what: 'documentation (2001:db8::/32)' },
  { prefix: h(0x3fff, 0), bits: 20, what: 'documentation (3fff::/20)' },
  { prefix: h(0xfc00), bits: 7, what: 'private (unique local, fc00::/7)' },
  { prefix: h(0xfe80), bits: 10, what: 'link-local (fe80::/10)' },
  { prefix: h(0xfec0), bits: 10, what: 'site-local (fec0::/10)' },
  { prefix: h(0xff00), bits: 8, what: 'multicast (ff00::/8)' },
];

function v4Problem(b: Uint8Array): string | null {
  return IPV4_NON_PUBLIC.find((r) => inPrefix(b, r.prefix, r.bits))?.what ?? null;
}

function v6Problem(b: Uint8Array): string | null {
  if (b.every((x) => x === 0)) return 'unspecified (::)';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback (::1)';
  for (const e of IPV6_EMBEDDING) {
    if (!inPrefix(b, e.prefix, e.bits)) continue;
    const v4 = e.v4(b);
    const why = v4Problem(v4);
    return why ? `${e.what} form of ${formatIPv4(v4)}, ${why}` : null;
  }
  const special = IPV6_NON_PUBLIC.find((r) => inPrefix(b, r.prefix, r.bits));
  if (special) return special.what;
  // Everything else outside 2000::/3 (global unicast) is reserved or unassigned.
  if ((b[0]! & 0xe0) !== 0x20) return 'reserved (outside 2000::/3, the global unicast range)';
  return null;
}

/**
 * Why an address is not a public internet address ("loopback (127/8)", "IPv4-mapped form of 10.0.0.1, private
 * (10/8)"...), or null for a public one. Anything that is not an IP address in some form says so.
 */
export function addressProblem(address: string | IpAddress): string | null {
  const ip = typeof address === 'string' ? parseAddress(address) : address;
  if (!ip) return 'not an IP address';
  return ip.family === 4 ? v4Problem(ip.bytes) : v6Problem(ip.bytes);
}
