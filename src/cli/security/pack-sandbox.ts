import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type {
  InputDef,
  NodeTypeDef,
  OptimiserSettings,
  OutputDef,
  ParamDefs,
  ParamValues,
  PreparedInput,
  ShapeContext,
  SocketType,
  Tensor,
  TF,
  Value,
  ValueInfo,
} from '../../plugin/types';
import { permissionFlag } from './permissions';

/**
 * Node packs in the command line run in a process of their own (issue 29): the pack's code computes on tensors
 * and nothing else. `stylegraph` starts, for each pack, `node --experimental-permission` (Node 20's flag, or
 * `--permission`) with no grant but reads of tfjs, the pack's own file (or folder) and the child's script, an empty
 * environment, `--disallow-code-generation-from-strings` and a V8 heap limit; where `unshare` can make one, in a
 * network namespace of its own. The child (pack-sandbox-child.mjs) takes away what the permission model leaves
 * before the pack loads (sockets, DNS, signals, V8 flags, tracing). The pack's node types are registered here as
 * proxies: their functions send their arguments (JSON, and tensors as shape, dtype and bytes) to the child and
 * wait for the answer, because a node's compute must be synchronous inside the optimisation loop; gradients flow
 * through a custom gradient that asks the child for the vector-Jacobian product.
 *
 * A thread of this process (pack-sandbox-bridge.mjs) talks to the child and enforces the limits: each call's
 * deadline, and the child's resident memory (ArrayBuffers and wasm memory included, which a V8 heap limit does not
 * count). A pack that passes one is killed and the run stops with a message naming the pack (exit 2).
 */

/** The limits, and the variables that change them. */
export const PACK_LIMITS = {
  /** Resident memory of a pack's process (STYLEGRAPH_PACK_MEMORY_MB). */
  memoryMB: 2048,
  /** One call into the pack: compute, a gradient, a shape question (STYLEGRAPH_PACK_SECONDS). */
  callSeconds: 120,
  /** Loading the pack, and loading tfjs in its process (STYLEGRAPH_PACK_LOAD_SECONDS). */
  loadSeconds: 60,
  /** Lines of the pack's own output (console.log, stderr) shown. */
  logLines: 200,
  /** The largest answer (all its tensors together). */
  answerMB: 1024,
} as const;

export interface PackLimits {
  memoryMB: number;
  callSeconds: number;
  loadSeconds: number;
}

/** The limits from the environment (positive numbers), else the defaults. */
export function packLimits(env: NodeJS.ProcessEnv = process.env): PackLimits {
  const num = (name: string, fallback: number) => {
    const v = Number(env[name]);
    return env[name] !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
  };
  return {
    memoryMB: num('STYLEGRAPH_PACK_MEMORY_MB', PACK_LIMITS.memoryMB),
    callSeconds: num('STYLEGRAPH_PACK_SECONDS', PACK_LIMITS.callSeconds),
    loadSeconds: num('STYLEGRAPH_PACK_LOAD_SECONDS', PACK_LIMITS.loadSeconds),
  };
}

/** A pack that broke the sandbox's limits or lost its process: bad input, like a checkpoint that does not fit (exit 2). */
export class PackSandboxError extends Error {
  readonly badInput = true;
}

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'pack-sandbox-child.mjs');
const BRIDGE = join(here, 'pack-sandbox-bridge.mjs');

