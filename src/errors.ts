/**
 * The one error tree of cellgroups.
 *
 * Every error that crosses a module boundary is one of these. The `code` is
 * the contract (tests, logs and scripts match on it); the message is for
 * people and names the thing that is wrong. `api/faults.ts` maps the classes
 * to compute API faults and `cli/exit-codes.ts` maps them to exit statuses,
 * each exactly once.
 */
export abstract class CellgroupsError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFound extends CellgroupsError {
  readonly code: string = 'NOT_FOUND';
}

export class CellNotFound extends NotFound {
  override readonly code = 'CELL_NOT_FOUND';
  constructor(readonly cellUuid: string) {
    super(`Cell with uuid ${cellUuid} was not found.`);
  }
}

export class GroupNotFound extends NotFound {
  override readonly code = 'GROUP_NOT_FOUND';
  constructor(readonly groupRef: string) {
    super(`Instance group ${groupRef} could not be found.`);
  }
}

export class Conflict extends CellgroupsError {
  readonly code: string = 'CONFLICT';
}

export class GroupExists extends Conflict {
  override readonly code = 'GROUP_EXISTS';
  constructor(readonly groupUuid: string) {
    super(`Instance group ${groupUuid} already exists.`);
  }
}

/** A uuid that still lives in a cell database must be migrated, not created again. */
export class GroupInCell extends Conflict {
  override readonly code = 'GROUP_IN_CELL';
  constructor(
    readonly groupUuid: string,
    readonly cellName: string,
  ) {
    super(
      `Instance group ${groupUuid} already exists in cell ${cellName}; ` +
        `run "cellgroups-manage db online_data_migrations" to move it to the API database.`,
    );
  }
}

/**
 * A row the operation must change stayed locked by another transaction (the
 * online migration's batch, another writer, a stopped process) longer than
 * the lock-wait bound. Nothing was changed; the client may try again.
 * Never retried here: the wait already was the bound.
 */
export class LockTimeout extends Conflict {
  override readonly code = 'LOCK_TIMEOUT';
}

export class CellExists extends Conflict {
  override readonly code = 'CELL_EXISTS';
  constructor(readonly otherCellUuid: string) {
    super(
      'The specified transport_url and/or database_connection combination already exists ' +
        `for another cell with uuid ${otherCellUuid}.`,
    );
  }
}

export class InvalidInput extends CellgroupsError {
  readonly code: string = 'INVALID_INPUT';
}

export class Forbidden extends CellgroupsError {
  readonly code: string = 'FORBIDDEN';
}

export class QuotaExceeded extends Forbidden {
  override readonly code = 'QUOTA_EXCEEDED';
}

/** A microversion outside the supported range; `version` is echoed back to the client. */
export class VersionNotAcceptable extends CellgroupsError {
  readonly code = 'VERSION_NOT_ACCEPTABLE';
  constructor(
    message: string,
    readonly version: string,
  ) {
    super(message);
  }
}

/** A configuration file, option, environment variable or connection URL is wrong. */
export class ConfigError extends CellgroupsError {
  readonly code = 'CONFIG_ERROR';
}

export class DbError extends CellgroupsError {
  readonly code: string = 'DB_ERROR';
}

/** A cell database did not answer (refused, failed or timed out). */
export class CellUnavailable extends DbError {
  override readonly code = 'CELL_UNAVAILABLE';
  /** The cell's uuid, where the caller knows it. */
  readonly cellUuid: string | undefined;
  constructor(
    readonly cellName: string,
    /** The driver's words: for logs and the CLI, never an API answer (they may name a host). */
    readonly reason: string,
    options?: { cause?: unknown; cellUuid?: string },
  ) {
    super(`Cell ${cellName} did not answer: ${reason}`, options);
    this.cellUuid = options?.cellUuid;
  }
}

/** A schema version request that cannot be honoured (unknown version, downgrade, failure). */
export class SchemaError extends DbError {
  override readonly code = 'SCHEMA_ERROR';
}

/**
 * The Identity service could not say whether a token is valid: it did not
 * answer in time, refused the connection, rejected the service's own
 * credentials or failed. The request is refused (503), never let through.
 */
export class IdentityUnavailable extends CellgroupsError {
  readonly code = 'IDENTITY_UNAVAILABLE';
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('The Keystone service is temporarily unavailable.', options);
  }
}

/** A schema migration refused to run because data must move first. */
export class UpgradeBlocked extends CellgroupsError {
  readonly code = 'UPGRADE_BLOCKED';
}

/** The message of anything thrown, for places that must report without a stack trace. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    // Connection failures to a list of addresses arrive as an AggregateError with no message.
    const code = (error as { code?: unknown }).code;
    return error.message || (typeof code === 'string' ? code : error.name);
  }
  return String(error);
}
