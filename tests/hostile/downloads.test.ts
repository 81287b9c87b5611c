import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestEntry } from '../../src/models/weights/manifest';
import { runCli } from '../run-cli';

/**
 * The hostile-input corpus, round three (issue 29 item 4): `stylegraph weights fetch` against a mirror that never
 * stops, announces 10 GB, drips a byte at a time, or never answers. Each ends with a message naming the limit, in
 * its own process, killed after `BOUND_MS` (a hang fails the test), and leaves at most the cap on disk.
 */
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-hostile-dl-'));
/** A case that runs longer than this is killed and fails: a hang, not a slow machine (each ends within seconds). */
const BOUND_MS = 60_000;
const decoder = manifestEntry('adain-decoder')!;
/** adain-decoder has no published sha256: its cap is the manifest's size plus 10 %. */
const decoderCap = Math.ceil(decoder.sizeBytes * 1.1);
const modulator = manifestEntry('microast-modulator')!;

let server: Server;
let base = '';
/** Bytes each path's responses sent, and the Range headers asked for. */
const sent = new Map<string, number>();
const ranges: (string | undefined)[] = [];
const timers = new Set<NodeJS.Timeout>();

/** Writes `chunk` until the client goes away or `limit` bytes are out, minding backpressure. */
function endless(res: ServerResponse, key: string, limit: number, chunk = Buffer.alloc(64 * 1024, 7)) {
  let closed = false;
  res.on('close', () => (closed = true));
  const pump = () => {
    while (!closed && (sent.get(key) ?? 0) < limit) {
      sent.set(key, (sent.get(key) ?? 0) + chunk.length);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!closed) res.end();
  };
  pump();
}

/** One byte now and one every `everyMs` until the client goes away. */
function drip(res: ServerResponse, key: string, everyMs: number) {
  const one = () => {
    sent.set(key, (sent.get(key) ?? 0) + 1);
    res.write(Buffer.from([1]));
  };
  one();
  const t = setInterval(one, everyMs);
  timers.add(t);
  res.on('close', () => clearInterval(t));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const [, mode] = /^\/([a-z0-9-]+)\//.exec(req.url ?? '') ?? [];
    const key = mode ?? 'none';
    ranges.push(req.headers.range);
    switch (mode) {
      case 'endless': // no Content-Length, and no end (200 MB at most, so the unbounded code cannot fill the disk)
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return endless(res, key, 200 * 2 ** 20);
      case 'endless-206': // a resume answered from the right offset, then a body with no end
        res.writeHead(206, {
          'content-range': `bytes ${/\d+/.exec(req.headers.range ?? '0')?.[0] ?? 0}-/*`,
          'accept-ranges': 'bytes',
        });
        return endless(res, key, 200 * 2 ** 20);
      case 'huge': // announces 10 GB, sends the first 64 KiB, then holds the connection
        res.writeHead(200, { 'content-length': String(10_000_000_000), 'accept-ranges': 'bytes' });
        sent.set(key, (sent.get(key) ?? 0) + 65536);
        return void res.write(Buffer.alloc(65536, 3));
      case 'drip': // the manifest's length announced, then one byte every 3 s (no Accept-Ranges)
        res.writeHead(200, { 'content-length': String(decoder.sizeBytes) });
        return drip(res, key, 3000);
      case 'trickle': // a byte every 200 ms: never stalls, never finishes
        res.writeHead(200, { 'content-length': String(decoder.sizeBytes), 'accept-ranges': 'bytes' });
        return drip(res, key, 200);
      case 'silent': // takes the request and never answers
        return void req.resume();
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => {
  for (const t of timers) clearInterval(t);
  server.closeAllConnections();
  server.close();
});

interface Ran {
  code: number;
  stderr: string;
  cache: string;
  killed: boolean;
}

function fetchFrom(
  mode: string,
  name: string,
  env: Record<string, string> = {},
  cache = mkdtempSync(join(tmp, 'cache-')),
): Promise<Ran> {
  const {
    STYLEGRAPH_WEIGHTS_MIRROR: _m,
    STYLEGRAPH_DOWNLOAD_MAX_BYTES: _a,
    STYLEGRAPH_DOWNLOAD_DEADLINE_S: _b,
    STYLEGRAPH_DOWNLOAD_STALL_S: _c,
    ...rest
  } = process.env;
  return runCli(['weights', 'fetch', name], {
    timeout: BOUND_MS,
    killSignal: 'SIGKILL',
    env: { ...rest, STYLEGRAPH_CACHE: cache, STYLEGRAPH_WEIGHTS_MIRROR: `${base}/${mode}/`, ...env },
  }).then(({ code, stderr, killed }) => ({ code, stderr, cache, killed }));
}

/** Every file in the cache folder with its size (the .part, the index, a cached file). */
const onDisk = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => ({ f, size: statSync(join(dir, f)).size }))
    : [];