/** The folders the child must read to load tfjs (the full package, whose node build registers every gradient). */
function tfjsFiles(): { entry: string; wasm: string; wasmFiles: string; folders: string[] } {
  const req = createRequire(import.meta.url);
  const folderOf = (pkg: string, from = req) => dirname(from.resolve(`${pkg}/package.json`));
  const tfjs = folderOf('@tensorflow/tfjs');
  const fromTfjs = createRequire(join(tfjs, 'package.json'));
  const folders = [tfjs];
  for (const pkg of [
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-cpu',
    '@tensorflow/tfjs-backend-webgl',
    '@tensorflow/tfjs-layers',
    '@tensorflow/tfjs-converter',
    '@tensorflow/tfjs-data',
  ]) {
    const folder = folderOf(pkg, fromTfjs);
    folders.push(folder);
    const fromIt = createRequire(join(folder, 'package.json'));
    for (const dep of [
      'seedrandom',
      'long',
      'node-fetch',
      'string_decoder',
      'safe-buffer',
      'whatwg-url',
      'tr46',
      'webidl-conversions',
    ]) {
      try {
        folders.push(folderOf(dep, fromIt));
      } catch {
        // not a dependency of this one
      }
    }
  }
  const wasm = folderOf('@tensorflow/tfjs-backend-wasm');
  folders.push(wasm);
  return {
    entry: join(tfjs, 'dist', 'tf.node.js'),
    wasm: join(wasm, 'dist', 'tf-backend-wasm.node.js'),
    wasmFiles: join(wasm, 'dist'),
    folders: [...new Set(folders)],
  };
}

let unshareArgs: string[] | null | undefined;
/** `unshare` with a network namespace of its own, where this machine allows one (root, or user namespaces); else null. */
export function networkNamespace(): string[] | null {
  if (unshareArgs !== undefined) return unshareArgs;
  unshareArgs = null;
  if (process.platform !== 'linux' || process.env.STYLEGRAPH_PACK_UNSHARE === '0') return null;
  for (const args of [['--net'], ['--net', '--map-root-user']]) {
    const r = spawnSync('unshare', [...args, 'true'], { stdio: 'ignore', timeout: 5000 });
    if (r.status === 0) return (unshareArgs = ['unshare', ...args]);
  }
  return null;
}

interface Reply {
  ok: boolean;
  result?: unknown;
  error?: string;
  /** The process ended (a limit, a crash): the pack cannot answer again. */
  limit?: boolean;
  buffers: ArrayBuffer[];
}

const open = new Set<PackProcess>();
process.on('exit', () => {
  for (const p of open) p.close();
});

/** One pack's process and the thread that talks to it. */
export class PackProcess {
  readonly networkIsolated: boolean;
  private readonly worker: Worker;
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly replies: MessagePort;
  private readonly requests: MessagePort;
  private pid = 0;
  private dead: string | null = null;
  private tfLoaded = false;

  constructor(
    readonly label: string,
    reads: string[],
    readonly limits: PackLimits,
    log: (line: string) => void,
  ) {
    const flag = permissionFlag();
    if (!flag)
      throw new PackSandboxError(
        `Node ${process.versions.node} has no permission model, which the pack sandbox needs (Node 20 or later); --no-sandbox-packs runs packs with your rights`,
      );
    const tf = tfjsFiles();
    const node = [
      flag,
      `--allow-fs-read=${CHILD}`,
      ...[...tf.folders, ...reads].map((p) => `--allow-fs-read=${p}`),
      '--disallow-code-generation-from-strings',
      `--max-old-space-size=${Math.max(64, Math.round(limits.memoryMB))}`,
      '--disable-warning=ExperimentalWarning',
      '--disable-warning=SecurityWarning',
      '--no-deprecation',
      CHILD,
    ];
    const ns = networkNamespace();
    this.networkIsolated = ns !== null;
    const [command, ...args] = ns ? [...ns, process.execPath, ...node] : [process.execPath, ...node];
    const replies = new MessageChannel();
    const requests = new MessageChannel();
    const logs = new MessageChannel();
    this.replies = replies.port2;
    this.requests = requests.port1;
    this.worker = new Worker(BRIDGE, {
      workerData: {
        command,
        args,
        signal: this.signal,
        replies: replies.port1,
        requests: requests.port2,
        logs: logs.port1,
        memoryBytes: limits.memoryMB * 2 ** 20,
        frameBytes: PACK_LIMITS.answerMB * 2 ** 20,
        logLines: PACK_LIMITS.logLines,
        pageBytes: 4096,
      },
      transferList: [replies.port1, requests.port2, logs.port1],
      // The bridge is stylegraph's own code; the pack never runs in this process.
      env: {},
      stdout: false,
      stderr: false,
    });
    this.tfFiles = { tfjs: tf.entry, wasm: tf.wasm, wasmFiles: tf.wasmFiles };
    this.worker.unref();
    this.worker.on('error', (e) => {
      this.dead ??= `its bridge thread failed: ${e.message}`;
    });
    logs.port2.on('message', (m: { line?: string; pid?: number; exited?: string }) => {
      if (typeof m.pid === 'number') this.pid = m.pid;
      if (typeof m.line === 'string') log(m.line);
      if (typeof m.exited === 'string') this.dead ??= m.exited;
    });
    logs.port2.unref();
    open.add(this);
  }

