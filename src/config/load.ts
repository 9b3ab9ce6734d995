import { readFileSync } from 'node:fs';
import path from 'node:path';
import { maskPassword, parseDatabaseUrl } from '../db/url.js';
import { ConfigError } from '../errors.js';
import { normalizeKey, normalizeSection, parseIni } from './ini.js';
import { interpolate, type RawSetting } from './interpolate.js';
import { OPTIONS, type OptionSpec, type OptionValues } from './options.js';

/** The configuration every part of cellgroups runs with. */
export interface Config {
  /** Each option under its nova.conf section and name. */
  readonly values: OptionValues;
  /** `[DEFAULT] state_path`, absolute. */
  readonly statePath: string;
  /** `[api_database] connection`, or the SQLite default under state_path. */
  readonly apiDatabaseUrl: string;
  /** `[database] connection` (the local cell), or the SQLite default under state_path. */
  readonly cellDatabaseUrl: string;
  /** The files read, in order. */
  readonly files: readonly string[];
  /**
   * What the files set that cellgroups does not read (the rest of a nova.conf), in file order:
   * ignored as oslo.config ignores options nobody registered, and logged at debug level.
   */
  readonly ignored: readonly IgnoredSetting[];
}

/** A section, or one option of a section cellgroups reads, that cellgroups leaves to Nova. */
export interface IgnoredSetting {
  /** `file:line`. */
  readonly origin: string;
  readonly section: string;
  /** The option; absent when the whole section is ignored. */
  readonly name?: string;
}

/** One debug line for an ignored setting. */
export function describeIgnored(setting: IgnoredSetting): string {
  return setting.name === undefined
    ? `${setting.origin}: [${setting.section}] is not a section cellgroups reads; ignored.`
    : `${setting.origin}: [${setting.section}] ${setting.name} is not an option cellgroups reads; ignored.`;
}

export interface LoadOptions {
  /** `--config-file` values in command-line order; later files win. */
  readonly files?: readonly string[];
  /** Source of `OS_<SECTION>__<OPTION>` overrides (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Base for relative paths (default: the working directory). */
  readonly cwd?: string;
}

type Raw = Map<string, RawSetting>;

const SECTIONS = Object.keys(OPTIONS) as (keyof typeof OPTIONS)[];

function specOf(section: string, name: string): OptionSpec<unknown> | undefined {
  const options = (OPTIONS as Record<string, Record<string, OptionSpec<unknown>> | undefined>)[
    section
  ];
  return options?.[name];
}

/** oslo.config's environment source: `OS_API_DATABASE__CONNECTION` sets `[api_database] connection`. */
export function environmentName(section: string, name: string): string {
  return `OS_${section.toUpperCase()}__${name.toUpperCase()}`;
}

