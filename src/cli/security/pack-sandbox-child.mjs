// The process a CLI node pack runs in (src/cli/security/pack-sandbox.ts starts it). Plain JavaScript: it runs under Node's
// permission model with no grant but reads of this file, tfjs and the pack, so it cannot start tsx's compiler.
//
// Before the pack's code loads, this file takes away what the permission model leaves a process: the network
// (every socket handle's connect, bind, listen, open and send, and DNS), signals (process.kill), code from strings
// is already off (--disallow-code-generation-from-strings), V8 flags, tracing files, and what names the machine.
// Then it answers requests on fd 0 (blocking reads) with replies on fd 3, one at a time: load the pack, describe it,
// and call its node types' functions with JSON arguments and tensors (shape, dtype, bytes).
import dgram from 'node:dgram';
import dns from 'node:dns';
import fs from 'node:fs';
import inspector from 'node:inspector';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import traceEvents from 'node:trace_events';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';

const readSync = fs.readSync;
const writeSync = fs.writeSync;
const IN = 0;
const OUT = 3;
/** libuv's code for "permission denied". */
const EACCES = -13;

/** @param {string} what */
const refuse = (what) => {
  const f = function refused() {
    const e = new Error(`${what} is not available to a pack: packs compute on tensors and nothing else`);
    /** @type {Error & { code?: string }} */ (e).code = 'ERR_PACK_SANDBOX';
    throw e;
  };
  return f;
};

/** @param {object} target @param {string} key @param {unknown} value */
const lock = (target, key, value) => {
  try {
    Object.defineProperty(target, key, { value, writable: false, configurable: false, enumerable: false });
  } catch {
    // Already locked by Node: then it cannot be replaced by the pack either.
  }
};

/** Takes the network, signals and the rest away from this process (before any pack code runs). */
function harden() {
  // stdout and stderr (the pack's console) are made now, while a Pipe may still open an fd.
  void process.stdout;
  void process.stderr;
  // The classes of the handles every socket is made of (TCP, Pipe for Unix sockets, UDP, and c-ares' channel):
  // their methods that reach out are replaced and the prototypes frozen, so no route through net, tls, http,
  // fetch, dgram or a handle's constructor can connect, bind, listen, open an fd or send.
  const tcp = new net.Socket();
  tcp.on('error', () => {});
  try {
    tcp.connect({ port: -1, host: '127.0.0.1' }); // makes the handle, then fails on the port: nothing is sent
  } catch {
    // expected: the handle exists, which is all this needs
  }
  const pipe = new net.Socket();
  pipe.on('error', () => {});
  try {
    pipe.connect({ path: /** @type {any} */ (1) }); // a Pipe handle, then a type error: nothing is opened
  } catch {
    // expected: the handle exists, which is all this needs
  }
  const udp = dgram.createSocket('udp4');
  const resolver = new dns.Resolver();
  /** @type {[Function | undefined, string][]} */
  const handles = [
    [/** @type {any} */ (tcp)._handle?.constructor, 'TCP'],
    [/** @type {any} */ (pipe)._handle?.constructor, 'Pipe'],
    [/** @type {any} */ (udp)._handle?.constructor, 'UDP'],
    [/** @type {any} */ (resolver)._handle?.constructor, 'DNS'],
  ];
  for (const [C, name] of handles) {
    if (typeof C !== 'function') throw new Error(`pack sandbox: cannot find the ${name} handle to close it`);
    const outward =
      name === 'DNS'
        ? Object.getOwnPropertyNames(C.prototype).filter(
            (k) => k !== 'constructor' && typeof C.prototype[k] === 'function',
          )
        : ['connect', 'connect6', 'bind', 'bind6', 'listen', 'open', 'send', 'send6', 'fchmod', 'setPendingInstances'];
    // A refused handle call answers as the kernel would (EACCES): Node then raises it as the socket's 'error' or
    // throws it from the call, as for any refused connect, instead of an exception on a later tick.
    for (const k of outward) lock(C.prototype, k, () => EACCES);
    Object.freeze(C.prototype);
    Object.freeze(C);
  }
  tcp.destroy();
  pipe.destroy();
  udp.close();

  for (const k of ['lookup', 'lookupService']) {
    lock(dns, k, refuse(`DNS (${k})`));
    lock(dns.promises, k, refuse(`DNS (${k})`));
  }
  for (const k of ['fetch', 'WebSocket', 'EventSource', 'Request', 'Response', 'Headers', 'FormData', 'navigator'])
    delete (/** @type {any} */ (globalThis)[k]);

  // Signals and the rest of the process.
  for (const k of [
    'kill',
    '_kill',
    'dlopen',
    '_linkedBinding',
    'binding',
    'setuid',
    'setgid',
    'seteuid',
    'setegid',
    'setgroups',
    'initgroups',
    'chdir',
    'setSourceMapsEnabled',
    '_debugProcess',
    '_startProfilerIdleNotifier',
  ])
    lock(process, k, refuse(`process.${k}`));
  lock(process, 'env', Object.freeze({}));
  lock(process, 'stdin', undefined);
  lock(
    process,
    'report',
    Object.freeze({ getReport: refuse('process.report'), writeReport: refuse('process.report') }),
  );
  for (const k of [
    'setPriority',
    'getPriority',
    'hostname',
    'userInfo',
    'networkInterfaces',
    'homedir',
    'cpus',
    'loadavg',
    'uptime',
    'machine',
    'version',
    'release',
  ])
    lock(os, k, refuse(`os.${k}`));
  lock(v8, 'setFlagsFromString', refuse('v8.setFlagsFromString'));
  lock(v8, 'writeHeapSnapshot', refuse('v8.writeHeapSnapshot'));
  lock(v8, 'getHeapSnapshot', refuse('v8.getHeapSnapshot'));
  lock(traceEvents, 'createTracing', refuse('trace_events'));
  lock(inspector, 'open', refuse('the inspector'));
  lock(inspector, 'Session', refuse('the inspector'));
  syncBuiltinESMExports();
}

