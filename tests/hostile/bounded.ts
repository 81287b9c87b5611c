import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Measured {
  name: string;
  result?: unknown;
  error?: string;
  errorClass?: string;
  /** The reader's time. */
  ms: number;
  /** The process's peak resident size after the reader, minus what was resident before it ran: an upper bound. */
  growthMB: number;
  peakMB: number;
}

/**
 * Runs a case of cases.ts in a child process (its own heap, --max-old-space-size=1024) and kills it after
 * `timeoutMs`: a reader that hangs or blows up fails the test instead of the test run.
 */
export function runCase(name: string, timeoutMs = 30_000): Promise<Measured> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        '--expose-gc',
        '--max-old-space-size=1024',
        '--stack-size=984',
        '--import',
        'tsx',
        'tests/hostile/run-case.ts',
        name,
      ],
      { cwd: root, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').at(-1);
        if (err || !line)
          return reject(
            new Error(
              `case ${name} ${err?.killed ? `did not finish within ${timeoutMs} ms` : `crashed (${err?.code ?? 'no output'})`}: ${stderr.slice(-2000)}`,
            ),
          );
        resolve(JSON.parse(line) as Measured);
      },
    );
  });
}
