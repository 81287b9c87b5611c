import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedDownload, describeFetchError, listCache } from '../src/cli/weights/weights-cache';
import { closestName } from '../src/cli/weights/weights-fetch';
import { configuredWeightsMirror } from '../src/cli/security/plugins';
import { trustConfig } from '../src/cli/security/trust';
import { hashPrefix, manifestEntry, weightsUrl } from '../src/models/weights/manifest';
import { readCheckpoint } from '../src/models/weights/read';
import { writeSafetensors } from '../src/models/weights/safetensors';
import type { RunReport } from '../src/runtime/report';
import { readFixture } from './parity';
import { runCli } from './run-cli';

/**
 * `stylegraph weights fetch` against a loopback server that stands in for a mirror of the checkpoint hosts: it
 * sends no CORS headers (the CLI does not need them), can cut a download halfway, and serves a corrupted file
 * under a torchvision-style name whose hash prefix it cannot match.
 */
const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-fetch-'));
// A document reads only files in its own folder (docs/security.md): documents written here get the sample images beside them.
cpSync(join(root, 'presets/images'), join(tmp, 'images'), { recursive: true });
const vgg = readFixture('vgg_normalised-tiny.pth');
const decoder = readFixture('decoder-tiny.pth');
const corrupted = new Uint8Array(randomBytes(4096));
const files: Record<string, Uint8Array> = {
  'vgg_normalised.pth': vgg,
  'decoder.pth': decoder,
  'vgg19-dcbb9e9d.pth': corrupted,
};

