import { IdentityUnavailable } from '../../errors.js';

/** What Keystone says about a valid token (the parts a compute request needs). */
export interface TokenInfo {
  readonly userId: string;
  /** Undefined for a token not scoped to a project (unscoped, domain or system scope). */
  readonly projectId: string | undefined;
  readonly roles: readonly string[];
  /** When Keystone stops honouring the token, in ms since the epoch. */
  readonly expiresAt: number;
}

export interface ServiceCredentials {
  readonly username: string;
  readonly password: string;
  readonly userDomainName: string;
  readonly projectName: string;
  readonly projectDomainName: string;
}

export interface IdentityClientOptions {
  /** The Identity v3 root, e.g. `http://127.0.0.1:5000/v3`. */
  readonly url: string;
  readonly credentials: ServiceCredentials;
  /** The most one `validate` may take, everything included. */
  readonly timeoutMs: number;
  /** Extra attempts after a refused or dropped connection. */
  readonly connectRetries: number;
  readonly now?: () => number;
}

/**
 * Renew the service token this long before it expires (keystoneauth's
 * MIN_TOKEN_LIFE_SECONDS): a token that runs out in the middle of a
 * validation would turn a good user token into a 503.
 */
const RENEW_BEFORE_MS = 120_000;

/** Accepts `http://host:5000`, `http://host:5000/` and `…/v3` alike, as keystoneauth does. */
export function identityV3Url(authUrl: string): string {
  const trimmed = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
}

/**
 * A client of Keystone's v3 API for one compute service: gets the service's
 * own token (and a new one before it expires, or when Keystone stops
 * honouring it), and validates user tokens with it (`GET /v3/auth/tokens`,
 * `X-Subject-Token`). Every call is bounded by `timeoutMs`; anything but a
 * clear "this token is not valid" is an `IdentityUnavailable`.
 */
export class IdentityClient {
  private serviceToken: { value: string; expiresAt: number } | undefined;
  /** The one service-token request in flight: concurrent validations share it. */
  private pendingServiceToken: Promise<string> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: IdentityClientOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The token's facts, or undefined when Keystone says it is not valid (unknown, expired, revoked). */
  async validate(userToken: string): Promise<TokenInfo | undefined> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    for (let attempt = 0; ; attempt++) {
      const serviceToken = await this.currentServiceToken(signal);
      const response = await this.send(
        '/auth/tokens?nocatalog',
        {
          method: 'GET',
          headers: { 'x-auth-token': serviceToken, 'x-subject-token': userToken },
        },
        signal,
      );
      if (response.status === 200) return tokenInfo(await this.json(response, signal));
      // Keystone's answer for a token it does not know, that expired or that was revoked.
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      await response.body?.cancel();
      if (response.status === 401 && attempt === 0) {
        // Our own token is no longer honoured (revoked, keys rotated): get a new one, once.
        this.forgetServiceToken(serviceToken);
        continue;
      }
      throw new IdentityUnavailable(
        response.status === 401 || response.status === 403
          ? `Keystone refused the service token to validate tokens (${response.status}); check [keystone_authtoken] username and roles`
          : `Keystone answered ${response.status} to a token validation`,
      );
    }
  }

  private async currentServiceToken(signal: AbortSignal): Promise<string> {
    const token = this.serviceToken;
    if (token && token.expiresAt - RENEW_BEFORE_MS > this.now()) return token.value;
    this.pendingServiceToken ??= this.issueServiceToken().finally(() => {
      this.pendingServiceToken = undefined;
    });
    // The shared request has its own deadline; this caller stops waiting at its own.
    return await abortable(this.pendingServiceToken, signal);
  }

  private forgetServiceToken(value: string): void {
    if (this.serviceToken?.value === value) this.serviceToken = undefined;
  }

  private async issueServiceToken(): Promise<string> {
    const c = this.options.credentials;
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const response = await this.send(
      '/auth/tokens?nocatalog',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ['password'],
              password: {
                user: {
                  name: c.username,
                  domain: { name: c.userDomainName },
                  password: c.password,
                },
              },
            },
            scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
          },
        }),
      },
      signal,
    );
    const value = response.headers.get('x-subject-token');
    if (response.status !== 201 || value === null) {
      await response.body?.cancel();
      throw new IdentityUnavailable(
        response.status === 401
          ? `Keystone refused the service credentials of [keystone_authtoken] (user ${c.username}, project ${c.projectName})`
          : `Keystone answered ${response.status} when asked for the service token`,
      );
    }
    const info = tokenInfo(await this.json(response, signal));
    this.serviceToken = { value, expiresAt: info.expiresAt };
    return value;
  }

  /** One request, tried again after a refused or dropped connection while time remains. */
  private async send(path: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
    const url = `${this.options.url}${path}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch(url, { ...init, signal });
      } catch (error) {
        if (signal.aborted) {
          throw new IdentityUnavailable(
            `Keystone at ${this.options.url} did not answer within ${this.options.timeoutMs} ms`,
            { cause: error },
          );
        }
        if (attempt >= this.options.connectRetries) {
          throw new IdentityUnavailable(
            `cannot reach Keystone at ${this.options.url}: ${networkReason(error)}`,
            { cause: error },
          );
        }
        // keystoneauth's connect-retry backoff, scaled down: the whole call has one deadline.
        await sleep(100 * 2 ** attempt, signal).catch(() => undefined);
      }
    }
  }

  private async json(response: Response, signal: AbortSignal): Promise<unknown> {
    try {
      return await response.json();
    } catch (error) {
      throw new IdentityUnavailable(
        signal.aborted
          ? `Keystone at ${this.options.url} did not finish answering within ${this.options.timeoutMs} ms`
          : `Keystone sent a body that is not JSON`,
        { cause: error },
      );
    }
  }
}

function tokenInfo(body: unknown): TokenInfo {
  const token = (body as { token?: unknown } | null)?.token as
    | {
        expires_at?: unknown;
        user?: { id?: unknown };
        project?: { id?: unknown };
        roles?: { name?: unknown }[];
      }
    | undefined;
  const userId = token?.user?.id;
  const expiresAt = typeof token?.expires_at === 'string' ? Date.parse(token.expires_at) : NaN;
  if (typeof userId !== 'string' || Number.isNaN(expiresAt)) {
    throw new IdentityUnavailable('Keystone sent a token without a user or an expiry');
  }
  const projectId = token?.project?.id;
  return {
    userId,
    projectId: typeof projectId === 'string' ? projectId : undefined,
    roles: (token?.roles ?? []).flatMap((r) => (typeof r.name === 'string' ? [r.name] : [])),
    expiresAt,
  };
}

function networkReason(error: unknown): string {
  // fetch reports every network failure as "fetch failed"; the cause says which.
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      },
      { once: true },
    );
  });
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(timedOut());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(timedOut());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function timedOut(): IdentityUnavailable {
  return new IdentityUnavailable('Keystone did not issue the service token in time');
}
