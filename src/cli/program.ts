import { Command, CommanderError } from 'commander';
import { describeIgnored, loadConfig, type Config } from '../config/load.js';
import { CellgroupsError, describeError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerApiDbCommands } from './commands/api-db.js';
import { registerCellV2Commands } from './commands/cell-v2.js';
import { registerDbCommands } from './commands/db.js';
import { registerStatusCommands } from './commands/status.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import type { CommandAction, CommandContext } from './command.js';

/**
 * The `cellgroups-manage` command line: nova-manage's categories and actions
 * with nova-manage's option spellings (`--database_connection`,
 * `--transport-url`), so that runbooks carry over.
 */
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
  readonly terminal?: boolean;
}

export function buildProgram(io: CliIo): {
  program: Command;
  result: () => number;
} {
  let exitCode: number = EXIT.OK;
  const program = new Command('cellgroups-manage')
    .description('Manage the cellgroups databases and cells (the nova-manage of cellgroups).')
    .version(VERSION, '--version', 'print the cellgroups version and exit')
    .option(
      '--config-file <path>',
      'nova.conf-style file to read; may be repeated, later files win',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        io.out(s);
      },
      writeErr: (s) => {
        io.err(s);
      },
    });

  let config: Config | undefined;
  const readConfig = (): Config => {
    const read = loadConfig({ files: program.opts<{ configFile: string[] }>().configFile });
    // What nova-manage would log at debug level: the rest of nova.conf is Nova's, not ours.
    if (read.values.DEFAULT.debug)
      for (const setting of read.ignored) io.err(`DEBUG: ${describeIgnored(setting)}\n`);
    return read;
  };
  const ctx: CommandContext = {
    config: () => (config ??= readConfig()),
    out: (line) => {
      io.out(`${line}\n`);
    },
    err: (line) => {
      io.err(`${line}\n`);
    },
    terminal: io.terminal ?? false,
  };

  /** Wraps an action: its returned status becomes the exit status; errors are mapped once, here. */
  const action =
    <A extends unknown[]>(fn: CommandAction<A>) =>
    async (...args: A): Promise<void> => {
      try {
        exitCode = await fn(ctx, ...args);
      } catch (error) {
        exitCode = exitCodeFor(error);
        if (error instanceof CellgroupsError) {
          ctx.err(`ERROR: ${error.message}`);
        } else {
          ctx.err(`An error has occurred:\n${describeError(error)}`);
          if (config?.values.DEFAULT.debug && error instanceof Error && error.stack)
            ctx.err(error.stack);
        }
      }
    };

  registerApiDbCommands(program, action);
  registerDbCommands(program, action);
  registerCellV2Commands(program, action);
  registerStatusCommands(program, action);
  return { program, result: () => exitCode };
}

/** Runs the command line; resolves to the exit status. */
export async function runCli(
  argv: readonly string[],
  io: CliIo = {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    // Bars only for a person at a terminal: both streams on it.
    terminal: process.stderr.isTTY && process.stdout.isTTY,
  },
): Promise<number> {
  const { program, result } = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, successfully.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    io.err(`An error has occurred:\n${describeError(error)}\n`);
    return EXIT.UNEXPECTED;
  }
  return result();
}
