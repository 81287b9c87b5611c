import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedDownload, clearCache, listCache, type Progress } from '../src/cli/weights/weights-cache';
import { MANIFEST, zManifest } from '../src/models/weights/manifest';
import raw from '../src/models/weights/manifest.json';
import { readFixture } from './parity';

const body = readFixture('decoder-tiny.pth');
const digest = createHash('sha256').update(body).digest('hex');
let server: Server;
let base = '';
const requests: { url: string; range?: string }[] = [];

beforeAll(async () => {
  // A local server with Range support, standing in for a checkpoint host.
  server = createServer((req, res) => {
    requests.push({ url: req.url!, range: req.headers.range });
    if (req.url === '/missing.pth') return res.writeHead(404).end();
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    if (m && req.url === '/decoder.pth') {
      const start = Number(m[1]);
      res.writeHead(206, {
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
      return res.end(body.subarray(start));
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

const freshDir = () => mkdtempSync(join(tmpdir(), 'stylegraph-cache-'));

describe('weight cache', () => {
  it('downloads with progress, records a checksum, then serves from the cache', async () => {
    const dir = freshDir();
    const progress: Progress[] = [];
    const path = await cachedDownload(`${base}/decoder.pth`, dir, { onProgress: (p) => progress.push(p) });
    expect(new Uint8Array(readFileSync(path))).toEqual(body);
    expect(progress.at(-1)).toEqual({ received: body.length, total: body.length });
    expect((await listCache(dir))[0]).toMatchObject({ url: `${base}/decoder.pth`, size: body.length, sha256: digest });
    const before = requests.length;
    expect(await cachedDownload(`${base}/decoder.pth`, dir)).toBe(path);
    expect(requests.length).toBe(before);
    expect(await clearCache(dir)).toBe(1);
    expect(existsSync(path)).toBe(false);
  });

  it('resumes a partial download with a Range request', async () => {
    const dir = freshDir();
    const url = `${base}/decoder.pth`;
    const file = `${createHash('sha256').update(url).digest('hex').slice(0, 12)}-decoder.pth`;
    writeFileSync(join(dir, `${file}.part`), body.subarray(0, 1000));
    const path = await cachedDownload(url, dir, { sha256: digest });
    expect(requests.at(-1)!.range).toBe('bytes=1000-');
    expect(new Uint8Array(readFileSync(path))).toEqual(body);
  });

  it('deletes a download whose checksum does not match', async () => {
    const dir = freshDir();
    await expect(cachedDownload(`${base}/other.pth`, dir, { sha256: '0'.repeat(64) })).rejects.toThrow(
      /does not match its checksum/,
    );
    expect(await listCache(dir)).toEqual([]);
  });

  it('reports HTTP errors', async () => {
    await expect(cachedDownload(`${base}/missing.pth`, freshDir())).rejects.toThrow(/HTTP 404/);
  });
});

describe('weights manifest', () => {
  it('validates and names each published checkpoint once', () => {
    expect(zManifest.safeParse(raw).success).toBe(true);
    const names = MANIFEST.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining(['vgg19', 'vgg_normalised', 'adain-decoder', 'sanet-transformer', 'sanet-decoder']),
    );
  });
});
