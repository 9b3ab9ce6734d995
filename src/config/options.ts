/**
 * Every configuration option cellgroups reads, with Nova's own section and
 * option names, so that lines copied from a nova.conf mean the same here.
 * The loader skips anything not listed (the rest of Nova's nova.conf, as
 * oslo.config does, with a debug line), and rejects a bad value of anything
 * listed.
 */
export interface OptionType<T> {
  /** What a valid value looks like, for error messages. */
  readonly expected: string;
  /** The typed value, or undefined when `raw` is not valid. */
  parse(raw: string): T | undefined;
}

export interface OptionSpec<T> {
  readonly type: OptionType<T>;
  readonly default: T;
  readonly help: string;
}

function option<T>(type: OptionType<T>, defaultValue: T, help: string): OptionSpec<T> {
  return { type, default: defaultValue, help };
}

function seconds(min: number): OptionType<number> {
  return {
    expected: `a number of seconds > ${min}`,
    parse: (raw) => {
      if (!/^\d+(\.\d+)?$/.test(raw.trim())) return undefined;
      const value = Number(raw);
      return value > min ? value : undefined;
    },
  };
}

const text: OptionType<string> = { expected: 'a string', parse: (raw) => raw };

const optionalText: OptionType<string | undefined> = {
  expected: 'a string',
  parse: (raw) => (raw === '' ? undefined : raw),
};