const noStack = (r: Ran) => expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('hostile downloads: weights fetch is bounded (issue 29 item 4)', () => {
  it('stops an endless body at the manifest size (plus 10 % where the size is not from the bytes) and keeps nothing', async () => {
    const r = await fetchFrom('endless', 'adain-decoder');
    expect(r.killed, `did not finish within ${BOUND_MS} ms`).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `the body ran past ${decoderCap} bytes (the manifest's size of adain-decoder plus 10 %); nothing was kept`,
    );
    noStack(r);
    expect(onDisk(r.cache).filter((x) => !x.f.endsWith('index.json') && x.size > 0)).toEqual([]);
    // The server was stopped soon after the cap: not the 200 MB it would have sent.
    expect(sent.get('endless')!).toBeLessThan(decoderCap + 32 * 2 ** 20);
  });

  it('holds a file whose size is known from its bytes to exactly that size (microast-modulator, 12158 bytes)', async () => {
    const r = await fetchFrom('endless', 'microast-modulator');
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `the body ran past ${modulator.sizeBytes} bytes (the size the manifest gives this file)`,
    );
    expect(onDisk(r.cache).filter((x) => !x.f.endsWith('index.json'))).toEqual([]);
  });

  it('stops an endless 206 answer to a resume: the .part plus the body may not pass the cap', async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    // A part left from an earlier attempt at the same URL (its name is the cache's).
    const url = `${base}/endless-206/decoder.pth`;
    writeFileSync(
      join(cache, `${createHash('sha256').update(url).digest('hex').slice(0, 12)}-decoder.pth.part`),
      Buffer.alloc(1000, 9),
    );
    const r = await fetchFrom('endless-206', 'adain-decoder', {}, cache);
    expect(r.killed).toBe(false);
    expect(ranges).toContain('bytes=1000-');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the body ran past ${decoderCap} bytes`);
    expect(onDisk(cache).filter((x) => x.f.endsWith('.part'))).toEqual([]);
  });

  it('refuses a 10 GB Content-Length before reading the body', async () => {
    const r = await fetchFrom('huge', 'adain-decoder');
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `refused before reading: the server announces 10000000000 bytes (Content-Length), more than the ${decoderCap} bytes (the manifest's size of adain-decoder plus 10 %) allowed`,
    );
    expect(onDisk(r.cache).filter((x) => x.f.endsWith('.part'))).toEqual([]);
    noStack(r);
  });

  it('refuses a Content-Length above STYLEGRAPH_DOWNLOAD_MAX_BYTES for a plain URL (run --weights NAME=URL)', async () => {
    const { cachedDownload } = await import('../../src/cli/weights/weights-cache');
    const dir = mkdtempSync(join(tmp, 'plain-'));
    await expect(
      cachedDownload(`${base}/huge/anything.pth`, dir, {
        limits: { maxBytes: 1_000_000, maxFrom: 'STYLEGRAPH_DOWNLOAD_MAX_BYTES' },
      }),
    ).rejects.toThrow(
      'the server announces 10000000000 bytes (Content-Length), more than the 1000000 bytes (STYLEGRAPH_DOWNLOAD_MAX_BYTES) allowed',
    );
    await expect(
      cachedDownload(`${base}/endless/anything.pth`, dir, {
        limits: { maxBytes: 1_000_000, maxFrom: 'STYLEGRAPH_DOWNLOAD_MAX_BYTES' },
      }),
    ).rejects.toThrow('the body ran past 1000000 bytes (STYLEGRAPH_DOWNLOAD_MAX_BYTES); nothing was kept');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('ends a download that drips a byte every 3 s at the stall timeout, and keeps nothing where the server does not resume', async () => {
    const r = await fetchFrom('drip', 'adain-decoder', { STYLEGRAPH_DOWNLOAD_STALL_S: '1' });
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /download of .*\/drip\/decoder\.pth stopped after 0\.0 MiB of 13\.4 MiB: no data came for 1 s, the stall timeout \(STYLEGRAPH_DOWNLOAD_STALL_S\); nothing was kept \(the server does not resume downloads\)/,
    );
    expect(onDisk(r.cache).filter((x) => x.f.endsWith('.part'))).toEqual([]);
    noStack(r);
  });

  it('ends a download that trickles forever at the deadline, keeping the part where the server takes ranges', async () => {
    const r = await fetchFrom('trickle', 'adain-decoder', {
      STYLEGRAPH_DOWNLOAD_STALL_S: '1',
      STYLEGRAPH_DOWNLOAD_DEADLINE_S: '2',
    });
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /stopped after .*: it did not finish within 2 s, the download deadline \(STYLEGRAPH_DOWNLOAD_DEADLINE_S\); the part kept resumes when you run the same command again/,
    );
    const parts = onDisk(r.cache).filter((x) => x.f.endsWith('.part'));
    expect(parts).toHaveLength(1);
    expect(parts[0]!.size).toBeGreaterThan(0);
    expect(parts[0]!.size).toBeLessThan(100);
  });

  it('ends a request the server never answers at the stall timeout', async () => {
    const r = await fetchFrom('silent', 'microast-decoder', { STYLEGRAPH_DOWNLOAD_STALL_S: '1' });
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'stopped after 0.0 MiB: no data came for 1 s, the stall timeout (STYLEGRAPH_DOWNLOAD_STALL_S); nothing was kept',
    );
  });

  it('holds every file of a folder checkpoint to its exact size (fast-style-wave from an endless mirror)', async () => {
    const r = await fetchFrom('endless', 'fast-style-wave');
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /endless\/models\/style-transfer\/wave\/manifest\.json stopped: the body ran past 4689 bytes \(the size the manifest gives this file\)/,
    );
  });
});