let server: Server;
let mirror = '';
const seen: { path: string; range: string | undefined; headers: IncomingHttpHeaders }[] = [];
const responses: Record<string, string | number | string[] | undefined>[] = [];
/** File name -> bytes to send before destroying the socket, once. */
const cut = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    seen.push({ path, range: req.headers.range, headers: req.headers });
    const name = path.replace(/^\/mirror\//, '');
    const body = path.startsWith('/mirror/') ? files[name] : undefined;
    if (!body) return res.writeHead(404).end();
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const headers = m
      ? {
          'content-length': body.length - start,
          'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
          'accept-ranges': 'bytes',
        }
      : { 'content-length': body.length, 'accept-ranges': 'bytes' };
    res.writeHead(m ? 206 : 200, headers);
    responses.push(res.getHeaders());
    const stopAt = cut.get(name);
    if (stopAt !== undefined) {
      cut.delete(name);
      // Half the file, then the connection drops.
      res.write(body.subarray(start, stopAt), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  mirror = `http://127.0.0.1:${(server.address() as { port: number }).port}/mirror`;
});
afterAll(() => server.close());

function cli(
  cache: string,
  args: string[],
  env: Record<string, string> = { STYLEGRAPH_WEIGHTS_MIRROR: mirror },
  cwd = root,
) {
  const { STYLEGRAPH_WEIGHTS_MIRROR: _, ...rest } = process.env;
  return runCli(args, { cwd, env: { ...rest, STYLEGRAPH_CACHE: cache, ...env } });
}

const freshCache = () => mkdtempSync(join(tmp, 'cache-'));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const requestsFor = (file: string) => seen.filter((s) => s.path === `/mirror/${file}`);

describe('weights fetch from a mirror without CORS headers', () => {
  const cache = freshCache();

  it('fetches by name from the mirror, says where from, and caches it', async () => {
    const r = await cli(cache, ['weights', 'fetch', 'vgg_normalised']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `vgg_normalised: from ${mirror}/vgg_normalised.pth (mirror, set by STYLEGRAPH_WEIGHTS_MIRROR)`,
    );
    expect(r.stderr).toMatch(/downloading vgg_normalised .*\(100%\)/);
    expect(responses.every((h) => !Object.keys(h).some((k) => k.startsWith('access-control-')))).toBe(true);
    const [entry] = await listCache(cache);
    expect(entry).toMatchObject({
      name: 'vgg_normalised',
      url: `${mirror}/vgg_normalised.pth`,
      size: vgg.length,
      sha256: sha(vgg),
    });
    expect(new Uint8Array(readFileSync(join(cache, entry!.file)))).toEqual(vgg);
  });

  it('fetches what a graph needs (--for), skipping what is cached; known and list say what is there', async () => {
    const before = requestsFor('vgg_normalised.pth').length;
    const r = await cli(cache, ['weights', 'fetch', '--for', 'presets/adain.json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/vgg_normalised: already cached: .*vgg_normalised\.pth/);
    expect(r.stderr).toContain(`adain-decoder: from ${mirror}/decoder.pth`);
    expect(requestsFor('vgg_normalised.pth').length).toBe(before);
    expect(requestsFor('decoder.pth').length).toBe(1);
    const known = await cli(cache, ['weights', 'known']);
    expect(known.stdout).toMatch(/^vgg_normalised\s+cached /m);
    expect(known.stdout).toMatch(/^adain-decoder\s+cached /m);
    expect(known.stdout).toMatch(/^vgg19\s{2,}vgg19 \(torchvision\)/m);
    expect(known.stdout).toContain(`downloads come from the mirror ${mirror}`);
    const list = await cli(cache, ['weights', 'list']);
    expect(list.stdout).toMatch(/^adain-decoder .*decoder\.pth/m);
  });

  it('runs the graph with the cached weights and no --weights, naming the files', async () => {
    const report = join(tmp, 'cached.json');
    const r = await cli(cache, [
      'run',
      'presets/adain.json',
      '--size',
      '32',
      '--out',
      join(tmp, 'cached.png'),
      '--report',
      report,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /weights vgg_normalised: \d+ tensors from .*vgg_normalised\.pth \(cached\); a reduced-width VGG19 \(32 channels at relu5_1 where VGG19 has 512\)/,
    );
    const lines = (JSON.parse(readFileSync(report, 'utf8')) as RunReport).weights.map((w) => w.weights);
    expect(lines).toContain(
      `VGG19 normalised: vgg_normalised from ${join(cache, (await listCache(cache)).find((e) => e.name === 'vgg_normalised')!.file)}`,
    );
    expect(lines).toContain(
      `Decoder: adain-decoder from ${join(cache, (await listCache(cache)).find((e) => e.name === 'adain-decoder')!.file)}`,
    );
    expect(r.stderr).toMatch(/weights for decoder: Decoder: adain-decoder from .*decoder\.pth/);
    expect(r.stderr).not.toMatch(/random/);

    // The same run without the cache: random networks, and the last line says which and how to get them.
    const bare = await cli(freshCache(), [
      'run',
      'presets/adain.json',
      '--size',
      '32',
      '--out',
      join(tmp, 'random.png'),
    ]);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stderr.trim().split('\n').at(-1)).toBe(
      'warning: random weights for vgg_normalised (enc_content, enc_style), adain-decoder (decoder), so this is not the trained ' +
        "network's picture; get them with: stylegraph weights fetch --for presets/adain.json",
    );
    expect(readFileSync(join(tmp, 'random.png')).equals(readFileSync(join(tmp, 'cached.png')))).toBe(false);
  });

  it('uses the cached weights in a sweep too (one load for every cell)', async () => {
    const doc = JSON.parse(readFileSync(join(root, 'presets/adain.json'), 'utf8'));
    doc.metadata.sweep = {
      columns: [
        { label: 'a', set: { 'adain.alpha': 0.5 } },
        { label: 'b', set: { 'adain.alpha': 1 } },
      ],
    };
    const path = join(tmp, 'sweep.json');
    writeFileSync(path, JSON.stringify(doc));
    const report = join(tmp, 'sweep-report.json');
    const r = await cli(cache, ['run', path, '--size', '24', '--out', join(tmp, 'sheet.png'), '--report', report]);
    expect(r.code, r.stderr).toBe(0);
    for (const cell of JSON.parse(readFileSync(report, 'utf8')).cells as RunReport[])
      expect(cell.weights.map((w) => w.weights).join('\n')).not.toMatch(/random/);
  });
});

describe('weights fetch: interrupted and corrupted downloads', () => {
  it('keeps the .part of a download cut halfway and resumes it with a Range request', async () => {
    const cache = freshCache();
    cut.set('decoder.pth', 20000);
    const first = await cli(cache, ['weights', 'fetch', 'adain-decoder']);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(
      /adain-decoder: download of .*decoder\.pth was cut off after .*run the same command again to resume/,
    );
    const part = readdirSync(cache).find((f) => f.endsWith('.part'))!;
    const have = statSync(join(cache, part)).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThanOrEqual(20000);
    expect(await listCache(cache)).toEqual([]);

    const second = await cli(cache, ['weights', 'fetch', 'adain-decoder']);
    expect(second.code, second.stderr).toBe(0);
    expect(requestsFor('decoder.pth').at(-1)!.range).toBe(`bytes=${have}-`);
    const [entry] = await listCache(cache);
    expect(entry!.sha256).toBe(sha(decoder));
    expect(new Uint8Array(readFileSync(join(cache, entry!.file)))).toEqual(decoder);
    expect(readdirSync(cache).some((f) => f.endsWith('.part'))).toBe(false);
  });

  it('refuses a file whose hash does not start with the digits in its name, and keeps nothing', async () => {
    const entry = manifestEntry('vgg19')!;
    expect(hashPrefix(entry)).toBe('dcbb9e9d');
    expect(weightsUrl(entry, mirror)).toBe(`${mirror}/vgg19-dcbb9e9d.pth`);
    const cache = freshCache();
    const r = await cli(cache, ['weights', 'fetch', 'vgg19']);
    expect(r.code).toBe(1);
    expect(requestsFor('vgg19-dcbb9e9d.pth').length).toBeGreaterThan(0);
    expect(r.stderr).toContain(
      `does not match its checksum (sha256 ${sha(corrupted)}, expected dcbb9e9d… (the first digits, from the file name)); it was deleted`,
    );
    expect(await listCache(cache)).toEqual([]);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('checks a hash prefix on download and on every later use of the cache', async () => {
    const dir = freshCache();
    const url = `${mirror}/decoder.pth`;
    await expect(cachedDownload(url, dir, { hashPrefix: sha(decoder).slice(0, 8) })).resolves.toMatch(/decoder\.pth$/);
    const before = requestsFor('decoder.pth').length;
    // A cached file that does not match what is now expected is fetched again (and refused).
    await expect(cachedDownload(url, dir, { hashPrefix: '00000000' })).rejects.toThrow(/does not match its checksum/);
    expect(requestsFor('decoder.pth').length).toBe(before + 1);
  });

  it('refuses names the manifest does not know, with the closest one', async () => {
    const r = await cli(freshCache(), ['weights', 'fetch', 'decoder']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"decoder" is not in the weights manifest \(did you mean adain-decoder\?\)/);
  });
});

describe('mirror settings', () => {
  it('reads STYLEGRAPH_WEIGHTS_MIRROR first, then weightsMirror in a stylegraph.config.json the user trusts', async () => {
    const dir = mkdtempSync(join(tmp, 'config-'));
    const env = { STYLEGRAPH_CONFIG_DIR: join(dir, 'trust') };
    const config = join(dir, 'stylegraph.config.json');
    writeFileSync(config, JSON.stringify({ weightsMirror: 'https://school.example/weights/' }));
    // Untrusted (a downloaded lesson folder): its mirror is not used, and the notice says how to trust it.
    const notices: string[] = [];
    expect(await configuredWeightsMirror(dir, undefined, env, (l) => notices.push(l))).toBeNull();
    expect(notices).toEqual([
      expect.stringMatching(/is not trusted; its weights mirror skipped\. Read it, then run: stylegraph trust /),
    ]);
    await trustConfig(config, env);
    expect(await configuredWeightsMirror(dir, undefined, env)).toEqual({
      url: 'https://school.example/weights/',
      from: config,
    });
    expect(
      await configuredWeightsMirror(dir, undefined, { ...env, STYLEGRAPH_WEIGHTS_MIRROR: 'http://x.example/w' }),
    ).toEqual({ url: 'http://x.example/w', from: 'STYLEGRAPH_WEIGHTS_MIRROR' });
    writeFileSync(config, JSON.stringify({ weightsMirror: 'ftp://nope' }));
    await trustConfig(config, env);
    await expect(configuredWeightsMirror(dir, undefined, env)).rejects.toThrow(/must be an http\(s\) URL/);
  });

  it('fetches from the configured mirror when the environment names none', async () => {
    const dir = mkdtempSync(join(tmp, 'config-'));
    writeFileSync(join(dir, 'stylegraph.config.json'), JSON.stringify({ weightsMirror: `${mirror}/` }));
    const trusted = { STYLEGRAPH_CONFIG_DIR: join(dir, 'trust') };
    expect((await cli(freshCache(), ['trust', join(dir, 'stylegraph.config.json')], trusted, dir)).code).toBe(0);
    const r = await cli(freshCache(), ['weights', 'fetch', 'adain-decoder'], trusted, dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `adain-decoder: from ${mirror}/decoder.pth (mirror, set by ${join(dir, 'stylegraph.config.json')})`,
    );
  });
});

describe('run: weights given by name, shapes, dropped images', () => {
  it('refuses a --weights name no node uses, naming the used ones and the closest', async () => {
    const r = await cli(freshCache(), [
      'run',
      'presets/adain.json',
      '--size',
      '32',
      '--weights',
      'decoder=tests/fixtures/decoder-tiny.pth',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '--weights decoder: no node of presets/adain.json uses weights named "decoder"; did you mean adain-decoder?',
    );
    expect(r.stderr).toContain('presets/adain.json uses: vgg_normalised, adain-decoder');
    expect(closestName('vgg-normalised', ['vgg_normalised', 'adain-decoder'])).toBe('vgg_normalised');
    expect(closestName('resnet', ['vgg_normalised', 'adain-decoder'])).toBeNull();
  });

  it('refuses a checkpoint whose layer does not fit, with the layer, the expected and the found shape', async () => {
    const dict = readCheckpoint(decoder);
    const w = dict.get('11.weight')!;
    dict.set('11.weight', {
      shape: [w.shape[0]!, w.shape[1]! + 1, 3, 3],
      data: new Float32Array(w.shape[0]! * (w.shape[1]! + 1) * 9),
    });
    const path = join(tmp, 'bad-decoder.safetensors');
    writeFileSync(path, writeSafetensors(dict));
    const r = await cli(freshCache(), [
      'run',
      'presets/adain.json',
      '--size',
      '32',
      '--out',
      join(tmp, 'x.png'),
      '--weights',
      'vgg_normalised=tests/fixtures/vgg_normalised-tiny.pth',
      '--weights',
      `adain-decoder=${path}`,
    ]);
    expect(r.code).toBe(2); // bad input: the checkpoint does not fit (issue 16)
    expect(r.stderr).toContain(
      `does not fit the network: first mismatch at layer "11.weight": expected [${w.shape.join(', ')}], found [${w.shape[0]}, ${w.shape[1]! + 1}, 3, 3]`,
    );

    // A reduced-width decoder after a full-width (here random) encoder: the first layer, both shapes.
    const narrow = await cli(freshCache(), [
      'run',
      'presets/adain.json',
      '--size',
      '32',
      '--out',
      join(tmp, 'y.png'),
      '--weights',
      'adain-decoder=tests/fixtures/decoder-tiny.pth',
    ]);
    expect(narrow.code).toBe(2);
    expect(narrow.stderr).toMatch(
      /first mismatch at layer "1\.weight": expected \[256, 512, 3, 3\] for the encoder's 512-channel relu4_1 features, found \[\d+, \d+, 3, 3\]/,
    );
  });

  it('explains an image dropped in a browser instead of "no such file"', async () => {
    const doc = JSON.parse(readFileSync(join(root, 'presets/adain.json'), 'utf8'));
    doc.nodes.find((n: { id: string }) => n.id === 'style').params.source = 'upload:0a1b2c3d4e5f/starry_night.jpg';
    const path = join(tmp, 'uploaded.json');
    writeFileSync(path, JSON.stringify(doc));
    const r = await cli(freshCache(), ['run', path, '--size', '32']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('node "style": its image "starry_night.jpg" was dropped into the editor in a browser');
    expect(r.stderr).toContain('--style IMAGE or --set style.source=PATH');
    expect(r.stderr).not.toMatch(/no such file/);
    // Given the image on the command line, the same document runs.
    const ok = await cli(freshCache(), [
      'run',
      path,
      '--size',
      '24',
      '--style',
      'presets/images/swirls.jpg',
      '--out',
      join(tmp, 'z.png'),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(join(tmp, 'z.png'))).toBe(true);
  });
});

/**
 * The small real networks through a mirror (issue 24): MicroAST's four files by their names, and a fast style
 * network's folder with each file at its path below the repository root, served from ../shared/fixtures.
 */
const fixtures = join(root, '../shared/fixtures');
const haveFixtures = existsSync(join(fixtures, 'microast')) && existsSync(join(fixtures, 'fast-style-wave'));
if (!haveFixtures)
  console.warn(
    `skipping the MicroAST and fast style mirror tests: ${fixtures} is absent (a clone without shared/ beside it)`,
  );

describe.skipIf(!haveFixtures)(
  'weights fetch --for presets/microast.json and presets/fast-style.json through a mirror',
  () => {
    const cache = freshCache();
    beforeAll(() => {
      for (const f of readdirSync(join(fixtures, 'microast')))
        files[f] = new Uint8Array(readFileSync(join(fixtures, 'microast', f)));
      for (const f of readdirSync(join(fixtures, 'fast-style-wave')))
        files[`models/style-transfer/wave/${f}`] = new Uint8Array(readFileSync(join(fixtures, 'fast-style-wave', f)));
    });

    it("fetches MicroAST's four checkpoints by their file names, each checked against its sha256", async () => {
      const r = await cli(cache, ['weights', 'fetch', '--for', 'presets/microast.json']);
      expect(r.code, r.stderr).toBe(0);
      for (const part of ['content-encoder', 'style-encoder', 'modulator', 'decoder']) {
        const entry = manifestEntry(`microast-${part}`)!;
        const file = part.replace('-', '_');
        expect(r.stderr).toContain(`microast-${part}: from ${mirror}/${file}_iter_160000.pth.tar (mirror`);
        expect(r.stderr).toMatch(new RegExp(`microast-${part}: .*${file}_iter_160000\\.pth\\.tar, sha256 checked`));
        const cached = (await listCache(cache)).find((e) => e.name === entry.name)!;
        expect(cached.sha256).toBe(entry.sha256);
        expect(cached.size).toBe(entry.sizeBytes);
      }
    });

    it('fetches a fast style network as a folder, each file from its path below the repository root, and runs the preset with it', async () => {
      const r = await cli(cache, ['weights', 'fetch', '--for', 'presets/fast-style.json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(
        `fast-style-wave: from ${mirror}/models/style-transfer/wave/ (mirror, set by STYLEGRAPH_WEIGHTS_MIRROR), about 6.4 MiB, 49 files`,
      );
      expect(r.stderr).toMatch(/fast-style-wave: .*-wave, 49 files, each checked against its size and sha256/);
      expect(requestsFor('models/style-transfer/wave/Variable_47')).toHaveLength(1);
      const entry = (await listCache(cache)).find((e) => e.name === 'fast-style-wave')!;
      expect(entry.files).toHaveLength(49);
      for (const f of manifestEntry('fast-style-wave')!.files!)
        expect(readFileSync(join(cache, entry.file, f.path.split('/').at(-1)!)).length).toBe(f.size);
      // Known and cached: a second fetch asks for nothing.
      const before = seen.length;
      const again = await cli(cache, ['weights', 'fetch', 'fast-style-wave']);
      expect(again.stderr).toMatch(/fast-style-wave: already cached: .*-wave/);
      expect(seen.length).toBe(before);
      const report = join(tmp, 'fast-style.json');
      const run = await cli(cache, [
        'run',
        'presets/fast-style.json',
        '--size',
        '32',
        '--out',
        join(tmp, 'fast-style.png'),
        '--report',
        report,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/random weights/);
      expect(JSON.stringify((JSON.parse(readFileSync(report, 'utf8')) as RunReport).weights)).toContain(
        join(cache, entry.file),
      );
    });

    it('notices a file missing from a cached folder and fetches that file again, not the others', async () => {
      const entry = (await listCache(cache)).find((e) => e.name === 'fast-style-wave')!;
      const { rmSync } = await import('node:fs');
      rmSync(join(cache, entry.file, 'Variable_3'));
      const before = requestsFor('models/style-transfer/wave/Variable_3').length;
      const r = await cli(cache, ['weights', 'fetch', 'fast-style-wave']);
      expect(r.code, r.stderr).toBe(0);
      expect(requestsFor('models/style-transfer/wave/Variable_3')).toHaveLength(before + 1);
      // The other files were whole and matched their sha256: not asked for again.
      expect(requestsFor('models/style-transfer/wave/Variable_47')).toHaveLength(1);
    });
  },
);

describe('weights fetch: a download that cannot start says what failed and what to do (issue 28)', () => {
  it('names a refused connection and the ways around it, not just "fetch failed"', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const r = await cli(freshCache(), ['weights', 'fetch', 'adain-decoder'], {
      STYLEGRAPH_WEIGHTS_MIRROR: `http://127.0.0.1:${port}/w/`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/fetch failed\s*$/m);
    expect(r.stderr).toContain(
      `download of http://127.0.0.1:${port}/w/decoder.pth failed: 127.0.0.1:${port} refused the connection (ECONNREFUSED): nothing listens there`,
    );
    expect(r.stderr).toContain(
      `to get adain-decoder another way: check the mirror (http://127.0.0.1:${port}/w/, set by STYLEGRAPH_WEIGHTS_MIRROR), or download ${manifestEntry('adain-decoder')!.url} elsewhere and give it to run with --weights adain-decoder=FILE`,
    );
  });

  it('names an HTTP status, with the same advice', async () => {
    const r = await cli(freshCache(), ['weights', 'fetch', 'sanet-decoder']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `download of ${mirror}/decoder_iter_500000.pth failed: HTTP 404 Not Found; to get sanet-decoder another way`,
    );
  });

  it('tells DNS, timeouts and TLS apart in what fetch leaves in its cause', () => {
    const failed = (code: string, message = 'x') =>
      Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(message), { code }) });
    const url = 'https://weights.example:8443/a.pth';
    expect(describeFetchError(failed('ENOTFOUND'), url)).toBe(
      'the name weights.example could not be resolved (DNS: ENOTFOUND); is this machine offline, or the name mistyped?',
    );
    expect(describeFetchError(failed('EAI_AGAIN'), url)).toMatch(
      /^the name weights\.example could not be resolved \(DNS: EAI_AGAIN\)/,
    );
    expect(describeFetchError(failed('UND_ERR_CONNECT_TIMEOUT'), url)).toBe(
      'the connection to weights.example:8443 timed out (UND_ERR_CONNECT_TIMEOUT)',
    );
    expect(describeFetchError(failed('ENETUNREACH'), url)).toBe(
      'no route to weights.example:8443 (ENETUNREACH); is this machine offline?',
    );
    expect(describeFetchError(failed('CERT_HAS_EXPIRED', 'certificate has expired'), url)).toBe(
      'the TLS (https) connection to weights.example:8443 failed (CERT_HAS_EXPIRED: certificate has expired); a proxy that rewrites https, or a wrong clock?',
    );
    // A plain error (Node's http, as the address guard uses) carries the code itself.
    expect(describeFetchError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), url)).toBe(
      'weights.example:8443 refused the connection (ECONNREFUSED): nothing listens there',
    );
  });

  it('keeps no .part of a cut download when the server does not take ranges', async () => {
    const plain = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': decoder.length });
      res.write(decoder.subarray(0, 5000), () => setTimeout(() => res.socket?.destroy(), 50));
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const dir = freshCache();
    const at = `http://127.0.0.1:${(plain.address() as { port: number }).port}/decoder.pth`;
    await expect(cachedDownload(at, dir)).rejects.toThrow(
      /was cut off after .*nothing was kept \(the server does not resume downloads\)/,
    );
    expect(readdirSync(dir)).toEqual([]);
    plain.close();
  });
});