// --- the channel: [u32 header bytes][u32 buffer count][header JSON][u32 length, bytes]... ---

/** @param {number} n */
function readExactly(n) {
  const buf = Buffer.allocUnsafe(n);
  let at = 0;
  while (at < n) {
    const got = readSync(IN, buf, at, n - at, null);
    if (got === 0) process.exit(0); // the run closed the channel
    at += got;
  }
  return buf;
}

function readFrame() {
  const head = readExactly(8);
  const headerBytes = head.readUInt32LE(0);
  const count = head.readUInt32LE(4);
  const header = JSON.parse(readExactly(headerBytes).toString('utf8'));
  const buffers = [];
  for (let i = 0; i < count; i++) buffers.push(readExactly(readExactly(4).readUInt32LE(0)));
  return { header, buffers };
}

/** @param {unknown} header @param {Uint8Array[]} buffers */
function writeFrame(header, buffers = []) {
  const text = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32LE(text.length, 0);
  head.writeUInt32LE(buffers.length, 4);
  const parts = [head, text];
  for (const b of buffers) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.byteLength, 0);
    parts.push(len, Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  const all = Buffer.concat(parts);
  for (let at = 0; at < all.length;) at += writeSync(OUT, all, at, all.length - at);
}

// --- the pack ---

/** @type {any} */
let tf = null;
/** @type {any[]} */
let nodes = [];