/**
 * Reads the configuration: defaults, then each file in order (later wins),
 * then the environment (as oslo.config, the environment wins over files).
 * The file is usually Nova's own nova.conf, so sections and options that
 * cellgroups does not read are recorded in `ignored` and otherwise skipped,
 * as oslo.config skips options nobody registered. A misspelt option name
 * cannot be told from one of Nova's, so it is ignored too (the debug log
 * names it); a bad value of an option cellgroups reads is an error naming
 * file, line, section and option. Environment variables name only known
 * options, since the environment is shared with other OpenStack services.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const files = (options.files ?? []).map((f) => path.resolve(cwd, f));
  const raw: Raw = new Map();
  // Every setting of the files, read or not: a `$name` in a value may name any of them.
  const everything: Raw = new Map();
  const ignored: IgnoredSetting[] = [];

  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      throw new ConfigError(
        code === 'ENOENT'
          ? `Config file ${file} does not exist.`
          : `Cannot read config file ${file}: ${code ?? String(cause)}`,
        { cause },
      );
    }
    const doc = parseIni(text, file);
    for (const [section, keys] of doc.sections) {
      for (const [name, { values, line }] of keys) {
        everything.set(`${section}.${name}`, {
          value: values.at(-1) ?? '',
          origin: `${file}:${line}: [${section}] ${name}`,
        });
      }
      if (!(section in OPTIONS)) {
        ignored.push({ origin: `${file}:${doc.sectionLines.get(section) ?? 0}`, section });
        continue;
      }
      for (const [name, { values, line }] of keys) {
        if (!specOf(section, name)) {
          ignored.push({ origin: `${file}:${line}`, section, name });
          continue;
        }
        const origin = `${file}:${line}: [${section}] ${name}`;
        raw.set(`${section}.${name}`, { value: values.at(-1) ?? '', origin });
      }
    }
  }

  for (const section of SECTIONS) {
    for (const name of Object.keys(OPTIONS[section])) {
      const variable = environmentName(section, name);
      const value = env[variable];
      if (value !== undefined) {
        const setting = { value, origin: `environment variable ${variable}` };
        raw.set(`${section}.${name}`, setting);
        everything.set(`${section}.${name}`, setting);
      }
    }
  }

  /** What `$name` finds: a setting of the files or the environment, else a default of cellgroups'. */
  const lookup = (section: string, name: string): RawSetting | undefined => {
    const key = `${normalizeSection(section)}.${normalizeKey(name)}`;
    const set = everything.get(key);
    if (set) return set;
    const fallback = specOf(normalizeSection(section), normalizeKey(name))?.default;
    // Only a single value can stand in a text (oslo.config refuses to substitute a list).
    return typeof fallback === 'string' ||
      typeof fallback === 'number' ||
      typeof fallback === 'boolean'
      ? { value: String(fallback), origin: `the default of [${section}] ${name}` }
      : undefined;
  };

  const values = Object.fromEntries(
    SECTIONS.map((section) => [
      section,
      Object.fromEntries(
        Object.entries(OPTIONS[section]).map(([name, spec]: [string, OptionSpec<unknown>]) => {
          const given = raw.get(`${normalizeSection(section)}.${normalizeKey(name)}`);
          if (!given) return [name, spec.default];
          const value = interpolate(given, section, lookup, [`[${section}] ${name}`]);
          const parsed = spec.type.parse(value);
          if (parsed === undefined && value !== '') {
            throw new ConfigError(
              `${given.origin}: invalid value ${JSON.stringify(value)}: expected ${spec.type.expected}.`,
            );
          }
          return [name, parsed === undefined ? spec.default : parsed];
        }),
      ),
    ]),
  ) as unknown as OptionValues;

  const statePath = path.resolve(cwd, values.DEFAULT.state_path);
  const apiDatabaseUrl = checkedUrl(
    values.api_database.connection ?? `sqlite:///${path.join(statePath, 'nova_api.sqlite')}`,
    raw.get('api_database.connection')?.origin ?? '[api_database] connection',
    cwd,
  );
  const cellDatabaseUrl = checkedUrl(
    values.database.connection ?? `sqlite:///${path.join(statePath, 'nova.sqlite')}`,
    raw.get('database.connection')?.origin ?? '[database] connection',
    cwd,
  );
  if (sameDatabase(apiDatabaseUrl, cellDatabaseUrl, cwd)) {
    throw new ConfigError(
      `[api_database] connection and [database] connection both name ${maskPassword(apiDatabaseUrl)}: ` +
        'the API database and a cell database must be separate databases (both have an instance_groups table).',
    );
  }
  return { values, statePath, apiDatabaseUrl, cellDatabaseUrl, files, ignored };
}

function checkedUrl(url: string, origin: string, cwd: string): string {
  try {
    parseDatabaseUrl(url, cwd);
  } catch (error) {
    if (error instanceof ConfigError)
      throw new ConfigError(`${origin}: ${error.message}`, { cause: error });
    throw error;
  }
  return url;
}

function sameDatabase(a: string, b: string, cwd: string): boolean {
  const x = parseDatabaseUrl(a, cwd);
  const y = parseDatabaseUrl(b, cwd);
  if (x.engine === 'sqlite' || y.engine === 'sqlite') {
    return (
      x.engine === y.engine &&
      'filename' in x &&
      'filename' in y &&
      x.filename === y.filename &&
      x.filename !== ':memory:'
    );
  }
  return (
    x.engine === y.engine && x.host === y.host && x.port === y.port && x.database === y.database
  );
}
