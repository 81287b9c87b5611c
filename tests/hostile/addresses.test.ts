import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressProblem, parseAddress } from '../../src/codecs/ip-address';
import { checkedFetch, weightsAddressPolicy } from '../../src/cli/security/address-guard';
import { documentAccess } from '../../src/cli/node/node-session';
import { sourceProblem, documentSourceAccess } from '../../src/cli/security/source-access';
import { fetchWeights } from '../../src/cli/weights/weights-fetch';
import { weightsMiddleware } from '../../src/devserver/weights';
import { manifestEntry } from '../../src/models/weights/manifest';
import { WEIGHTS_ROUTE } from '../../src/web/weights-route';
import { ownCacheAndConfig, runCli } from '../run-cli';

/**
 * One address rule, decided on the parsed bytes (issue 29, item 2): every textual form of a non-public address
 * is refused, IPv6 forms that carry an IPv4 address are decided by it, and the rule holds for literals, resolved
 * names and redirects, in image sources and in weight downloads. A loopback server counts what reaches it.
 */
const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-addresses-'));
const astronaut = readFileSync(join(root, 'presets/images/astronaut.jpg'));
const swirls = join(root, 'presets/images/swirls.jpg');

// ---- an independent description of the IPv4 ranges, as 32-bit numbers ------------------------------------

