/**
 * The run worker in a sandbox: a hidden `<iframe sandbox="allow-scripts">` (no allow-same-origin, so its origin is
 * opaque: no cookies, localStorage, IndexedDB or Cache of the app, no access to the page's DOM) whose content
 * security policy allows no network access. The iframe starts the worker from a blob: URL of the worker bundle's
 * text, which the page fetched (under `npm start`, of a bootstrap that imports the worker's modules from this
 * site, the only script URL the policy then allows, fetched with CORS from origin `null`: src/devserver/sandbox.ts
 * answers those), and hands it a MessagePort to this page. After that the page and the
 * worker talk directly over the port: the same ToWorker/FromWorker messages, transfers kept; the iframe only
 * reports the worker's start-up errors.
 *
 * The worker code and every node pack it imports therefore run where fetch, XMLHttpRequest, WebSocket,
 * EventSource, sendBeacon and imports of other sites are refused, and storage is the opaque origin's (none).
 * What they can do is compute on what they are given and post messages back to this page, which treats them
 * as untrusted data.
 */

/**
 * The policy of the sandbox document, which its worker inherits. `scripts`: the origin the worker's modules come
 * from, under `npm start` only (a build's worker is handed in as text and runs from a blob: URL).
 */
export function sandboxPolicy(scripts: string | null, nonce: string): string {
  return [
    "default-src 'none'",
    // The relay script (by nonce), blob: scripts (the worker, its bootstrap, the packs' source), under `npm start`
    // the worker's modules from this site, and compiling wasm.
    `script-src 'nonce-${nonce}'${scripts ? ` ${scripts}` : ''} blob: 'wasm-unsafe-eval'`,
    'worker-src blob:',
    // Fetching the wasm binaries and images the page handed in as blob:/data: URLs; nothing on the network.
    'connect-src blob: data:',
    'img-src blob: data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/**
 * The worker's bootstrap: a classic blob: worker (Chromium refuses a module worker from a blob: URL of an opaque
 * origin) that imports the worker bundle and then gives it the 'connect' message that arrived meanwhile (the
 * page's messages wait in the port until the worker listens).
 */
const BOOT = `let connect = null;
self.onmessage = (e) => { connect = e; };
import(WORKER_URL).then(
  () => { if (connect && self.onmessage) self.onmessage(connect); },
  (e) => self.postMessage({ type: 'boot-error', message: 'the worker could not be loaded: ' + (e && e.message || e) }),
);`;

/** The sandbox document: the policy, and a script that starts the worker and hands it the page's port. */
export function sandboxDocument(scripts: string | null, nonce: string): string {
  const relay = `
const BOOT = ${JSON.stringify(BOOT)};
const post = (m) => parent.postMessage(m, '*');
addEventListener('message', (e) => {
  if (e.source !== parent || !e.data || e.data.type !== 'sandbox-boot' || !e.ports[0]) return;
  try {
    const code = typeof e.data.source === 'string' ? e.data.source : BOOT.replace('WORKER_URL', JSON.stringify(e.data.worker));
    const boot = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    const worker = new Worker(boot);
    worker.onerror = (ev) => post({ type: 'sandbox-error', message: ev.message || 'the worker could not start' });
    worker.onmessage = (ev) => ev.data && ev.data.type === 'boot-error' && post({ type: 'sandbox-error', message: ev.data.message });
    worker.postMessage({ type: 'connect' }, [e.ports[0]]);
    post({ type: 'sandbox-started', isolated: self.crossOriginIsolated === true });
  } catch (err) {
    post({ type: 'sandbox-error', message: String(err && err.message || err) });
  }
});
post({ type: 'sandbox-loaded' });`;
  return (
    `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${sandboxPolicy(scripts, nonce)}"></head>` +
    `<body><script nonce="${nonce}">${relay}</script></body></html>`
  );
}

/** What the iframe reports (the worker's own messages come over the port). */
type SandboxReport =
  | { type: 'sandbox-loaded' }
  | { type: 'sandbox-started'; isolated: boolean }
  | { type: 'sandbox-error'; message: string };

/**
 * A Worker-shaped handle on the sandboxed worker: postMessage (queued until the sandbox is up), onmessage,
 * onerror, terminate (removes the iframe, which ends the worker).
 */
export class SandboxedWorker {
  onmessage: ((e: MessageEvent) => void) | null = null;
  onerror: ((e: { message: string }) => void) | null = null;
  /** Whether the sandbox is cross-origin isolated (SharedArrayBuffer, wasm threads); null until it says. */
  isolated: boolean | null = null;
  private readonly frame: HTMLIFrameElement;
  private readonly channel = new MessageChannel();
  private readonly listener: (e: MessageEvent) => void;

  /**
   * `worker.source`: the worker bundle's text, on its way (a build: one classic script, run from a blob: URL, so the sandbox
   * loads nothing from the network); `worker.url`: its URL (`npm start`, where the worker is modules the sandbox
   * imports from this site with CORS, src/devserver/sandbox.ts).
   */
  constructor(worker: { source: Promise<string> } | { url: string }, parent: HTMLElement = document.body) {
    const boot =
      'source' in worker
        ? worker.source.then((source) => ({ source }))
        : Promise.resolve({ worker: new URL(worker.url, location.href).href });
    boot.catch((e: unknown) =>
      this.onerror?.({ message: `the worker's code could not be read: ${e instanceof Error ? e.message : String(e)}` }),
    );
    const nonce = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
    this.frame = document.createElement('iframe');
    this.frame.setAttribute('sandbox', 'allow-scripts');
    // Lets a cross-origin isolated page keep the (opaque-origin) sandbox isolated too, for wasm threads.
    this.frame.setAttribute('allow', 'cross-origin-isolated');
    this.frame.setAttribute('aria-hidden', 'true');
    this.frame.dataset.test = 'run-sandbox';
    this.frame.style.display = 'none';
    this.frame.srcdoc = sandboxDocument('url' in worker ? location.origin : null, nonce);
    this.channel.port1.onmessage = (e) => this.onmessage?.(e);
    this.listener = (e: MessageEvent) => {
      if (e.source !== this.frame.contentWindow) return;
      const m = e.data as SandboxReport;
      if (m?.type === 'sandbox-loaded')
        void boot.then(
          (b) => this.frame.contentWindow?.postMessage({ type: 'sandbox-boot', ...b }, '*', [this.channel.port2]),
          () => {},
        );
      else if (m?.type === 'sandbox-started') this.isolated = m.isolated;
      else if (m?.type === 'sandbox-error') this.onerror?.({ message: String(m.message) });
    };
    addEventListener('message', this.listener);
    parent.appendChild(this.frame);
  }

  /** Messages wait in the port until the worker takes it. */
  postMessage(m: unknown, transfer: Transferable[] = []) {
    this.channel.port1.postMessage(m, transfer);
  }

  terminate() {
    removeEventListener('message', this.listener);
    this.channel.port1.close();
    this.frame.remove();
  }
}

/** tfjs's wasm binaries, fetched by the page for the sandbox (which fetches nothing), by file name. */
export async function wasmBinaries(urls: Record<string, string>): Promise<Record<string, ArrayBuffer>> {
  const entries = await Promise.all(
    Object.entries(urls).map(async ([name, url]) => {
      const res = await fetch(new URL(url, location.href));
      if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
      return [name, await res.arrayBuffer()] as const;
    }),
  );
  return Object.fromEntries(entries);
}
