/**
 * The command table: each `stylegraph COMMAND` with its argument check and its host. A new command is a row here
 * (and its lines in usage.ts); its code goes in the folder of its concern (run/, video/, weights/, security/, queue/).
 */
import { loadPacks, weightsSettings, type CommandContext } from './context';
import { UsageError } from './io';
import { statusFromCommandLine, workerFromCommandLine } from './queue/command-line';
import { planFromCommandLine, runFromCommandLine, submitFromCommandLine, withGraph } from './run/command-line';
import { readGraph } from './run/read-graph';
import { validateCommand } from './run/validate-command';
import { configToTrust } from './security/plugins';
import { trustConfig } from './security/trust';
import { weightsCommand, type FetchRequest } from './weights/weights-command';
import { graphCheckpoints } from './weights/weights-fetch';

export type Command = (c: CommandContext) => Promise<number>;

/** One graph file and nothing after it (images go after --content or --style). */
function oneGraph(c: CommandContext): void {
  if (!c.file) throw new UsageError(`${c.command} needs a graph file, e.g. stylegraph ${c.command} presets/gatys.json`);
  if (c.rest.length) throw new UsageError(`unexpected argument "${c.rest[0]}" (images go after --content or --style)`);
}

/** A command on one graph file, read with the packs loaded. */
const onGraph =
  (body: Parameters<typeof withGraph>[1]): Command =>
  async (c) => {
    oneGraph(c);
    return withGraph(c, body);
  };

/** `trust [CONFIG]`: the user's act on a file they have read; nothing of the config runs here. */
async function trust(c: CommandContext): Promise<number> {
  if (c.rest.length) throw new UsageError(`trust takes one config file, got "${c.rest[0]}" too`);
  const path = await configToTrust(c.io.cwd, c.file ?? c.flags.config).catch((e: Error) => {
    throw new UsageError(e.message);
  });
  const t = await trustConfig(path).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(e.code === 'ENOENT' ? `no such file: ${path}` : `cannot trust ${path}: ${e.message}`);
  });
  c.io.err(
    `trusted ${t.path} (sha256 ${t.hash.slice(0, 16)}...), recorded in ${t.file}; its packs and remote hosts are used until it changes`,
  );
  return 0;
}

/** `weights list|clear|known`, and `weights fetch NAME ... --for GRAPH ...` (graphs read with the packs loaded). */
async function weights(c: CommandContext): Promise<number> {
  if (c.file !== 'fetch') {
    if (c.rest.length || c.flags.for)
      throw new UsageError(
        `weights ${c.file ?? ''}: unexpected ${c.rest.length ? `argument "${c.rest[0]}"` : '--for'} (only weights fetch takes names or --for GRAPH)`,
      );
    return weightsCommand(c.file, c.io, await weightsSettings(c));
  }
  // A pack's nodes may name checkpoints too.
  const { registry } = await loadPacks(c);
  const graphs: FetchRequest['graphs'] = [];
  for (const f of c.flags.for ?? []) {
    const doc = await readGraph(f, registry, c.io);
    if (!doc.model) return 2;
    graphs.push({ file: f, names: graphCheckpoints(doc.model, registry) });
  }
  return weightsCommand('fetch', c.io, await weightsSettings(c), { names: c.rest, graphs });
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  run: onGraph(runFromCommandLine),
  plan: onGraph(planFromCommandLine),
  submit: onGraph(submitFromCommandLine),
  validate: async (c) => {
    if (!c.file) throw new UsageError('validate needs a graph file, e.g. stylegraph validate presets/gatys.json');
    return validateCommand(c.io, [c.file, ...c.rest], await loadPacks(c));
  },
  worker: async (c) => {
    if (c.file) throw new UsageError(`unexpected argument "${c.file}": a worker takes its graphs from the queue`);
    return workerFromCommandLine(c, await loadPacks(c));
  },
  status: statusFromCommandLine,
  trust,
  weights,
};

/** The command a name names (not a property every object has, such as "constructor"). */
export const commandNamed = (name: string): Command | undefined =>
  Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