  private readonly tfFiles: { tfjs: string; wasm: string; wasmFiles: string };

  /** Sends one request and waits for its answer (the run's thread blocks; the bridge enforces the deadline). */
  request(
    header: Record<string, unknown>,
    buffers: ArrayBuffer[],
    seconds: number,
  ): { result: unknown; buffers: ArrayBuffer[] } {
    if (this.dead) throw new PackSandboxError(`${this.label} ${this.dead}`);
    Atomics.store(this.signal, 0, 0);
    this.requests.postMessage({ header, buffers, seconds }, buffers);
    // The bridge answers by the deadline (it kills the process then); the extra time only guards against the bridge itself.
    const waited = Atomics.wait(this.signal, 0, 0, (seconds + 30) * 1000);
    const m = receiveMessageOnPort(this.replies)?.message as Reply | undefined;
    if (!m) {
      this.close();
      throw new PackSandboxError(`${this.label} did not answer (${waited})`);
    }
    if (!m.ok) {
      if (m.limit) {
        this.dead = m.error ?? 'stopped';
        this.close();
        throw new PackSandboxError(
          `${this.label} ${this.dead}; it was stopped (docs/security.md lists the limits of packs)`,
        );
      }
      // Node's permission model refused something in the pack's process: say what holds there.
      const refused =
        (m as { code?: unknown }).code === 'ERR_ACCESS_DENIED'
          ? ' (refused: packs compute on tensors only; --no-sandbox-packs runs them with your rights)'
          : '';
      throw new Error(`${m.error ?? 'failed'}${refused}`);
    }
    return { result: m.result, buffers: m.buffers ?? [] };
  }

  /** Loads tfjs in the pack's process (once, before its first tensor). */
  ensureTf() {
    if (this.tfLoaded) return;
    this.request({ op: 'tf', ...this.tfFiles }, [], this.limits.loadSeconds);
    this.tfLoaded = true;
  }

