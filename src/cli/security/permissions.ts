/**
 * Node's permission model as the CLI pack sandbox (src/cli/security/pack-sandbox.ts) uses it: the flag this Node has, whether
 * the user lifted the sandbox, and a readable message for a refusal. What a sandboxed pack can and cannot do is in
 * docs/security.md.
 */

/** The flag that turns the permission model on in this Node, or null where there is none (before 20). */
export function permissionFlag(
  version: string = process.versions.node,
): '--permission' | '--experimental-permission' | null {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 20) return null;
  // Stable (and no longer experimental) from 22.13 and 23.5.
  if (major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13)) return '--permission';
  return '--experimental-permission';
}

/** Whether the user lifted the confinement: `--no-sandbox-packs`, or STYLEGRAPH_SANDBOX_PACKS=0. */
export const sandboxLifted = (flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean =>
  Boolean(flag) || env.STYLEGRAPH_SANDBOX_PACKS === '0' || env.STYLEGRAPH_SANDBOX_PACKS === 'off';

/** A clearer message for an error the permission model raised. */
export function accessDeniedMessage(e: unknown): string | null {
  const err = e as { code?: unknown; permission?: unknown; resource?: unknown } | null;
  if (!err || err.code !== 'ERR_ACCESS_DENIED') return null;
  const what = typeof err.permission === 'string' ? err.permission : 'access';
  const resource = typeof err.resource === 'string' && err.resource ? ` ${err.resource}` : '';
  return (
    `refused by Node's permission model (${what}${resource}): packs run confined to the inputs and the output folder; ` +
    'run with --no-sandbox-packs if you trust the packs with your files'
  );
}