function integer(min: number, max = Number.MAX_SAFE_INTEGER): OptionType<number> {
  return {
    expected:
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`,
    parse: (raw) => {
      if (!/^[-+]?\d+$/.test(raw.trim())) return undefined;
      const value = Number(raw);
      return value >= min && value <= max ? value : undefined;
    },
  };
}

function choice<const C extends string>(...choices: C[]): OptionType<C> {
  return {
    expected: `one of ${choices.join(', ')}`,
    parse: (raw) => choices.find((c) => c === raw),
  };
}

// oslo.config's BoolOpt spellings.
const TRUE = ['true', '1', 'on', 'yes'];
const FALSE = ['false', '0', 'off', 'no'];
const bool: OptionType<boolean> = {
  expected: 'true or false',
  parse: (raw) => {
    const value = raw.trim().toLowerCase();
    if (TRUE.includes(value)) return true;
    if (FALSE.includes(value)) return false;
    return undefined;
  },
};

export const OPTIONS = {
  DEFAULT: {
    state_path: option(
      text,
      'data',
      'Directory for the SQLite databases used when no connection is configured (relative to the working directory).',
    ),
    transport_url: option(
      optionalText,
      undefined,
      'Message queue URL recorded for a new cell when cell_v2 create_cell gets no --transport-url.',
    ),
    osapi_compute_listen: option(
      text,
      '127.0.0.1',
      'Address the compute API listens on. Nova defaults to 0.0.0.0; cellgroups to loopback, so that a development start with noauth2 is not reachable from the network.',
    ),
    osapi_compute_listen_port: option(
      integer(0, 65535),
      8774,
      'Port the compute API listens on (0: any free port, printed at start).',
    ),
    osapi_compute_workers: option(
      integer(1, 64),
      1,
      'Number of API server processes (more than 1: a primary process forks them and restarts any that dies).',
    ),
    // oslo.service's option (nova-api reads it there): same name, default and meaning of 0.
    graceful_shutdown_timeout: option(
      integer(0),
      60,
      'Seconds a stopping API server lets requests in flight finish before it exits anyway, with status 1 (0: wait as long as they take).',
    ),
    debug: option(bool, false, 'Log at debug level.'),
  },
  api: {
    auth_strategy: option(
      choice('noauth2', 'keystone'),
      'noauth2',
      'How requests are authenticated: noauth2 (the token names user and project; for development and tests) or keystone.',
    ),
    max_limit: option(integer(0), 1000, 'Most items a list request returns.'),
    list_records_by_skipping_down_cells: option(
      bool,
      true,
      'When a cell does not answer a list or show of server groups: true answers with what the other databases hold, names the missing cells in the X-Cellgroups-Unavailable-Cells header and logs a warning; false fails the request with a 503 (see docs/down-cells.md).',
    ),
  },
  // keystonemiddleware's auth_token options, under its names, for `[api] auth_strategy = keystone`.
  keystone_authtoken: {
    www_authenticate_uri: option(
      optionalText,
      undefined,
      'Public Identity URL named in the WWW-Authenticate header of a 401, so that clients know where to get a token (default: auth_url).',
    ),
    auth_url: option(
      optionalText,
      undefined,
      'Identity service (Keystone v3) that validates tokens, e.g. http://keystone.example:5000/v3 (/v3 is added when missing).',
    ),
    auth_type: option(
      choice('password'),
      'password',
      'How the compute service gets its own token: password (username, password, project_name and their domains).',
    ),
    username: option(optionalText, undefined, "The compute service's user in Keystone."),
    password: option(optionalText, undefined, "That user's password."),
    project_name: option(
      optionalText,
      undefined,
      'The project the service token is scoped to (usually service).',
    ),
    user_domain_name: option(text, 'Default', "The domain of the service's user."),
    project_domain_name: option(text, 'Default', "The domain of the service's project."),
    token_cache_time: option(
      integer(-1),
      60,
      'Seconds a validated token is trusted without asking Keystone again (-1 or 0: ask every time). keystonemiddleware defaults to 300; shorter here because a revoked token keeps working until its cached validation runs out.',
    ),
    http_connect_timeout: option(
      seconds(0),
      5,
      'Seconds one authentication may spend talking to Keystone (service token, validation, retries) before the request fails with 503. keystonemiddleware has no default (it can hang); a request here never waits longer than this.',
    ),
    http_request_max_retries: option(
      integer(0, 10),
      3,
      'How many times a connection Keystone refused or dropped is tried again, within http_connect_timeout.',
    ),
  },
  api_database: {
    connection: option(
      optionalText,
      undefined,
      'URL of the API database (default: sqlite under state_path, nova_api.sqlite).',
    ),
  },
  database: {
    connection: option(
      optionalText,
      undefined,
      'URL of the local cell database (default: sqlite under state_path, nova.sqlite).',
    ),
  },
  cellgroups: {
    cell_timeout: option(
      seconds(0),
      10,
      'Seconds a read that asks every cell waits for one cell before reporting it unavailable (Nova: a fixed 60).',
    ),
    cell_concurrency: option(integer(1, 1024), 16, 'Cells asked at once by one read.'),
    lock_wait_timeout: option(
      seconds(0),
      3,
      'Seconds a write waits for a group row that another transaction holds in a cell database or the API database (an online migration batch, another writer, a stopped process) before it gives up with 409 Conflict, changing nothing. A request then waits at most cell_timeout plus this. MariaDB/MySQL count whole seconds (rounded up, at least 1). See docs/write-bounds.md.',
    ),
  },
  // Nova's [quota] defaults. Only the two server-group quotas are enforced
  // here; the others are kept and shown (os-quota-sets, /limits) so that
  // clients see the quota set they expect.
  quota: {
    instances: option(
      integer(-1),
      10,
      'Instances per project (-1: unlimited); shown, not enforced here.',
    ),
    cores: option(
      integer(-1),
      20,
      'Instance cores per project (-1: unlimited); shown, not enforced here.',
    ),
    ram: option(
      integer(-1),
      51200,
      'MiB of instance RAM per project (-1: unlimited); shown, not enforced here.',
    ),
    metadata_items: option(
      integer(-1),
      128,
      'Metadata items per instance (-1: unlimited); shown, not enforced here.',
    ),
    injected_files: option(
      integer(-1),
      5,
      'Injected files per instance (-1: unlimited); shown, not enforced here.',
    ),
    injected_file_content_bytes: option(
      integer(-1),
      10240,
      'Bytes per injected file (-1: unlimited); shown, not enforced here.',
    ),
    injected_file_path_bytes: option(
      integer(-1),
      255,
      'Bytes per injected file path (-1: unlimited); shown, not enforced here.',
    ),
    key_pairs: option(
      integer(-1),
      100,
      'Key pairs per user (-1: unlimited); shown, not enforced here.',
    ),
    server_groups: option(integer(-1), 10, 'Server groups per project (-1: unlimited).'),
    server_group_members: option(integer(-1), 10, 'Servers per server group (-1: unlimited).'),
    count_usage_from_placement: option(
      bool,
      false,
      "Nova's choice of where instances, cores and RAM in use are counted. cellgroups has no placement client: it always counts them from the cell databases, as Nova does with False, and warns at start when this is True (its /limits usage may then differ from Nova's).",
    ),
  },
} as const;

export type OptionSchema = typeof OPTIONS;

/** The parsed values, section by section, under Nova's names. */
export type OptionValues = {
  readonly [S in keyof OptionSchema]: {
    readonly [O in keyof OptionSchema[S]]: OptionSchema[S][O] extends OptionSpec<infer T>
      ? T
      : never;
  };
};