  close() {
    open.delete(this);
    this.dead ??= 'was closed';
    if (this.pid) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    void this.worker.terminate();
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInfo = (v: unknown): v is ValueInfo =>
  isRecord(v) && Array.isArray(v.shape) && v.shape.every((d) => Number.isInteger(d) && d >= 0);
const DTYPES = new Set(['float32', 'int32', 'bool']);

interface TensorMeta {
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

/** A tensor's description and bytes for the child. */
function send(t: Tensor): { meta: TensorMeta; bytes: ArrayBuffer } {
  if (!DTYPES.has(t.dtype)) throw new Error(`a ${t.dtype} tensor cannot be sent to the pack`);
  const values = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  const bytes = new Uint8Array(values.byteLength);
  bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return { meta: { shape: [...t.shape], dtype: t.dtype as TensorMeta['dtype'] }, bytes: bytes.buffer };
}

/** A tensor the child sent, checked: its shape, dtype and byte count must agree. */
function receive(tf: TF, meta: unknown, bytes: ArrayBuffer | undefined, what: string): Tensor {
  if (
    !isRecord(meta) ||
    !Array.isArray(meta.shape) ||
    !meta.shape.every((d) => Number.isInteger(d) && d >= 0) ||
    meta.shape.length > 8 ||
    !DTYPES.has(String(meta.dtype)) ||
    !bytes
  )
    throw new Error(`${what}: the pack sent something that is not a tensor`);
  const shape = meta.shape as number[];
  const size = shape.reduce((a, b) => a * b, 1);
  const dtype = meta.dtype as TensorMeta['dtype'];
  const width = dtype === 'bool' ? 1 : 4;
  if (size * width !== bytes.byteLength)
    throw new Error(`${what}: the pack sent ${bytes.byteLength} bytes for a [${shape.join(', ')}] ${dtype} tensor`);
  const values =
    dtype === 'int32' ? new Int32Array(bytes) : dtype === 'bool' ? new Uint8Array(bytes) : new Float32Array(bytes);
  return tf.tensor(values, shape, dtype);
}

/** The node type data the child describes (pack-sandbox-child.mjs `describe`). */
interface NodeData {
  type: string;
  title: string;
  category: string;
  description?: string;
  role?: NodeTypeDef['role'];
  inputs: Record<string, InputDef>;
  params: ParamDefs;
  outputs: Record<string, OutputDef> | 'dynamic';
  roles?: {
    optimiser?: { loss: string; result?: string; steps: string; previewEvery?: string; hasSettings: boolean };
    loss?: NonNullable<NodeTypeDef['roles']>['loss'];
    sum?: NonNullable<NodeTypeDef['roles']>['sum'];
    encoder?: NonNullable<NodeTypeDef['roles']>['encoder'];
  };
  prepare?: Record<string, SocketType>;
  has: { infer: boolean; compute: boolean; flops: boolean; checkpoint: boolean };
  unsupported: string[];
}

/** Asks the child one of a node type's functions, with data only; returns its answer. */
type Ask = (fn: string, args: Record<string, unknown>) => unknown;

const askNode =
  (p: PackProcess, index: number): Ask =>
  (fn, args) =>
    p.request({ op: 'call', node: index, fn, args }, [], p.limits.callSeconds).result;

/** Sends tensors, calls one of a node type's functions, and returns the child's answer and tensors. */
type TensorCall = (
  fn: string,
  args: Record<string, unknown>,
  xs: Tensor[],
  extra?: ArrayBuffer[],
) => { result: unknown; buffers: ArrayBuffer[]; sent: ReturnType<typeof send>[] };

const tensorCaller =
  (p: PackProcess, index: number): TensorCall =>
  (fn, args, xs, extra = []) => {
    p.ensureTf();
    const sent = xs.map(send);
    // Copies travel (and are detached); the originals stay for a gradient's second call.
    const r = p.request(
      { op: 'call', node: index, fn, args, tensors: sent.map((s) => s.meta) },
      [...sent.map((s) => s.bytes.slice(0)), ...extra],
      p.limits.callSeconds,
    );
    return { result: r.result, buffers: r.buffers, sent };
  };

/** A pack node's prepared inputs: their shapes and their preparation asked of the child. */
function proxyPrepare(
  prepare: Record<string, SocketType>,
  ask: Ask,
  tensorCall: TensorCall,
): NonNullable<NodeTypeDef['prepare']> {
  return Object.fromEntries(
    Object.entries(prepare).map(([input, socket]): [string, PreparedInput] => [
      input,
      {
        socket,
        info: (info, params) => {
          const r = ask('prepare-info', { input, info, params });
          if (!isInfo(r)) throw new Error(`prepare.${input}.info returned no shape`);
          return r;
        },
        run: (x, params, tf) => {
          const r = tensorCall('prepare-run', { input, params }, [x]);
          const outs = isRecord(r.result) ? r.result.outputs : undefined;
          return receive(tf, isRecord(outs) ? outs.value : undefined, r.buffers[0], `prepare.${input}`);
        },
      },
    ]),
  );
}

/** A pack node's compute, run in the child; its float outputs have the child's gradient. */
function proxyCompute(p: PackProcess, index: number, tensorCall: TensorCall): NonNullable<NodeTypeDef['compute']> {
  return (ctx) => {
    const { tf } = ctx;
    const xs: Tensor[] = [];
    const layout: Record<string, number | number[]> = {};
    const add = (v: Value, name: string): number => {
      if (!v || typeof v !== 'object' || !('dtype' in v))
        throw new Error(`input "${name}" is a model, which a pack in the sandbox cannot take`);
      xs.push(v);
      return xs.length - 1;
    };
    for (const [name, v] of Object.entries(ctx.inputs))
      layout[name] = Array.isArray(v) ? v.map((x) => add(x, name)) : add(v, name);
    const args = {
      layout,
      params: ctx.params,
      nodeId: ctx.nodeId,
      outputInfo: ctx.outputInfo,
      step: ctx.step,
      size: ctx.size,
      seed: ctx.seed,
    };
    const forward = tensorCall('compute', args, xs);
    const outs = isRecord(forward.result) && isRecord(forward.result.outputs) ? forward.result.outputs : null;
    if (!outs) throw new Error('compute returned no outputs');
    const wrt = xs.map((x, i) => (x.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
    const result: Record<string, Value> = {};
    Object.entries(outs).forEach(([key, meta], k) => {
      const bytes = forward.buffers[k];
      const value = () => receive(tf, meta, bytes, `output "${key}"`);
      if (!wrt.length || !isRecord(meta) || meta.dtype !== 'float32') {
        result[key] = value();
        return;
      }
      // The output as a function of the float inputs, with the child's vector-Jacobian product as its gradient.
      // The inputs' bytes already sent are sent again for the backward pass (the tensors may be gone by then).
      const grad = tf.customGrad((...fx: unknown[]) => ({
        value: value(),
        gradFunc: (dy: Tensor | Tensor[]) => {
          const dyT = Array.isArray(dy) ? dy[0]! : dy;
          const dySent = send(dyT);
          p.ensureTf();
          const r = p.request(
            {
              op: 'call',
              node: index,
              fn: 'vjp',
              args: { ...args, output: key, wrt, dy: dySent.meta },
              tensors: forward.sent.map((s) => s.meta),
            },
            [...forward.sent.map((s) => s.bytes.slice(0)), dySent.bytes],
            p.limits.callSeconds,
          );
          const grads = isRecord(r.result) && Array.isArray(r.result.grads) ? r.result.grads : [];
          // customGrad passes its inputs and then its save function.
          return (fx.slice(0, wrt.length) as Tensor[]).map((x, j) => {
            const g = receive(tf, grads[j], r.buffers[j], `the gradient of output "${key}"`);
            if (g.shape.join() !== x.shape.join())
              throw new Error(
                `the gradient of output "${key}" has shape [${g.shape.join(', ')}] for an input of [${x.shape.join(', ')}]`,
              );
            return g;
          });
        },
      }));
      result[key] = grad(...wrt.map((i) => xs[i]!));
    });
    return result;
  };
}

/** A pack node's roles: its declarations as data, an optimiser's settings asked of the child. */
function proxyRoles(r: NonNullable<NodeData['roles']>, ask: Ask): NonNullable<NodeTypeDef['roles']> {
  const roles: NonNullable<NodeTypeDef['roles']> = {};
  if (r.loss) roles.loss = r.loss;
  if (r.sum) roles.sum = r.sum;
  if (r.encoder) roles.encoder = r.encoder;
  if (r.optimiser) {
    const { hasSettings, ...names } = r.optimiser;
    roles.optimiser = {
      ...names,
      settings: (params) => {
        if (!hasSettings) throw new Error('roles.optimiser.settings is not a function');
        const s = ask('settings', { params });
        if (!isRecord(s)) throw new Error('roles.optimiser.settings returned no settings');
        return s as unknown as OptimiserSettings;
      },
    };
  }
  return roles;
}

/** The node type the run uses for one of the pack's: its declarations as data, its functions asking the child. */
function proxyNode(p: PackProcess, index: number, d: NodeData): NodeTypeDef {
  const ask = askNode(p, index);
  const tensorCall = tensorCaller(p, index);
  const shape = (ctx: ShapeContext) => ({ params: ctx.params, inputs: ctx.inputs, size: ctx.size });
  if (d.unsupported.length)
    throw new Error(
      `node type "${d.type}" declares ${d.unsupported.join(' and ')}, which packs in the sandbox cannot use yet; run with --no-sandbox-packs if you trust the pack with your rights`,
    );

  const def: NodeTypeDef = {
    type: d.type,
    title: d.title,
    category: d.category,
    ...(d.description !== undefined ? { description: d.description } : {}),
    ...(d.role !== undefined ? { role: d.role } : {}),
    inputs: d.inputs,
    params: d.params,
    outputs:
      d.outputs === 'dynamic'
        ? (params: ParamValues) => {
            const r = ask('outputs', { params });
            if (!isRecord(r)) throw new Error('outputs() returned no outputs');
            return r as Record<string, OutputDef>;
          }
        : d.outputs,
    infer: (ctx) => {
      const r = ask('infer', shape(ctx));
      if (!isRecord(r) || !Object.values(r).every(isInfo)) throw new Error('infer() returned no shapes');
      return r as Record<string, ValueInfo>;
    },
  };
  if (d.has.flops)
    def.flops = (ctx, outputs) => {
      const r = ask('flops', { ...shape(ctx), outputs });
      return typeof r === 'number' && Number.isFinite(r) ? r : 0;
    };
  if (d.has.checkpoint)
    def.checkpoint = (params) => {
      const r = ask('checkpoint', { params });
      return typeof r === 'string' ? r : undefined;
    };
  if (d.prepare) def.prepare = proxyPrepare(d.prepare, ask, tensorCall);
  if (d.has.compute) def.compute = proxyCompute(p, index, tensorCall);
  if (d.roles && Object.keys(d.roles).length) def.roles = proxyRoles(d.roles, ask);
  return def;
}

export interface SandboxedPack {
  /** The module PackHost.install takes: a manifest whose node types are proxies. */
  module: unknown;
  process: PackProcess;
}

/**
 * Starts a pack's process and loads the pack in it: from its file (`path`, read there under the grant of `reads`)
 * or from text fetched here (`source`, a URL's body). Returns the manifest with proxy node types.
 */
export function loadSandboxedPack(
  label: string,
  from: { path: string } | { source: string },
  reads: string[],
  log: (line: string) => void,
  limits: PackLimits = packLimits(),
): SandboxedPack {
  const p = new PackProcess(label, reads, limits, log);
  try {
    const r = p.request({ op: 'load', ...from }, [], limits.loadSeconds).result;
    if (!isRecord(r)) throw new Error('its module exports no manifest');
    const nodes = Array.isArray(r.nodes)
      ? (r.nodes as unknown[]).map((n, i) => (isRecord(n) ? proxyNode(p, i, n as unknown as NodeData) : n))
      : r.nodes;
    return { module: { default: { ...r, nodes } }, process: p };
  } catch (e) {
    p.close();
    throw e;
  }
}

/** What a pack's process may read: the pack's folder when it was named as a folder (a package), else only its file. */
export function packReads(given: string, entry: string): string[] {
  return statSync(given).isDirectory() ? [given] : [entry];
}

/** The line that says packs run sandboxed, with the limits and how to lift it. */
export function sandboxNotice(l: PackLimits): string {
  return (
    `stylegraph: packs run in processes of their own: tensors only (no files, network, programs, signals or environment), ` +
    `${l.memoryMB} MiB and ${l.callSeconds} s a call; --no-sandbox-packs runs them with your rights`
  );
}

/** Ends every pack process (the command is done). */
export function closePackProcesses(): void {
  for (const p of [...open]) p.close();
}
