import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trustedConfig } from '../src/cli/security/plugins';
import { isOwnProject, packageRoot } from '../src/cli/security/trust';
import { ownCacheAndConfig, runCli } from './run-cli';

/**
 * Packs in the CLI (issue 16): a config in the working folder (a downloaded lesson) runs no code until the user
 * trusts it with `stylegraph trust`; a changed config is asked again; the project stylegraph is installed in is
 * the user's own. `--plugin` stays the user's explicit act.
 */
const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-trust-'));
const lesson = join(tmp, 'lesson');
const marker = join(tmp, 'pack-ran');
const env = ownCacheAndConfig(tmp);

const cli = (cwd: string, ...args: string[]) => runCli(args, { cwd, env, timeout: 60_000 });

mkdirSync(lesson, { recursive: true });
// A pack whose code leaves a mark when it runs, with a manifest that is not valid. A pack the user names or trusts
// runs under Node's permission model (tests/pack-permissions.test.ts), where it may not write the file: it also says so.
const ran = 'evil pack ran';
writeFileSync(
  join(lesson, 'evil.mjs'),
  `import { writeFileSync } from 'node:fs';\nprocess.stderr.write(${JSON.stringify(ran + '\n')});\n` +
    `try { writeFileSync(${JSON.stringify(marker)}, 'ran'); } catch {}\nexport default { name: 'NOT A NAME' };\n`,
);
const config = join(lesson, 'stylegraph.config.json');
writeFileSync(config, JSON.stringify({ plugins: ['./evil.mjs'] }));

describe('a config runs no pack code until the user trusts it', () => {
  it('validate in a folder with an untrusted config skips its packs and says how to trust it; after trust they load; a change is asked again', async () => {
    const graph = join(root, 'presets/gatys.json');
    const first = await cli(lesson, 'validate', graph);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(
      /stylegraph\.config\.json is not trusted; its packs skipped\. Read it, then run: stylegraph trust .*stylegraph\.config\.json/,
    );
    expect(existsSync(marker)).toBe(false);
    expect(first.stderr).not.toContain(ran);

    const trust = await cli(lesson, 'trust');
    expect(trust.code, trust.stderr).toBe(0);
    expect(trust.stderr).toMatch(
      /trusted .*stylegraph\.config\.json \(sha256 [0-9a-f]{16}\.\.\.\), recorded in .*config\/trust\.json/,
    );
    const trusted = await cli(lesson, 'validate', graph);
    expect(trusted.stderr).toContain(ran);
    // Confined: its write outside the output folder is refused.
    expect(existsSync(marker)).toBe(false);
    expect(trusted.stderr).toMatch(/plugin .*evil\.mjs/);
    expect(trusted.stderr).not.toMatch(/not trusted/);

    writeFileSync(config, JSON.stringify({ plugins: ['./evil.mjs'], remoteHosts: ['example.org'] }));
    const changed = await cli(lesson, 'validate', graph);
    expect(changed.stderr).toMatch(
      /stylegraph\.config\.json changed since you trusted it; its packs and remote hosts skipped/,
    );
    expect(changed.stderr).not.toContain(ran);
  }, 60_000);

  it('treats package.json\'s "stylegraph" field and --config the same way; --plugin is the user\'s act', async () => {
    const other = join(tmp, 'other');
    mkdirSync(other, { recursive: true });
    writeFileSync(
      join(other, 'package.json'),
      JSON.stringify({ name: 'lesson', stylegraph: { plugins: [join(lesson, 'evil.mjs')] } }),
    );
    expect(await trustedConfig(other, undefined, env)).toMatchObject({
      plugins: [],
      notices: [expect.stringMatching(/package\.json is not trusted/)],
    });
    const viaConfig = await trustedConfig(tmp, join(other, 'package.json'), env);
    expect(viaConfig.plugins).toEqual([]);
    const r = await cli(other, 'validate', join(root, 'presets/gatys.json'), '--plugin', join(lesson, 'evil.mjs'));
    expect(r.stderr).toMatch(/package\.json is not trusted/);
    expect(r.stderr).toContain(ran);
  }, 60_000);

  it("counts the project stylegraph is installed in (or its own checkout) as the user's own", async () => {
    expect(packageRoot()).toBe(root.replace(/\/$/, ''));
    expect(isOwnProject(join(root, 'package.json'))).toBe(true);
    const project = join(tmp, 'project');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    expect(isOwnProject(join(project, 'package.json'))).toBe(false);
    symlinkSync(root, join(project, 'node_modules', 'stylegraph'));
    expect(isOwnProject(join(project, 'package.json'))).toBe(true);
    // The repository's package.json lists the example pack: it loads without a trust step.
    expect((await trustedConfig(root, undefined, env)).plugins).toEqual([join(root, 'examples/pack-wct')]);
  });
});