/** @param {unknown} e */
const message = (e) => (e instanceof Error ? e.message : String(e));
/** @param {unknown} v */
const data = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** @param {any} def */
function describe(def) {
  if (!def || typeof def !== 'object') return null;
  const roles = def.roles && typeof def.roles === 'object' ? def.roles : undefined;
  const optimiser = roles?.optimiser;
  return data({
    type: def.type,
    title: def.title,
    category: def.category,
    description: def.description,
    role: def.role,
    inputs: def.inputs,
    params: def.params,
    outputs: typeof def.outputs === 'function' ? 'dynamic' : def.outputs,
    roles: roles && {
      ...(optimiser
        ? {
            optimiser: {
              loss: optimiser.loss,
              result: optimiser.result,
              steps: optimiser.steps,
              previewEvery: optimiser.previewEvery,
              hasSettings: typeof optimiser.settings === 'function',
            },
          }
        : {}),
      ...(roles.loss ? { loss: roles.loss } : {}),
      ...(roles.sum ? { sum: roles.sum } : {}),
      ...(roles.encoder ? { encoder: roles.encoder } : {}),
    },
    prepare:
      def.prepare && typeof def.prepare === 'object'
        ? Object.fromEntries(Object.entries(def.prepare).map(([k, p]) => [k, p?.socket]))
        : undefined,
    has: {
      infer: typeof def.infer === 'function',
      compute: typeof def.compute === 'function',
      flops: typeof def.flops === 'function',
      checkpoint: typeof def.checkpoint === 'function',
    },
    unsupported: [
      ...['shared', 'load'].filter((k) => def[k] !== undefined),
      // A preparation that reads other inputs (plugin API 1.4.0) is not carried across yet.
      ...(def.prepare && Object.values(def.prepare).some((p) => p?.with !== undefined) ? ['prepare.with'] : []),
    ],
  });
}

/** @param {{ path?: string; source?: string }} h */
async function load(h) {
  const url =
    h.source !== undefined
      ? `data:text/javascript;base64,${Buffer.from(h.source).toString('base64')}`
      : pathToFileURL(/** @type {string} */ (h.path)).href;
  const module = await import(url);
  const raw = module?.default ?? module?.pack ?? module;
  nodes = Array.isArray(raw?.nodes) ? [...raw.nodes] : [];
  return data({
    name: raw?.name,
    version: raw?.version,
    api: raw?.api,
    description: raw?.description,
    homepage: raw?.homepage,
    nodes: Array.isArray(raw?.nodes) ? nodes.map(describe) : raw?.nodes,
  });
}

