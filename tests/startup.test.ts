import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * Issue 28, item 9: a clean start. `npm start` prints the editor's URL and nothing alarming (Vite 8 printed about
 * 100 lines of `configLoader: 'native'` warnings before it), and the locked dependencies all run on the oldest Node
 * that package.json's engines (and the README) accept (`npm ci` warned that two of them wanted Node 22).
 */
const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string };
  scripts: Record<string, string>;
};
const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

/** What a start that is only noise or a problem prints: warnings, errors, deprecations, Vite's `(!)` notes. */
const ALARMING = /warn|error|deprecat|\(!\)|unsupported|cannot|failed/i;

/** Runs `npm start` on a free port until it prints its URL; resolves with everything printed by then (and 1.5 s on). */
function startDevServer(): Promise<{ url: string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['start', '--', '--port', '0', '--host', '127.0.0.1'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', CI: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let url = '';
    const stop = (then: () => void) => {
      // npm starts vite in a process of its own: end the whole group this test started.
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
      then();
    };
    const timer = setTimeout(() => stop(() => reject(new Error(`no URL within 90 s:\n${output}`))), 90_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Local:\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (m && !url) {
        url = m[1]!;
        // Whatever the server prints right after its URL counts too.
        setTimeout(() => {
          clearTimeout(timer);
          stop(() => resolve({ url, output }));
        }, 1500);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe('a clean start', () => {
  it('npm start prints the URL and nothing alarming', async () => {
    const { url, output } = await startDevServer();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    // npm's own header ("> stylegraph@0.1.0 start", the command) and Vite's banner are all there is.
    const lines = output.split('\n').map((l) => l.trim());
    expect(lines.filter((l) => ALARMING.test(l))).toEqual([]);
    expect(lines.filter(Boolean).length).toBeLessThan(12);
  }, 120_000);

  it("every locked dependency runs on the oldest Node that package.json's engines accept", () => {
    const oldest = semver.minVersion(pkg.engines.node)!.version;
    const refuse = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, p]) => {
        const wants = p.engines && !Array.isArray(p.engines) ? p.engines.node : undefined;
        return wants && !semver.satisfies(oldest, wants)
          ? [`${path.replace(/^.*node_modules\//, '')}@${p.version} wants node ${wants}`]
          : [];
      });
    expect(refuse).toEqual([]);
    // The README names the same requirement.
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`Node ${pkg.engines.node.replace(/^>=/, '')}`);
  });
});
