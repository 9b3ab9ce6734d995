import { InvalidInput, VersionNotAcceptable } from '../../errors.js';
import { MAX_VERSION, MIN_VERSION, type Microversion } from '../versions-table.js';

/**
 * How a request picks a microversion. The versions this server speaks, and
 * what each changed, are in ../versions-table.ts; the per-version behaviour
 * of views, schemas and query rules asks `ApiVersion.atLeast(MV.NAME)`.
 */
export { MAX_VERSION, MIN_VERSION };

/** The standard header, `OpenStack-API-Version: compute 2.64`. */
export const VERSION_HEADER = 'openstack-api-version';
/** Nova's own header from before the standard one, `X-OpenStack-Nova-API-Version: 2.64`. */
export const LEGACY_VERSION_HEADER = 'x-openstack-nova-api-version';

/** A microversion, comparable; `2.10` is after `2.9`. */
export class ApiVersion {
  private constructor(
    readonly major: number,
    readonly minor: number,
  ) {}

  /** Nova's format, `X.Y` with no leading zeros; anything else is a 400 with Nova's words. */
  static parse(text: string): ApiVersion {
    const match = /^([1-9]\d*)\.([1-9]\d*|0)$/.exec(text);
    if (!match) {
      throw new InvalidInput(
        `API Version String ${text} is of invalid format. Must be of format MajorNum.MinorNum.`,
      );
    }
    return new ApiVersion(Number(match[1]), Number(match[2]));
  }

  compare(other: ApiVersion): number {
    return this.major - other.major || this.minor - other.minor;
  }

  /** At least `version` (the way handlers ask: "since MV.POLICY_SINGULAR"); only versions of the table. */
  atLeast(version: Microversion): boolean {
    let bound = KNOWN.get(version);
    if (bound === undefined) {
      bound = ApiVersion.parse(version);
      KNOWN.set(version, bound);
    }
    return this.compare(bound) >= 0;
  }

  toString(): string {
    return `${this.major}.${this.minor}`;
  }
}

/**
 * The versions handlers and views ask about, parsed once: a list of 100
 * groups asks twice per group, and parsing (a regular expression) was a
 * measurable share of its time. Only the code's own constants come here, so
 * the map stays small; a malformed one still throws on every call.
 */
const KNOWN = new Map<string, ApiVersion>();

export const MIN = ApiVersion.parse(MIN_VERSION);
export const MAX = ApiVersion.parse(MAX_VERSION);

type HeaderValue = string | string[] | undefined;

/** A header's values folded into one list, as repeated headers are joined by commas. */
function values(header: HeaderValue): string[] {
  const joined = Array.isArray(header) ? header.join(',') : (header ?? '');
  return joined
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/**
 * The version a request asked for, as microversion-parse reads it (what
 * Nova uses): the standard header's `compute` entry wins over the legacy
 * header; other services' entries are ignored.
 */
export function requestedVersion(headers: Record<string, HeaderValue>): string | undefined {
  for (const item of values(headers[VERSION_HEADER])) {
    const [service = '', ...rest] = item.split(/\s+/);
    if (service.toLowerCase() === 'compute' && rest.length > 0) return rest.join(' ');
  }
  return values(headers[LEGACY_VERSION_HEADER]).at(-1);
}

/**
 * The version to serve: none asked is 2.1, `latest` is the maximum, and
 * anything outside the range is refused with a 406 naming it (Nova's
 * message). The refused version is still echoed in the response headers, so
 * it is kept on the error.
 */
export function negotiate(headers: Record<string, HeaderValue>): ApiVersion {
  const asked = requestedVersion(headers);
  if (asked === undefined) return MIN;
  if (asked.toLowerCase() === 'latest') return MAX;
  const version = ApiVersion.parse(asked);
  if (version.compare(MIN) < 0 || version.compare(MAX) > 0) {
    throw new VersionNotAcceptable(
      `Version ${version.toString()} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`,
      version.toString(),
    );
  }
  return version;
}

/** The headers every versioned response carries (two separate `Vary` headers, as Nova sends). */
export function versionHeaders(version: string): [string, string][] {
  return [
    ['OpenStack-API-Version', `compute ${version}`],
    ['X-OpenStack-Nova-API-Version', version],
    ['Vary', 'OpenStack-API-Version'],
    ['Vary', 'X-OpenStack-Nova-API-Version'],
  ];
}
