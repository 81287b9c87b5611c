// A thread of the stylegraph process that talks to one pack's process (src/cli/security/pack-sandbox.ts). The run's thread
// waits for each answer (Atomics.wait) because a node's compute must be synchronous; this thread writes the request,
// reads the answer, and meanwhile enforces the limits: the call's deadline and the process's resident memory
// (read from /proc every 25 ms), killing the process when one is passed.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';

/** @type {{ command: string; args: string[]; signal: Int32Array; replies: import('node:worker_threads').MessagePort; requests: import('node:worker_threads').MessagePort; logs: import('node:worker_threads').MessagePort; memoryBytes: number; frameBytes: number; logLines: number; pageBytes: number }} */
const d = workerData;

const child = spawn(d.command, d.args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: {}, cwd: '/' });
/** Why the process ended, when this side ended it. */
let reason = '';
let exited = false;
let peakBytes = 0;
/** @type {null | { timer: NodeJS.Timeout | undefined }} */
let pending = null;

/** @param {unknown} reply @param {ArrayBuffer[]} transfer */
function answer(reply, transfer = []) {
  if (!pending) return;
  clearTimeout(pending.timer);
  pending = null;
  d.replies.postMessage(reply, transfer);
  Atomics.store(d.signal, 0, 1);
  Atomics.notify(d.signal, 0);
}

/** @param {string} why */
function kill(why) {
  if (exited) return;
  reason ||= why;
  child.kill('SIGKILL');
}

function residentBytes() {
  try {
    const statm = readFileSync(`/proc/${child.pid}/statm`, 'utf8').split(' ');
    return Number(statm[1]) * d.pageBytes;
  } catch {
    return 0;
  }
}
const poll = setInterval(() => {
  const rss = residentBytes();
  peakBytes = Math.max(peakBytes, rss);
  if (rss > d.memoryBytes)
    kill(
      `used more than ${Math.round(d.memoryBytes / 2 ** 20)} MiB of memory (${Math.round(rss / 2 ** 20)} MiB resident)`,
    );
}, 25);

child.on('error', (e) => {
  exited = true;
  reason ||= `could not start its process: ${e.message}`;
  answer({ ok: false, error: reason, limit: false });
});
child.on('exit', (code, signal) => {
  exited = true;
  clearInterval(poll);
  if (!reason) reason = signal ? `its process was ended by ${signal}` : `its process exited (status ${code})`;
  // A process that exits for its own reasons mid-call (V8's heap limit, process.exit) is the pack's failure too.
  answer({ ok: false, error: reason, limit: true, peakBytes });
  d.logs.postMessage({ exited: reason, peakBytes });
  d.requests.close();
});

// The pack's own output (console.log, stderr), line by line, up to a count.
let lines = 0;
for (const stream of [child.stdout, child.stderr]) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    rest += chunk;
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    if (rest.length > 4096) {
      parts.push(rest.slice(0, 4096));
      rest = '';
    }
    for (const p of parts) {
      if (++lines <= d.logLines) d.logs.postMessage({ line: p.slice(0, 4096) });
      else if (lines === d.logLines + 1)
        d.logs.postMessage({ line: `(further output left out after ${d.logLines} lines)` });
    }
  });
}

// Answers: frames on fd 3.
let buf = Buffer.alloc(0);
child.stdio[3].on('data', (chunk) => {
  buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
  for (;;) {
    if (buf.length < 8) return;
    const headerBytes = buf.readUInt32LE(0);
    const count = buf.readUInt32LE(4);
    if (headerBytes > 64 * 2 ** 20 || count > 4096)
      return kill('sent an answer that is not one (its framing is broken)');
    let at = 8 + headerBytes;
    const sizes = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      if (buf.length < at + 4) return;
      const n = buf.readUInt32LE(at);
      total += n;
      if (total > d.frameBytes) return kill(`sent an answer over ${Math.round(d.frameBytes / 2 ** 20)} MiB`);
      sizes.push(n);
      at += 4 + n;
    }
    if (buf.length < at) return;
    let header;
    try {
      header = JSON.parse(buf.subarray(8, 8 + headerBytes).toString('utf8'));
    } catch {
      return kill('sent an answer that is not JSON');
    }
    const buffers = [];
    let p = 8 + headerBytes;
    for (const n of sizes) {
      const copy = new Uint8Array(n);
      copy.set(buf.subarray(p + 4, p + 4 + n));
      buffers.push(copy.buffer);
      p += 4 + n;
    }
    buf = buf.subarray(at);
    if (header && header.ready === true) continue;
    answer({ ...header, buffers }, buffers);
  }
});

// Requests from the run's thread.
d.requests.on('message', (/** @type {{ header: unknown; buffers: ArrayBuffer[]; seconds: number }} */ m) => {
  pending = { timer: undefined };
  if (exited) return answer({ ok: false, error: reason, limit: true });
  pending.timer = setTimeout(() => kill(`did not finish within ${m.seconds} s`), m.seconds * 1000);
  const text = Buffer.from(JSON.stringify(m.header), 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32LE(text.length, 0);
  head.writeUInt32LE(m.buffers.length, 4);
  const parts = [head, text];
  for (const b of m.buffers) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.byteLength, 0);
    parts.push(len, Buffer.from(b));
  }
  child.stdin.write(Buffer.concat(parts));
});
child.stdin.on('error', () => {});
d.logs.postMessage({ pid: child.pid });
