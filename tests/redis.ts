import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A throwaway Redis for the queue tests (Debian's redis-server; CI installs it: .ci/run). */

export const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

/** A port on 127.0.0.1 that was free a moment ago (the system picks it; the probe closes it again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * A redis-server on a free port of 127.0.0.1 that saves nothing (its folder `dir`), once it answers PING; throws
 * when it has not within 10 s. The caller kills `server`.
 */
export async function startRedis(dir: string): Promise<{ server: ChildProcess; port: number; url: string }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const server = spawn('redis-server', args);
  const answers = () =>
    spawnSync('redis-cli', ['-p', String(port), 'ping'])
      .stdout?.toString()
      .includes('PONG');
  for (let i = 0; !answers(); i++) {
    if (i === 100) {
      server.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { server, port, url: `redis://127.0.0.1:${port}` };
}
