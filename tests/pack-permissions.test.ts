import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { permissionFlag } from '../src/cli/security/permissions';
import { ownCacheAndConfig, runCli } from './run-cli';

/**
 * Packs named with --plugin run in a process of their own under Node's permission model (src/cli/security/pack-sandbox.ts,
 * which uses permissionFlag from src/cli/security/permissions.ts): a hostile pack (tests/fixtures/packs/hostile) that reads
 * a file, writes outside the output folder, starts a program or a worker thread is refused each time. The
 * attempts issue 29 found, and the example pack's picture, are in tests/hostile/packs-cli.test.ts.
 */
const tmp = mkdtempSync(join(tmpdir(), 'sg-pack-perm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const secret = join(tmp, 'secret.txt');
writeFileSync(secret, "the user's secret");
const hostile = 'tests/fixtures/packs/hostile';

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { timeout: 120_000, env: ownCacheAndConfig(tmp, env) });

describe('the permission model around CLI packs', () => {
  it('picks the flag this Node has', () => {
    expect(permissionFlag('18.20.0')).toBeNull();
    expect(permissionFlag('20.20.2')).toBe('--experimental-permission');
    expect(permissionFlag('22.12.0')).toBe('--experimental-permission');
    expect(permissionFlag('22.13.0')).toBe('--permission');
    expect(permissionFlag('23.4.0')).toBe('--experimental-permission');
    expect(permissionFlag('23.5.0')).toBe('--permission');
    expect(permissionFlag('24.1.0')).toBe('--permission');
  });

  it("refuses a hostile pack's read, write, program and worker in its own process, and says packs run there", async () => {
    const r = await cli(['validate', 'presets/gatys.json', '--plugin', hostile], { HOSTILE_SECRET: secret });
    expect(r.stderr).toMatch(/packs run in processes of their own: tensors only/);
    // The pack's process has no environment: the fixture falls back to /etc/passwd and its own target.
    expect(r.stderr).toContain(`pack ${hostile}: hostile: read /etc/passwd -> ERR_ACCESS_DENIED`);
    expect(r.stderr).toContain(
      `pack ${hostile}: hostile: write /tmp/stylegraph-hostile-pack-was-here -> ERR_ACCESS_DENIED`,
    );
    expect(r.stderr).toContain(`pack ${hostile}: hostile: spawn id -> ERR_ACCESS_DENIED`);
    expect(r.stderr).toContain(`pack ${hostile}: hostile: worker -> ERR_ACCESS_DENIED`);
    expect(r.stderr).not.toContain(secret);
    // The pack itself loads (its manifest is fine) and the command does its work.
    expect(r.stdout).toMatch(/presets\/gatys.json: valid/);
    expect(r.code).toBe(0);
  }, 120_000);

  it('does all of it with --no-sandbox-packs (the fixture is really hostile)', async () => {
    const target = join(tmp, 'pwned-unconfined.txt');
    const r = await cli(['validate', 'presets/gatys.json', '--plugin', hostile, '--no-sandbox-packs'], {
      HOSTILE_SECRET: secret,
      HOSTILE_WRITE: target,
    });
    expect(r.stderr).not.toMatch(/processes of their own/);
    expect(r.stderr).toContain(`hostile: read ${secret} -> OK`);
    expect(r.stderr).toContain('hostile: spawn id -> OK');
    expect(existsSync(target)).toBe(true);
  }, 120_000);

  it('says the sandbox refused it when a refusal stops a pack from loading', async () => {
    const dir = join(tmp, 'thrower');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'index.js'),
      "import { readFileSync } from 'node:fs';\nreadFileSync('/etc/passwd');\nexport default {};\n",
    );
    const r = await cli(['validate', 'presets/gatys.json', '--plugin', dir]);
    expect(r.stderr).toMatch(
      /plugin \S+thrower could not be loaded: .*\(refused: packs compute on tensors only; --no-sandbox-packs runs them with your rights\)/,
    );
    expect(r.code).toBe(0);
  }, 120_000);
});
