import {
  OperationNodeTransformer,
  PrimitiveValueListNode,
  ValueNode,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';

const TEXT = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6})\d*)?$/;

/**
 * A timestamp as a database column held it, to the microsecond: Nova's
 * `DateTime` columns (naive UTC) keep microseconds on PostgreSQL and SQLite,
 * which a JS `Date` (milliseconds) would cut. It is a `Date` (comparisons
 * and formatting keep working) that also carries the microseconds within
 * its second, and is written back as the text every engine parses
 * (`YYYY-MM-DD HH:MM:SS.ffffff`), so a row copied from one database to
 * another keeps what the first one held.
 *
 * The dialects (src/db/dialects/) read their DateTime columns into it; the
 * plugin below binds it on the way out.
 */
export class DbTimestamp extends Date {
  /** Microseconds within the second, 0 to 999999. */
  readonly microsecond: number;

  private constructor(epochSecondMs: number, microsecond: number) {
    super(epochSecondMs + Math.floor(microsecond / 1000));
    this.microsecond = microsecond;
  }

  /** From a DateTime column's text (`2026-12-05 07:19:17.552545`, naive UTC); undefined if it is not one. */
  static fromText(text: string): DbTimestamp | undefined {
    const m = TEXT.exec(text);
    if (!m) return undefined;
    const [, y, mo, d, h, mi, s, fraction = ''] = m;
    const second = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    // Date.UTC maps years 0-99 to 1900-1999; a DateTime column means them as written.
    const at = new Date(second);
    if (Number(y) < 100) at.setUTCFullYear(Number(y));
    return new DbTimestamp(at.getTime(), Number(fraction.padEnd(6, '0')));
  }

  /** A `Date` (milliseconds) as a timestamp; a DbTimestamp is returned as it is. */
  static from(date: Date): DbTimestamp {
    if (date instanceof DbTimestamp) return date;
    const ms = date.getTime();
    const second = Math.floor(ms / 1000) * 1000;
    return new DbTimestamp(second, (ms - second) * 1000);
  }

  /** The text every engine reads into a DateTime column: `YYYY-MM-DD HH:MM:SS.ffffff`. */
  toDbText(): string {
    const iso = new Date(Math.floor(this.getTime() / 1000) * 1000).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(this.microsecond).padStart(6, '0')}`;
  }
}

/** Microseconds since the epoch (a `Date` counts whole milliseconds), for ordering. */
export function epochMicroseconds(date: Date): number {
  if (!(date instanceof DbTimestamp)) return date.getTime() * 1000;
  return Math.floor(date.getTime() / 1000) * 1_000_000 + date.microsecond;
}

function bind(value: unknown): unknown {
  if (value instanceof DbTimestamp) return value.toDbText();
  if (Array.isArray(value) && value.some((v) => v instanceof DbTimestamp)) return value.map(bind);
  return value;
}

class BindTimestamps extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    const bound = bind(node.value);
    return bound === node.value ? node : ValueNode.create(bound);
  }
  protected override transformPrimitiveValueList(
    node: PrimitiveValueListNode,
  ): PrimitiveValueListNode {
    return node.values.some((v) => v instanceof DbTimestamp)
      ? PrimitiveValueListNode.create(node.values.map(bind))
      : node;
  }
}

/**
 * Binds every DbTimestamp parameter as its text, microseconds included
 * (each driver would bind a `Date` to the millisecond). On every database
 * cellgroups opens.
 */
export class DbTimestampPlugin implements KyselyPlugin {
  private readonly transformer = new BindTimestamps();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.transformer.transformNode(args.node);
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}
