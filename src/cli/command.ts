import { Option } from 'commander';
import type { Config } from '../config/load.js';
import { OUTPUT_FORMATS, type OutputFormat } from './output.js';

/** What every command gets: the configuration (read on first use) and where to write. */
export interface CommandContext {
  config(): Config;
  /** A line of the command's result, on stdout. */
  out(line: string): void;
  /** A line about a problem, on stderr. */
  err(line: string): void;
  /** A person is watching a terminal: progress may be drawn as bars. */
  readonly terminal: boolean;
}

/** A command's body; it resolves to the exit status (nova-manage's, where it has one). */
export type CommandAction<A extends unknown[]> = (
  ctx: CommandContext,
  ...args: A
) => Promise<number>;

/** Turns a command body into a commander action; errors are mapped to statuses there, once. */
export type ActionWrapper = <A extends unknown[]>(
  fn: CommandAction<A>,
) => (...args: A) => Promise<void>;

export const formatOption = () =>
  new Option('--format <format>', 'output format: a table for people, JSON for scripts')
    .choices(OUTPUT_FORMATS)
    .default('table');

export interface FormatOptions {
  format: OutputFormat;
}