const RANGES: [number, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
].map(([a, bits]) => [(a as string).split('.').reduce((n, x) => n * 256 + Number(x), 0), bits as number]);
const inRanges = (n: number) =>
  RANGES.some(([net, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(net / 2 ** (32 - bits)));
const quad = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const hex4 = (n: number) => `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;

/** Every spelling of an IPv4 address this test knows: plain forms and the IPv6 forms that carry it. */
function spellings(n: number): string[] {
  const [a, b, c, d] = quad(n) as [number, number, number, number];
  const dotted = `${a}.${b}.${c}.${d}`;
  const inverted = ~n >>> 0;
  const pad = (x: number) => x.toString(16).padStart(4, '0');
  return [
    dotted,
    String(n),
    `0x${n.toString(16)}`,
    `0${n.toString(8)}`,
    `${a}.${(b << 16) | (c << 8) | d}`,
    `${a}.${b}.${(c << 8) | d}`,
    `0${a.toString(8)}.${b}.${c}.0x${d.toString(16)}`,
    `0x${a.toString(16)}.0x${b.toString(16)}.${c}.${d}`,
    // IPv4-mapped, every way round
    `::ffff:${dotted}`,
    `::ffff:${hex4(n)}`,
    `[::ffff:${hex4(n)}]`,
    `0:0:0:0:0:ffff:${dotted}`,
    `[0:0:0:0:0:FFFF:${dotted}]`,
    `0000:0000:0000:0000:0000:ffff:${pad(n >>> 16)}:${pad(n & 0xffff)}`,
    `::FFFF:${hex4(n).toUpperCase()}`,
    `::ffff:0:${hex4(n)}`,
    // compatible, NAT64, 6to4, Teredo
    `::${dotted}`,
    `::${hex4(n)}`,
    `64:ff9b::${dotted}`,
    `64:FF9B::${hex4(n)}`,
    `0064:ff9b:0:0:0:0:${hex4(n)}`,
    `2002:${hex4(n)}::`,
    `2002:${hex4(n)}:1:2:3:4:5`,
    `2001:0:4136:e378:8000:63bf:${hex4(inverted)}`,
  ];
}

describe('the address rule parses first, then decides', () => {
  it('refuses a table of spellings of loopback, private, link-local and other non-public addresses, saying which', () => {
    const refused: [string, RegExp][] = [
      ['127.0.0.1', /loopback \(127\/8\)/],
      ['127.1', /loopback/],
      ['2130706433', /loopback/],
      ['0x7f.1', /loopback/],
      ['0177.0.0.1', /loopback/],
      ['0x7f000001', /loopback/],
      ['127.0.0.1.', /loopback/],
      ['017700000001', /loopback/],
      ['::1', /loopback \(::1\)/],
      ['0:0:0:0:0:0:0:1', /loopback/],
      ['[::1]', /loopback/],
      ['::0001', /loopback/],
      ['::', /unspecified/],
      ['0.0.0.0', /unspecified/],
      ['0', /unspecified/],
      ['::ffff:7f00:1', /IPv4-mapped form of 127.0.0.1, loopback/],
      ['[0:0:0:0:0:ffff:127.0.0.1]', /IPv4-mapped form of 127.0.0.1/],
      ['::FFFF:A9FE:A9FE', /IPv4-mapped form of 169.254.169.254, link-local/],
      ['::ffff:0:7f00:1', /IPv4-translated form of 127.0.0.1/],
      ['::7f00:1', /IPv4-compatible form of 127.0.0.1/],
      ['::10.0.0.1', /IPv4-compatible form of 10.0.0.1, private/],
      ['64:ff9b::7f00:1', /NAT64 form of 127.0.0.1/],
      ['64:ff9b::192.168.0.1', /NAT64 form of 192.168.0.1/],
      ['64:ff9b:1::1.2.3.4', /local-use NAT64/],
      ['2002:7f00:1::', /6to4 form of 127.0.0.1/],
      ['2002:a00:1:ffff::1', /6to4 form of 10.0.0.1/],
      ['2001:0:4136:e378:8000:63bf:80ff:fffe', /Teredo form of 127.0.0.1/],
      ['10.1.2.3', /private \(10\/8\)/],
      ['172.16.0.1', /private \(172.16\/12\)/],
      ['172.31.255.255', /private/],
      ['192.168.1.1', /private/],
      ['169.254.169.254', /link-local/],
      ['100.64.0.1', /carrier-grade NAT/],
      ['100.127.255.255', /carrier-grade NAT/],
      ['198.18.0.1', /benchmarking/],
      ['198.19.255.255', /benchmarking/],
      ['192.0.2.1', /documentation/],
      ['203.0.113.9', /documentation/],
      ['198.51.100.1', /documentation/],
      ['224.0.0.1', /multicast/],
      ['239.255.255.250', /multicast/],
      ['255.255.255.255', /broadcast/],
      ['240.0.0.1', /reserved/],
      ['192.0.0.170', /IETF protocol/],
      ['fe80::1', /link-local \(fe80::\/10\)/],
      ['FE80::1%eth0', /link-local/],
      ['[fe80::1%25eth0]', /link-local/],
      ['febf::1', /link-local/],
      ['fec0::1', /site-local/],
      ['fc00::1', /unique local/],
      ['fd12:3456::1', /unique local/],
      ['ff02::1', /multicast/],
      ['2001:db8::1', /documentation/],
      ['100::1', /discard-only/],
      ['2001:2::1', /benchmarking/],
      ['4000::1', /reserved/],
      ['hello', /not an IP address/],
      ['1.2.3.4.5', /not an IP address/],
      ['::ffff:1.2.3', /not an IP address/],
      ['1::2::3', /not an IP address/],
      ['256.1.1.1', /not an IP address/],
      ['08.1.1.1', /not an IP address/],
    ];
    for (const [address, why] of refused) expect(addressProblem(address), address).toMatch(why);
    for (const address of [
      '93.184.216.34',
      '8.8.8.8',
      '172.32.0.1',
      '100.128.0.1',
      '198.20.0.1',
      '1.1.1.1',
      '2606:4700::1111',
      '[2606:4700:4700::1111]',
      '::ffff:8.8.8.8',
      '::ffff:808:808',
      '64:ff9b::8.8.8.8',
      '2002:808:808::1',
      '2a00:1450:4001:81a::200e',
    ])
      expect(addressProblem(address), address).toBeNull();
  });

  it('reads an IPv6 address to the same bytes the URL parser and Node read it to, in any form (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, upper) => {
        const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
        const full = groups.join(':');
        const canonical = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        expect(isIP(canonical)).toBe(6);
        for (const form of [full, canonical, upper ? canonical.toUpperCase() : `[${canonical}]`, `${canonical}%eth0`])
          expect(Array.from(parseAddress(form)!.bytes), form).toEqual(Array.from(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses every spelling of every non-public IPv4 address: plain, mapped, compatible, NAT64, 6to4, Teredo (property)', () => {
    const nonPublic = fc
      .constantFrom(...RANGES)
      .chain(([net, bits]) => fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((host) => net + host));
    fc.assert(
      fc.property(nonPublic, (n) => {
        for (const s of spellings(n)) {
          expect(parseAddress(s), s).not.toBeNull();
          expect(addressProblem(s), s).not.toBeNull();
        }
      }),
      { numRuns: 500 },
    );
  });

  it('allows every spelling of a public IPv4 address (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }).filter((n) => !inRanges(n)),
        (n) => {
          for (const s of spellings(n)) expect(addressProblem(s), s).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reads an IPv4 address in any form to the address the URL parser reads it to (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        for (const s of spellings(n).slice(0, 8)) {
          expect(Array.from(parseAddress(s)!.bytes), s).toEqual(quad(n));
          expect(new URL(`http://${s}/`).hostname, s).toBe(quad(n).join('.'));
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- connections: literals, names, redirects ---------------------------------------------------------------

let server: Server;
let port = 0;
let requests: string[] = [];
let redirector: Server;
let redirectorOrigin = '';
let redirectTo = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.setHeader('content-type', 'image/jpeg');
    res.end(astronaut);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  redirector = createServer((_req, res) => res.writeHead(302, { location: redirectTo }).end());
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  redirectorOrigin = `http://127.0.0.1:${(redirector.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => redirector.close(() => r()));
});

/** The same loopback server, in the spellings a careful attacker tries after `127.0.0.1`. */
const loopbackUrls = () => [
  `http://[::ffff:7f00:1]:${port}/a.jpg`,
  `http://[0:0:0:0:0:ffff:127.0.0.1]:${port}/a.jpg`,
  `http://[::ffff:127.0.0.1]:${port}/a.jpg`,
  `http://[::FFFF:7F00:0001]:${port}/a.jpg`,
  `http://[0000:0000:0000:0000:0000:ffff:7f00:0001]:${port}/a.jpg`,
  `http://[::127.0.0.1]:${port}/a.jpg`,
  `http://[64:ff9b::7f00:1]:${port}/a.jpg`,
  `http://[2002:7f00:1::1]:${port}/a.jpg`,
  `http://127.1:${port}/a.jpg`,
  `http://2130706433:${port}/a.jpg`,
  `http://0x7f.1:${port}/a.jpg`,
  `http://0177.0.0.1:${port}/a.jpg`,
  `http://[::1]:${port}/a.jpg`,
  `http://localhost:${port}/a.jpg`,
  `http://127.0.0.1.:${port}/a.jpg`,
];

const cli = (...args: string[]) => runCli(args, { timeout: 60_000, env: ownCacheAndConfig(tmp) });

function doc(name: string, source: string): string {
  const d = JSON.parse(readFileSync(join(root, 'presets/gatys.json'), 'utf8')) as {
    nodes: { id: string; params: Record<string, unknown> }[];
  };
  d.nodes.find((n) => n.id === 'content')!.params.source = source;
  mkdirSync(join(tmp, 'docs'), { recursive: true });
  const path = join(tmp, 'docs', name);
  writeFileSync(path, JSON.stringify(d));
  return path;
}

describe('image sources: a mapped or odd spelling of loopback is refused with --allow-remote alone', () => {
  it('refuses every spelling in process, before connecting; fetches with --allow-private-network', async () => {
    requests = [];
    const remote = documentAccess(join(tmp, 'doc.json'), { remote: { any: true, hosts: [], privateNetwork: false } });
    for (const url of loopbackUrls()) {
      expect(
        await remote.decode(url).then(
          () => 'fetched',
          (e: Error) => e.message,
        ),
        url,
      ).toMatch(/not a public address: .*loopback.*--allow-private-network/);
      // validate says the same for a literal, without fetching (a name is checked when it is resolved).
      const said = sourceProblem(url, {
        ...documentSourceAccess(tmp),
        remote: { any: true, hosts: [], privateNetwork: false },
      });
      if (url.includes('localhost')) expect(said).toBeNull();
      else expect(said, url).toMatch(/not a public address: .*loopback/);
    }
    expect(requests).toEqual([]);
    const both = documentAccess(join(tmp, 'doc.json'), { remote: { any: true, hosts: [], privateNetwork: true } });
    expect((await both.decode(`http://[::ffff:7f00:1]:${port}/a.jpg`)).width).toBeGreaterThan(0);
    expect(requests).toEqual(['/a.jpg']);
  });

  it('the command line (plan, submit) exits 2 for [::ffff:7f00:1] and [0:0:0:0:0:ffff:127.0.0.1], and the server sees no request', async () => {
    requests = [];
    for (const url of [`http://[::ffff:7f00:1]:${port}/a.jpg`, `http://[0:0:0:0:0:ffff:127.0.0.1]:${port}/a.jpg`]) {
      const file = doc('mapped.json', url);
      const plan = await cli('plan', file, '--size', '32', '--style', swirls, '--allow-remote');
      expect(plan.code, plan.stderr).toBe(2);
      expect(plan.stderr).toMatch(
        /::ffff:7f00:1 is not a public address: IPv4-mapped form of 127.0.0.1, loopback \(127\/8\); fetching from the local network needs --allow-private-network/,
      );
      expect(plan.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
    const submit = await cli(
      'submit',
      doc('mapped.json', `http://[::ffff:7f00:1]:${port}/a.jpg`),
      '--style',
      swirls,
      '--allow-remote',
      '--redis',
      'redis://127.0.0.1:1',
      '--detach',
    );
    expect(submit.code, submit.stderr).toBe(2);
    expect(submit.stderr).toMatch(/IPv4-mapped form of 127.0.0.1/);
    expect(requests).toEqual([]);
    // The same document with both flags is fetched, so the refusals above could have failed.
    const both = await cli(
      'plan',
      doc('mapped.json', `http://[::ffff:7f00:1]:${port}/a.jpg`),
      '--size',
      '32',
      '--style',
      swirls,
      '--allow-remote',
      '--allow-private-network',
    );
    expect(both.code, both.stderr).toBe(0);
    expect(requests).toEqual(['/a.jpg']);
  }, 120_000);
});

describe('weight downloads: only a mirror the user names may be on the local network, and redirects are checked', () => {
  it('a download through the checked fetch refuses a loopback literal in any spelling and a name that resolves to one', async () => {
    requests = [];
    const get = checkedFetch(weightsAddressPolicy(null));
    for (const url of loopbackUrls())
      await expect(get(url), url).rejects.toThrow(/not a public address: .*loopback.*mirror you name/);
    expect(requests).toEqual([]);
    // The origin the user named is reached; a redirect from it to the loopback server in a mapped spelling is not.
    const named = checkedFetch(weightsAddressPolicy(`http://127.0.0.1:${port}/mirror/`));
    expect((await named(`http://127.0.0.1:${port}/mirror/x.pth`)).status).toBe(200);
    expect(requests).toEqual(['/mirror/x.pth']);
    requests = [];
    for (const to of [
      `http://[::ffff:7f00:1]:${port}/stolen`,
      `http://[::ffff:127.0.0.1]:${port}/stolen`,
      `http://localhost:${port}/stolen`,
    ]) {
      redirectTo = to;
      const viaMirror = checkedFetch(weightsAddressPolicy(`${redirectorOrigin}/weights/`));
      await expect(viaMirror(`${redirectorOrigin}/weights/x.pth`), to).rejects.toThrow(
        /not a public address: .*loopback/,
      );
    }
    expect(requests).toEqual([]);
  });

  it('weights fetch from a mirror that redirects to the local network is refused; the server behind it sees nothing', async () => {
    requests = [];
    redirectTo = `http://[0:0:0:0:0:ffff:127.0.0.1]:${port}/stolen`;
    const entry = manifestEntry('adain-decoder')!;
    const io = { out: () => {}, err: () => {}, isTTY: false, cwd: tmp };
    await expect(
      fetchWeights(
        entry,
        { dir: join(tmp, 'wcache'), mirror: { url: `${redirectorOrigin}/weights/`, from: 'test' } },
        io,
      ),
    ).rejects.toThrow(/IPv4-mapped form of 127.0.0.1, loopback/);
    expect(requests).toEqual([]);
  });

  it("the editor's server refuses the same redirect (502) and the server behind it sees nothing", async () => {
    requests = [];
    redirectTo = `http://[::ffff:7f00:1]:${port}/stolen`;
    const middleware = weightsMiddleware({
      cacheDir: () => join(tmp, 'dcache'),
      mirror: () => `${redirectorOrigin}/weights/`,
    });
    const app = createServer((req, res) => void middleware(req, res, () => res.writeHead(418).end()));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(
        `http://127.0.0.1:${(app.address() as { port: number }).port}${WEIGHTS_ROUTE}/adain-decoder`,
      );
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: string }).error).toMatch(/IPv4-mapped form of 127.0.0.1, loopback/);
    } finally {
      app.close();
    }
    expect(requests).toEqual([]);
  });
});
