import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSource } from '../src/cli/node/node-images';
import { documentAccess } from '../src/cli/node/node-session';
import { loadTfjsModelFrom } from '../src/cli/node/node-tfjs-model';
import { readJobSource } from '../src/cli/queue/worker';
import { documentSourceAccess, privateAddress, sourceProblem } from '../src/cli/security/source-access';
import { tf } from './helpers';
import { ownCacheAndConfig, runCli } from './run-cli';

/**
 * Documents never widen access (issue 16, docs/security.md): a document's sources stay in its folder and are
 * regular files; remote sources need consent, private addresses a flag of their own; what the user gives on the
 * command line is read. A loopback server counts every request that reaches it.
 */
const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-hostile-'));
const folder = join(tmp, 'lesson');
const elsewhere = join(tmp, 'elsewhere');
const astronaut = join(root, 'presets/images/astronaut.jpg');
let server: Server;
let port = 0;
let requests: string[] = [];

beforeAll(async () => {
  mkdirSync(join(folder, 'images'), { recursive: true });
  mkdirSync(elsewhere, { recursive: true });
  for (const n of ['astronaut.jpg', 'mosaic.jpg', 'swirls.jpg', 'chelsea.jpg', 'brick.jpg'])
    copyFileSync(join(root, 'presets/images', n), join(folder, 'images', n));
  copyFileSync(astronaut, join(elsewhere, 'photo.jpg'));
  symlinkSync(join(elsewhere, 'photo.jpg'), join(folder, 'out-link.jpg'));
  symlinkSync('/proc/self/environ', join(folder, 'environ.jpg'));
  symlinkSync('/dev/zero', join(folder, 'zero.jpg'));
  symlinkSync(join(folder, 'images', 'astronaut.jpg'), join(folder, 'in-link.jpg'));
  execFileSync('mkfifo', [join(folder, 'pipe.jpg')]);
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.setHeader('content-type', 'image/jpeg');
    res.end(readFileSync(astronaut));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** A copy of the Gatys preset in the lesson folder whose content image is `source`. */
function doc(name: string, source: string): string {
  const d = JSON.parse(readFileSync(join(root, 'presets/gatys.json'), 'utf8')) as {
    nodes: { id: string; params: Record<string, unknown> }[];
  };
  d.nodes.find((n) => n.id === 'content')!.params.source = source;
  const path = join(folder, name);
  writeFileSync(path, JSON.stringify(d));
  return path;
}

const cli = (...args: string[]) => runCli(args, { timeout: 60_000, env: ownCacheAndConfig(tmp) });

const refusedBy = async (source: string) => {
  const access = documentAccess(join(folder, 'doc.json'));
  return access.decode(source).then(
    () => 'read',
    (e: Error) => e.message,
  );
};

describe('a document reads only regular files in its own folder', () => {
  it('reads its own images, also through a link that stays in the folder', async () => {
    expect(await refusedBy('images/astronaut.jpg')).toBe('read');
    expect(await refusedBy('in-link.jpg')).toBe('read');
    expect(await refusedBy(join(folder, 'images/astronaut.jpg'))).toBe('read');
  });

  it('refuses /etc/passwd, ../, /proc/self/environ, a link out of the folder, /dev/zero and a FIFO, each saying why', async () => {
    expect(await refusedBy('/etc/passwd')).toMatch(
      /\/etc\/passwd: not read: an absolute path outside the document's folder .*--content/,
    );
    expect(await refusedBy('/proc/self/environ')).toMatch(/not read: an absolute path outside the document's folder/);
    expect(await refusedBy('../elsewhere/photo.jpg')).toMatch(/not read: a path outside the document's folder/);
    expect(await refusedBy('images/../../elsewhere/photo.jpg')).toMatch(/outside the document's folder/);
    expect(await refusedBy('out-link.jpg')).toMatch(
      /out-link.jpg: not read: it links to .*elsewhere\/photo.jpg, outside the document's folder/,
    );
    expect(await refusedBy('environ.jpg')).toMatch(/environ.jpg: not read: it links to \/proc\/\d+\/environ, outside/);
    expect(await refusedBy('zero.jpg')).toMatch(/zero.jpg: not read: it links to \/dev\/zero, outside/);
    expect(await refusedBy('file:///etc/passwd')).toMatch(/only file paths, http\(s\) and data: URLs/);
  });

  it('never opens a FIFO (no hang) and never reads a device, even when the user names it', async () => {
    const started = Date.now();
    expect(await refusedBy('pipe.jpg')).toMatch(
      /pipe.jpg: not read: .*pipe.jpg is a FIFO \(named pipe\), not an image or model file/,
    );
    const rss = process.memoryUsage().rss;
    const given = documentAccess(join(folder, 'doc.json'), {
      given: ['/dev/zero', join(folder, 'pipe.jpg'), '/proc/self/environ'],
    });
    expect(await given.decode('/dev/zero').catch((e: Error) => e.message)).toMatch(
      /\/dev\/zero is a device, not an image or model file/,
    );
    expect(await given.decode(join(folder, 'pipe.jpg')).catch((e: Error) => e.message)).toMatch(/is a FIFO/);
    expect(await given.decode('/proc/self/environ').catch((e: Error) => e.message)).toMatch(/is a kernel file/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
    expect(Date.now() - started).toBeLessThan(5000);
  }, 10_000);

  it('reads a file outside the folder that the user gave on the command line', async () => {
    const given = documentAccess(join(folder, 'doc.json'), { given: [join(elsewhere, 'photo.jpg'), '/etc/passwd'] });
    expect((await given.decode(join(elsewhere, 'photo.jpg'))).width).toBeGreaterThan(0);
    expect(await given.decode('/etc/passwd').catch((e: Error) => e.message)).toMatch(/is not a PNG or JPEG/);
  });

  it("lists a training folder inside the document's folder, or one the user gave (--set NODE.folder=...), and reads its photos", async () => {
    const own = documentAccess(join(folder, 'doc.json'));
    expect((await own.listImages('images')).length).toBeGreaterThan(1);
    await expect(own.listImages('../elsewhere')).rejects.toThrow(/not read: a path outside the document's folder/);
    await expect(own.listImages(elsewhere)).rejects.toThrow(/an absolute path outside the document's folder/);
    const given = documentAccess(join(folder, 'doc.json'), { given: [elsewhere] });
    const files = await given.listImages(elsewhere);
    expect(files).toEqual([join(elsewhere, 'photo.jpg')]);
    expect((await given.decode(files[0]!)).width).toBeGreaterThan(0);
  });

  it("keeps a tfjs model's weight files in the model's folder", async () => {
    const dir = join(folder, 'model');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({
        modelTopology: { node: [] },
        format: 'graph-model',
        weightsManifest: [{ paths: ['../../elsewhere/photo.jpg'], weights: [] }],
      }),
    );
    const access = documentSourceAccess(folder);
    await expect(loadTfjsModelFrom(tf, 'model/model.json', access)).rejects.toThrow(
      /not read: it links to .*elsewhere\/photo.jpg, outside/,
    );
    await expect(loadTfjsModelFrom(tf, '../elsewhere/model.json', access)).rejects.toThrow(
      /outside the document's folder/,
    );
    await expect(loadTfjsModelFrom(tf, `http://127.0.0.1:${port}/model.json`, access)).rejects.toThrow(
      /--allow-remote/,
    );
  });
});

describe('remote sources need consent, private addresses a flag of their own', () => {
  it('classifies addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
    ])
      expect(privateAddress(a), a).not.toBeNull();
    for (const a of ['93.184.216.34', '172.32.0.1', '8.8.8.8', '2606:4700::1111'])
      expect(privateAddress(a), a).toBeNull();
  });

  it('fetches nothing without consent, and nothing private without --allow-private-network, in process', async () => {
    requests = [];
    const url = `http://127.0.0.1:${port}/x.jpg`;
    const none = documentAccess(join(folder, 'doc.json'));
    expect(await none.decode(url).catch((e: Error) => e.message)).toMatch(
      /not fetched: the document names a remote source .*--allow-remote/,
    );
    const remote = documentAccess(join(folder, 'doc.json'), {
      remote: { any: true, hosts: [], privateNetwork: false },
    });
    expect(await remote.decode(url).catch((e: Error) => e.message)).toMatch(
      /127.0.0.1 is not a public address: loopback \(127\/8\); .*--allow-private-network/,
    );
    // A name is resolved and its address checked before connecting.
    expect(await remote.decode(`http://localhost:${port}/x.jpg`).catch((e: Error) => e.message)).toMatch(
      /localhost resolves to (127.0.0.1|::1), not a public address: loopback/,
    );
    const listed = documentAccess(join(folder, 'doc.json'), {
      remote: { any: false, hosts: ['localhost'], privateNetwork: false },
    });
    expect(await listed.decode(`http://localhost:${port}/x.jpg`).catch((e: Error) => e.message)).toMatch(
      /resolves to .* not a public address: loopback/,
    );
    // A URL given on the command line is the user's consent to fetch it; a private address still needs the flag.
    const given = documentAccess(join(folder, 'doc.json'), { given: [url] });
    expect(await given.decode(url).catch((e: Error) => e.message)).toMatch(/--allow-private-network/);
    expect(requests).toEqual([]);
    const both = documentAccess(join(folder, 'doc.json'), { remote: { any: true, hosts: [], privateNetwork: true } });
    expect((await both.decode(url)).width).toBeGreaterThan(0);
    expect(requests).toEqual(['/x.jpg']);
  });

  it('validate says the same without fetching', () => {
    const access = documentSourceAccess(folder);
    expect(sourceProblem('http://169.254.169.254/latest/meta-data', access)).toMatch(/--allow-remote/);
    expect(
      sourceProblem('http://169.254.169.254/x', { ...access, remote: { any: true, hosts: [], privateNetwork: false } }),
    ).toMatch(/not a public address: link-local/);
    expect(sourceProblem('images/astronaut.jpg', access)).toBeNull();
    expect(sourceProblem('/etc/passwd', access)).toMatch(/outside the document's folder/);
  });
});

describe('a queue worker reads what submit put in the job, and nothing else', () => {
  it('reads data: URLs and absolute paths to regular files; fetches nothing, resolves no relative path, reads no device', async () => {
    requests = [];
    expect((await readJobSource(astronaut)).length).toBeGreaterThan(1000);
    expect(Buffer.from(await readJobSource('data:text/plain,hi')).toString()).toBe('hi');
    await expect(readJobSource(`http://127.0.0.1:${port}/x.jpg`)).rejects.toThrow(/a worker fetches nothing/);
    await expect(readJobSource('images/astronaut.jpg')).rejects.toThrow(/a worker reads only absolute paths/);
    await expect(readJobSource('/dev/zero')).rejects.toThrow(/is a device/);
    await expect(readJobSource(join(folder, 'pipe.jpg'))).rejects.toThrow(/is a FIFO/);
    expect(requests).toEqual([]);
    // The old reader, for comparison, is still there for the user's own paths.
    expect((await readSource(astronaut, '/')).length).toBeGreaterThan(1000);
  });
});

describe('the command line: plan, run, validate and submit refuse alike (exit 2)', () => {
  it('sends no request for a document naming a loopback URL, with or without --allow-remote', async () => {
    requests = [];
    const file = doc('remote.json', `http://127.0.0.1:${port}/x.png`);
    const plan = await cli('plan', file, '--size', '32');
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stderr).toMatch(
      /not fetched: the document names a remote source \(http:\/\/127.0.0.1:\d+\).*--allow-remote/,
    );
    const run = await cli('run', file, '--size', '16', '--steps', '1', '--out', join(tmp, 'r.png'));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/--allow-remote/);
    const allowed = await cli('plan', file, '--size', '32', '--allow-remote');
    expect(allowed.code).toBe(2);
    expect(allowed.stderr).toMatch(
      /127.0.0.1 is not a public address: loopback \(127\/8\); fetching from the local network needs --allow-private-network/,
    );
    const validate = await cli('validate', file);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toMatch(/node "content": .*--allow-remote/);
    const submit = await cli('submit', file, '--redis', 'redis://127.0.0.1:1', '--detach');
    expect(submit.code).toBe(2);
    expect(submit.stderr).toMatch(/--allow-remote/);
    expect(requests).toEqual([]);
    // Both flags: fetched (the server's picture), so the checks above could have failed.
    const both = await cli('plan', file, '--size', '32', '--allow-remote', '--allow-private-network');
    expect(both.code, both.stderr).toBe(0);
    expect(requests.length).toBeGreaterThan(0);
  }, 120_000);

  it('refuses /etc/passwd, /proc/self/environ, /dev/zero, a FIFO, a link out and ../ in a document; reads the file given with --content', async () => {
    for (const [source, message] of [
      ['/etc/passwd', /\/etc\/passwd: not read: an absolute path outside the document's folder/],
      ['/proc/self/environ', /not read: an absolute path outside/],
      ['/dev/zero', /not read: an absolute path outside/],
      ['pipe.jpg', /pipe.jpg is a FIFO \(named pipe\)/],
      ['out-link.jpg', /it links to .*photo.jpg, outside the document's folder/],
      ['../elsewhere/photo.jpg', /a path outside the document's folder/],
    ] as const) {
      const r = await cli('plan', doc('local.json', source), '--size', '32');
      expect(r.code, `${source}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const file = doc('local.json', join(elsewhere, 'photo.jpg'));
    expect((await cli('plan', file, '--size', '32')).code).toBe(2);
    const given = await cli('plan', file, '--size', '32', '--content', join(elsewhere, 'photo.jpg'));
    expect(given.code, given.stderr).toBe(0);
    const passwd = await cli(
      'plan',
      doc('local.json', 'images/astronaut.jpg'),
      '--size',
      '32',
      '--content',
      '/etc/passwd',
    );
    expect(passwd.stderr).toMatch(/\/etc\/passwd is not a PNG or JPEG/);
    const zero = await cli('plan', doc('local.json', 'images/astronaut.jpg'), '--size', '32', '--content', '/dev/zero');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/\/dev\/zero is a device/);
    const sub = await cli(
      'submit',
      doc('local.json', '../elsewhere/photo.jpg'),
      '--redis',
      'redis://127.0.0.1:1',
      '--detach',
    );
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/outside the document's folder/);
  }, 240_000);
});
