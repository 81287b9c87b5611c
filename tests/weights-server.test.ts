import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listCache } from '../src/cli/weights/weights-cache';
import { hostAllowed, weightsMiddleware } from '../src/devserver/weights';
import { MANIFEST, manifestEntry } from '../src/models/weights/manifest';
import { WEIGHTS_ROUTE, type WeightsFolderInfo, type WeightsServerInfo } from '../src/web/weights-route';
import { readCheckpoint } from '../src/models/weights/read';
import { readFixture } from './parity';

/**
 * The editor server's weights middleware between a page and a checkpoint host that sends no CORS header: only
 * manifest names, fetched into the CLI's disk cache under the mirror base, served with their length.
 */
const files: Record<string, Uint8Array> = {
  'decoder.pth': readFixture('decoder-tiny.pth'),
  'vgg_normalised.pth': readFixture('vgg_normalised-tiny.pth'),
};
const upstreamHits: string[] = [];
let upstream: Server;
let app: Server;
let host = '';
let base = '';
let cache = '';

const listen = async (s: Server) => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
};

beforeAll(async () => {
  // The mirror: plain files, no CORS headers.
  upstream = createServer((req, res) => {
    upstreamHits.push(req.url!);
    const body = files[(req.url ?? '').replace(/^\/(mirror|other)\//, '')];
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  host = await listen(upstream);
  cache = mkdtempSync(join(tmpdir(), 'stylegraph-server-cache-'));
  const middleware = weightsMiddleware({ cacheDir: () => cache, mirror: () => `${host}/mirror` });
  app = createServer((req, res) => void middleware(req, res, () => res.writeHead(418).end('next')));
  base = await listen(app);
});
afterAll(() => {
  upstream.close();
  app.close();
});

describe('the editor server serves manifest weights', () => {
  it('says it is there, with its mirror and the names it serves', async () => {
    const res = await fetch(`${base}${WEIGHTS_ROUTE}`);
    const info = (await res.json()) as WeightsServerInfo;
    expect(info).toEqual({ stylegraph: 'weights', mirror: `${host}/mirror`, names: MANIFEST.map((e) => e.name) });
  });

  it("takes its own mirror from the CLI's setting (STYLEGRAPH_WEIGHTS_MIRROR) by default", async () => {
    const before = process.env.STYLEGRAPH_WEIGHTS_MIRROR;
    process.env.STYLEGRAPH_WEIGHTS_MIRROR = 'https://class.example/weights/';
    const middleware = weightsMiddleware({ cacheDir: () => cache });
    const server = createServer((req, res) => void middleware(req, res, () => res.writeHead(418).end()));
    try {
      const at = await listen(server);
      expect(((await (await fetch(`${at}${WEIGHTS_ROUTE}`)).json()) as WeightsServerInfo).mirror).toBe(
        'https://class.example/weights/',
      );
      process.env.STYLEGRAPH_WEIGHTS_MIRROR = 'ftp://nope/';
      expect(((await (await fetch(`${at}${WEIGHTS_ROUTE}`)).json()) as { error: string }).error).toMatch(
        /must be an http\(s\) URL/,
      );
    } finally {
      if (before === undefined) delete process.env.STYLEGRAPH_WEIGHTS_MIRROR;
      else process.env.STYLEGRAPH_WEIGHTS_MIRROR = before;
      server.close();
    }
  });

  it('fetches a checkpoint from the mirror into the cache and streams its bytes with their length', async () => {
    const res = await fetch(`${base}${WEIGHTS_ROUTE}/adain-decoder`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(files['decoder.pth']!.length));
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(files['decoder.pth']);
    expect(upstreamHits).toContain('/mirror/decoder.pth');
    expect((await listCache(cache)).map((e) => e.url)).toContain(`${host}/mirror/decoder.pth`);
    // A second request comes from the cache.
    const before = upstreamHits.length;
    const again = await fetch(`${base}${WEIGHTS_ROUTE}/adain-decoder`);
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(files['decoder.pth']);
    expect(upstreamHits.length).toBe(before);
  });

  it("takes the page's mirror (http only) instead of its own, held to the public-address rule", async () => {
    // A page (a link's ?weightsMirror=) may not make the server fetch from the local network: only its own mirror may be there.
    const before = upstreamHits.length;
    const local = await fetch(`${base}${WEIGHTS_ROUTE}/vgg_normalised?mirror=${encodeURIComponent(`${host}/other/`)}`);
    expect(local.status).toBe(502);
    expect(((await local.json()) as { error: string }).error).toMatch(/127\.0\.0\.1.*(private|loopback|local)/i);
    expect(upstreamHits.length).toBe(before);
    const bad = await fetch(`${base}${WEIGHTS_ROUTE}/vgg_normalised?mirror=${encodeURIComponent('file:///etc/')}`);
    expect(bad.status).toBe(400);
    // A public page mirror is used instead of the server's own (the download itself stubbed here).
    const asked: string[] = [];
    const stubbed = weightsMiddleware({
      cacheDir: () => mkdtempSync(join(tmpdir(), 'stylegraph-server-cache-')),
      mirror: () => `${host}/mirror`,
      fetch: (async (input: string | URL | Request) => {
        asked.push(String(input));
        return new Response(new Uint8Array(files['vgg_normalised.pth']!), {
          headers: { 'content-length': String(files['vgg_normalised.pth']!.length) },
        });
      }) as typeof fetch,
    });
    const other = createServer((req, res) => void stubbed(req, res, () => res.writeHead(418).end('next')));
    const at = await listen(other);
    try {
      const res = await fetch(
        `${at}${WEIGHTS_ROUTE}/vgg_normalised?mirror=${encodeURIComponent('https://class.example/weights/')}`,
      );
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(files['vgg_normalised.pth']);
      expect(asked).toEqual(['https://class.example/weights/vgg_normalised.pth']);
    } finally {
      other.close();
    }
  });

  it('serves only manifest names: anything else is 404 and fetches nothing', async () => {
    const before = upstreamHits.length;
    for (const name of [
      'vgg',
      'decoder.pth',
      '..%2F..%2Fetc%2Fpasswd',
      'https%3A%2F%2Fexample.com%2Fx.pth',
      'adain-decoder%2F..%2Fx',
      'ADAIN-DECODER',
    ]) {
      const res = await fetch(`${base}${WEIGHTS_ROUTE}/${name}`);
      expect(res.status, name).toBe(404);
      expect(((await res.json()) as { error: string }).error).toMatch(/in the weights manifest; known: vgg19, /);
    }
    expect(upstreamHits.length).toBe(before);
  });

  it('reports a failed download with the source, and passes other paths on', async () => {
    const res = await fetch(`${base}${WEIGHTS_ROUTE}/resnet50`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toContain(`${host}/mirror/resnet50-0676ba61.pth`);
    expect((await fetch(`${base}/index.html`)).status).toBe(418);
    expect((await fetch(`${base}/__stylegraph/weightsx`)).status).toBe(418);
  });

  it("answers only to this machine's names, IP addresses and the allowed hosts (no DNS rebinding)", () => {
    expect(hostAllowed('localhost:5173', undefined)).toBe(true);
    expect(hostAllowed('127.0.0.1:4173', undefined)).toBe(true);
    expect(hostAllowed('[::1]:5173', undefined)).toBe(true);
    expect(hostAllowed('evil.example:5173', undefined)).toBe(false);
    expect(hostAllowed(undefined, undefined)).toBe(false);
    expect(hostAllowed('class.school.example', ['.school.example'])).toBe(true);
    expect(hostAllowed('school.example.evil', ['.school.example'])).toBe(false);
    expect(hostAllowed('anything', true)).toBe(true);
  });

  it('refuses requests from another site and methods other than GET', async () => {
    expect(
      (await fetch(`${base}${WEIGHTS_ROUTE}/adain-decoder`, { headers: { 'sec-fetch-site': 'cross-site' } })).status,
    ).toBe(403);
    expect((await fetch(`${base}${WEIGHTS_ROUTE}/adain-decoder`, { method: 'POST' })).status).toBe(405);
  });

  it('answers progress for a name (null when nothing is downloading)', async () => {
    const res = await fetch(`${base}${WEIGHTS_ROUTE}/adain-decoder/progress`);
    expect(await res.json()).toBeNull();
  });

  it('shows the server side of a download as progress, and stops fetching when the last page waiting goes away', async () => {
    let upstreamClosed = false;
    const body = files['decoder.pth']!;
    // A host that sends the first half, then stalls.
    const slow = createServer((req, res) => {
      req.on('close', () => (upstreamClosed = true));
      res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
      res.write(body.subarray(0, body.length >> 1));
    });
    const slowBase = await listen(slow);
    const dir = mkdtempSync(join(tmpdir(), 'stylegraph-server-cache-'));
    const middleware = weightsMiddleware({ cacheDir: () => dir, mirror: () => slowBase });
    const server = createServer((req, res) => void middleware(req, res, () => res.writeHead(418).end()));
    const at = await listen(server);
    try {
      const page = new AbortController();
      const pending = fetch(`${at}${WEIGHTS_ROUTE}/adain-decoder`, { signal: page.signal }).catch((e: Error) => e);
      await expect
        .poll(async () => (await fetch(`${at}${WEIGHTS_ROUTE}/adain-decoder/progress`)).json())
        .toEqual({ received: body.length >> 1, total: body.length });
      page.abort();
      expect(await pending).toBeInstanceOf(Error);
      await expect.poll(() => upstreamClosed).toBe(true);
      await expect.poll(async () => (await fetch(`${at}${WEIGHTS_ROUTE}/adain-decoder/progress`)).json()).toBeNull();
      // What came is kept for the next request to resume (the host takes ranges).
      expect(readdirSync(dir).some((f) => f.endsWith('-decoder.pth.part'))).toBe(true);
    } finally {
      slow.closeAllConnections();
      slow.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

/**
 * Folder checkpoints and MicroAST through the editor's server (issue 24): the server fetches a fast style network's
 * files from their paths below the mirror's root into a cached folder and serves each by name; MicroAST's files by
 * their names. Served from ../shared/fixtures, copied into the mirror at test time.
 */
const fixtures = join(new URL('..', import.meta.url).pathname, '../shared/fixtures');
const haveFixtures = existsSync(join(fixtures, 'fast-style-udnie')) && existsSync(join(fixtures, 'microast'));
if (!haveFixtures) console.warn(`skipping the editor server's folder checkpoint tests: ${fixtures} is absent`);

/** The mirror serves udnie's folder at its path below the repository root, and MicroAST's modulator by its name. */
function serveFixtures() {
  for (const f of readdirSync(join(fixtures, 'fast-style-udnie')))
    files[`models/style-transfer/udnie/${f}`] = new Uint8Array(readFileSync(join(fixtures, 'fast-style-udnie', f)));
  files['modulator_iter_160000.pth.tar'] = new Uint8Array(
    readFileSync(join(fixtures, 'microast/modulator_iter_160000.pth.tar')),
  );
}

describe.skipIf(!haveFixtures)('the editor server fetches and serves folder checkpoints and MicroAST', () => {
  beforeAll(serveFixtures);

  it('refuses a folder file before the folder is cached, then fetches the folder and serves each file checked', async () => {
    const early = await fetch(`${base}${WEIGHTS_ROUTE}/fast-style-udnie/files/Variable_1`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: string }).error).toContain('is not cached whole yet');
    const res = await fetch(`${base}${WEIGHTS_ROUTE}/fast-style-udnie`);
    expect(res.status).toBe(200);
    const info = (await res.json()) as WeightsFolderInfo;
    expect(info.folder).toBe(`${host}/mirror/models/style-transfer/udnie/`);
    expect(info.files).toHaveLength(49);
    expect(upstreamHits).toContain('/mirror/models/style-transfer/udnie/Variable_47');
    for (const name of ['manifest.json', 'Variable_12']) {
      const got = new Uint8Array(
        await (await fetch(`${base}${WEIGHTS_ROUTE}/fast-style-udnie/files/${name}`)).arrayBuffer(),
      );
      expect(createHash('sha256').update(got).digest('hex')).toBe(
        manifestEntry('fast-style-udnie')!.files!.find((f) => f.path.endsWith(`/${name}`))!.sha256,
      );
    }
    expect((await fetch(`${base}${WEIGHTS_ROUTE}/fast-style-udnie/files/passwd`)).status).toBe(404);
    expect((await fetch(`${base}${WEIGHTS_ROUTE}/fast-style-udnie/files/..%2Findex.json`)).status).toBe(404);
    const cached = (await listCache(cache)).find((e) => e.name === 'fast-style-udnie')!;
    expect(cached.files).toHaveLength(49);
  });

  it("serves MicroAST's modulator by its file name, checked against its sha256", async () => {
    const res = await fetch(`${base}${WEIGHTS_ROUTE}/microast-modulator`);
    expect(res.status).toBe(200);
    expect(res.headers.get('X-StyleGraph-Source')).toBe(`${host}/mirror/modulator_iter_160000.pth.tar`);
    const got = new Uint8Array(await res.arrayBuffer());
    expect(createHash('sha256').update(got).digest('hex')).toBe(manifestEntry('microast-modulator')!.sha256);
  });

  it('holds a folder file to its size: a mirror serving a longer file is refused with the limit named', async () => {
    const long = new Uint8Array(manifestEntry('fast-style-wave')!.files![0]!.size + 10);
    files['models/style-transfer/wave/manifest.json'] = long;
    const res = await fetch(`${base}${WEIGHTS_ROUTE}/fast-style-wave`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /more than the 4689 bytes \(the size the manifest gives this file\) allowed/,
    );
  });
});

describe.skipIf(!haveFixtures)('the page gets a folder checkpoint (fast style) as one checkpoint', () => {
  beforeAll(serveFixtures);
  it("through the editor's server: each file checked, the network read and kept as safetensors with every variable", async () => {
    const real = globalThis.fetch;
    // The page's fetches are relative to its server.
    vi.stubGlobal('fetch', ((u: string | URL | Request, init?: RequestInit) =>
      real(typeof u === 'string' && u.startsWith('/') ? `${base}${u}` : u, init)) as typeof fetch);
    try {
      vi.resetModules();
      const { fetchCheckpoint } = await import('../src/web/weights');
      const seenProgress: number[] = [];
      const got = await fetchCheckpoint(manifestEntry('fast-style-udnie')!, {
        onProgress: (p) => seenProgress.push(p.received),
      });
      expect(got.source).toBe(`${host}/mirror/models/style-transfer/udnie/ (49 files)`);
      expect(seenProgress.at(-1)).toBe(manifestEntry('fast-style-udnie')!.sizeBytes);
      const dict = readCheckpoint(new Uint8Array(got.bytes));
      expect(dict.size).toBe(48);
      const raw = readFileSync(join(fixtures, 'fast-style-udnie/Variable_47'));
      expect(Array.from(dict.get('Variable_47')!.data)).toEqual(
        Array.from(new Float32Array(raw.buffer, raw.byteOffset, 3)),
      );
      expect(dict.get('Variable')!.shape).toEqual([9, 9, 3, 32]);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("straight from a mirror when there is no editor server, refusing a file that is not the manifest's", async () => {
    const real = globalThis.fetch;
    // No editor server: its info route is not there.
    vi.stubGlobal('fetch', ((u: string | URL | Request, init?: RequestInit) =>
      typeof u === 'string' && u.startsWith('/')
        ? Promise.resolve(new Response('no', { status: 404 }))
        : real(u, init)) as typeof fetch);
    try {
      vi.resetModules();
      const { fetchCheckpoint } = await import('../src/web/weights');
      const got = await fetchCheckpoint(manifestEntry('fast-style-udnie')!, { mirror: `${host}/mirror/` });
      expect(readCheckpoint(new Uint8Array(got.bytes)).size).toBe(48);
      const changed = new Uint8Array(files['models/style-transfer/udnie/Variable_3']!);
      changed[0]! ^= 1;
      files['models/style-transfer/udnie/Variable_3'] = changed;
      await expect(fetchCheckpoint(manifestEntry('fast-style-udnie')!, { mirror: `${host}/mirror/` })).rejects.toThrow(
        /udnie\/Variable_3 does not match the manifest's sha256/,
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