async function loadTf(/** @type {{ tfjs: string; wasm: string; wasmFiles: string }} */ h) {
  if (tf) return {};
  const { log, warn } = console;
  console.log = console.warn = () => {}; // tfjs's "install our node backend" banner
  try {
    tf = await import(pathToFileURL(h.tfjs).href);
  } finally {
    Object.assign(console, { log, warn });
  }
  // wasm (single-threaded: the process may start no threads), else the slower cpu backend.
  try {
    const wasm = await import(pathToFileURL(h.wasm).href);
    wasm.setWasmPaths(
      pathToFileURL(h.wasmFiles)
        .href.replace(/\/?$/, '/')
        .replace(/^file:\/\//, ''),
    );
    wasm.setThreadsCount?.(1);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    if (!(await tf.setBackend('wasm'))) throw new Error('wasm did not start');
  } catch (e) {
    console.error(`wasm backend unavailable in the pack's process (${message(e)}): cpu`);
    await tf.setBackend('cpu');
  }
  return { backend: tf.getBackend() };
}

/** @param {{ shape: number[]; dtype: string }} t @param {Buffer} bytes */
function toTensor(t, bytes) {
  const copy = new Uint8Array(bytes); // aligned
  const values =
    t.dtype === 'int32' ? new Int32Array(copy.buffer) : t.dtype === 'bool' ? copy : new Float32Array(copy.buffer);
  return tf.tensor(values, t.shape, t.dtype);
}

/** @param {any} t */
function fromTensor(t) {
  if (!t || typeof t !== 'object' || typeof t.dataSync !== 'function' || !Array.isArray(t.shape))
    throw new Error('it returned something that is not a tensor');
  const values = t.dataSync();
  return {
    meta: { shape: [...t.shape], dtype: t.dtype },
    bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

/** The compute context's inputs from their layout: a name -> a tensor index, or a list of them. */
function inputsOf(/** @type {Record<string, number | number[]>} */ layout, /** @type {any[]} */ xs) {
  return Object.fromEntries(
    Object.entries(layout).map(([k, v]) => [k, Array.isArray(v) ? v.map((i) => xs[i]) : xs[v]]),
  );
}

/** Outputs of compute as a record of tensors. */
async function runCompute(/** @type {any} */ def, /** @type {any} */ h, /** @type {any[]} */ xs) {
  const ctx = {
    tf,
    nodeId: h.nodeId,
    params: h.params,
    inputs: inputsOf(h.layout, xs),
    outputInfo: h.outputInfo,
    step: h.step,
    size: h.size,
    seed: h.seed,
  };
  const out = await def.compute(ctx);
  if (!out || typeof out !== 'object') throw new Error('compute returned no outputs');
  return out;
}

/** @param {any} h @param {Buffer[]} buffers */
async function call(h, buffers) {
  const def = nodes[h.node];
  if (!def) throw new Error(`no node type #${h.node}`);
  const a = h.args ?? {};
  switch (h.fn) {
    case 'infer':
      return { result: data(def.infer({ params: a.params, inputs: a.inputs, size: a.size })) };
    case 'flops':
      return { result: data(def.flops({ params: a.params, inputs: a.inputs, size: a.size }, a.outputs)) };
    case 'outputs':
      return { result: data(def.outputs(a.params)) };
    case 'settings':
      return { result: data(def.roles.optimiser.settings(a.params)) };
    case 'checkpoint':
      return { result: data(def.checkpoint(a.params)) ?? null };
    case 'prepare-info':
      return { result: data(def.prepare[a.input].info(a.info, a.params)) };
  }
  if (!tf) throw new Error('tfjs is not loaded');
  tf.engine().startScope();
  try {
    const xs = (h.tensors ?? []).map((/** @type {any} */ t, /** @type {number} */ i) => toTensor(t, buffers[i]));
    if (h.fn === 'prepare-run') {
      const t = fromTensor(await def.prepare[a.input].run(xs[0], a.params, tf));
      return { result: { outputs: { value: t.meta } }, buffers: [t.bytes] };
    }
    if (h.fn === 'compute') {
      const out = await runCompute(def, a, xs);
      const metas = {};
      const bytes = [];
      for (const [k, v] of Object.entries(out)) {
        const t = fromTensor(v);
        /** @type {any} */ (metas)[k] = t.meta;
        bytes.push(t.bytes);
      }
      return { result: { outputs: metas }, buffers: bytes };
    }
    if (h.fn === 'vjp') {
      // The gradient of sum(output * dy) with respect to the float inputs: one backward pass, as the host's tape would do.
      const dy = toTensor(a.dy, buffers[xs.length]);
      const wrt = a.wrt.map((/** @type {number} */ i) => xs[i]);
      const f = () => {
        // compute must be synchronous here (it runs inside the host's optimisation loop).
        const out = def.compute({
          tf,
          nodeId: a.nodeId,
          params: a.params,
          inputs: inputsOf(a.layout, xs),
          outputInfo: a.outputInfo,
          step: a.step,
          size: a.size,
          seed: a.seed,
        });
        if (out instanceof Promise) throw new Error('compute returned a promise inside a gradient');
        return tf.sum(tf.mul(out[a.output], dy));
      };
      const { grads } = tf.engine().gradients(f, wrt, null, true);
      const bytes = [];
      const metas = wrt.map((/** @type {any} */ x, /** @type {number} */ j) => {
        const g = fromTensor(grads[j] ?? tf.zerosLike(x));
        bytes.push(g.bytes);
        return g.meta;
      });
      return { result: { grads: metas }, buffers: bytes };
    }
    throw new Error(`unknown call ${h.fn}`);
  } finally {
    tf.engine().endScope();
  }
}

harden();
writeFrame({ ready: true });
for (;;) {
  const { header, buffers } = readFrame();
  let reply;
  try {
    if (header.op === 'load') reply = { result: await load(header) };
    else if (header.op === 'tf') reply = { result: await loadTf(header) };
    else if (header.op === 'call') reply = await call(header, buffers);
    else throw new Error(`unknown request ${header.op}`);
  } catch (e) {
    reply = { error: message(e), code: /** @type {any} */ (e)?.code };
  }
  try {
    writeFrame(
      { ok: !('error' in reply), result: reply.result, error: reply.error, code: reply.code },
      reply.buffers ?? [],
    );
  } catch (e) {
    writeFrame({ ok: false, error: `its answer could not be sent: ${message(e)}` });
  }
}
