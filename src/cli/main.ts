/**
 * The `stylegraph` command: parses the options, looks the command up in the table (commands.ts) and turns what
 * it throws into a message and an exit status.
 */
import { parseArgs } from 'node:util';
import { commandNamed } from './commands';
import { printable } from './files';
import { UsageError, type Io } from './io';
import { closePackProcesses } from './security/pack-sandbox';
import { accessDeniedMessage } from './security/permissions';
import { OPTIONS, USAGE } from './usage';

export type { Io } from './io';

const nodeIo: Io = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
  isTTY: Boolean(process.stderr.isTTY),
  cwd: process.cwd(),
};

export async function main(argv: string[], raw: Io = nodeIo, signal?: AbortSignal): Promise<number> {
  // Text from files (checkpoint keys, document strings, paths) can carry terminal escapes: every line is printed escaped.
  const io: Io = { ...raw, out: (l) => raw.out(printable(l)), err: (l) => raw.err(printable(l)) };
  try {
    return await dispatch(argv, io, signal);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`stylegraph: ${e.message}`);
      return e.status;
    }
    // A pack that broke its sandbox's limits, met outside a run (a shape question while the graph is read).
    if (e instanceof Error && (e as { badInput?: unknown }).badInput === true) {
      io.err(`stylegraph: ${e.message}`);
      return 2;
    }
    io.err(`stylegraph: ${accessDeniedMessage(e) ?? (e instanceof Error ? (e.stack ?? e.message) : String(e))}`);
    return 1;
  } finally {
    closePackProcesses();
  }
}

async function dispatch(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${USAGE}`);
  }
  const { values: flags, positionals } = parsed;
  const [command, file, ...rest] = positionals;
  if (flags.help || !command) {
    io.out(USAGE);
    return flags.help ? 0 : 2;
  }
  const run = commandNamed(command);
  if (!run) throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  return run({ command, file, rest, flags, io, signal });
}
