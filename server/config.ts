// The one place that knows environment variable names. `loadConfig(env)` is pure:
// main.ts passes process.env, tests pass literals. Invalid input throws ConfigError
// naming the variable, and main.ts prints that one line and exits.
import { isIP } from 'node:net';

export type UserVerification = 'required' | 'preferred';

export interface Config {
  port: number;
  host: string;
  /** The service's own public URL: the default token issuer and, by its origin, the default ORIGINS. */
  publicUrl: string;
  rpId: string;
  rpName: string;
  origins: string[];
  /** Pages that may embed a ceremony in a cross-origin frame; empty: no cross-origin ceremony. */
  topOrigins: string[];
  databaseUrl: string;
  databasePoolSize: number;
  challengeTtlSeconds: number;
  sessionTtlSeconds: number;
  reauthMaxAgeSeconds: number;
  tokenIssuer: string;
  tokenAudience: string;
  apiKeys: string[];
  /** Keys of the admin API (/v1/admin); they may introspect too. */
  adminApiKeys: string[];
  userVerification: UserVerification;
  logLevel: string;
  bodyLimit: string;
  sqliteBusyTimeoutMs: number;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  statementTimeoutMs: number;
  trustProxy: false | number | string;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  rateLimits: RateLimitConfig;
  metricsToken: string | undefined;
  /** A listener of its own for GET /metrics (METRICS_PORT), or none. */
  metricsListener: { port: number; host: string } | undefined;
  connections: ConnectionLimits;
  sweepIntervalSeconds: number;
  auditRetentionDays: number;
  shutdownTimeoutSeconds: number;
  email: EmailConfig;
  /** Webhook URLs may be http and reach private addresses (development, tests); default on localhost only. */
  webhookAllowPrivateUrls: boolean;
}

/** How the service sends the emails it promises (server/email/). */
export interface EmailConfig {
  /** smtp: through SMTP_URL; log: each email, code included, goes to the service's log instead. */
  delivery: 'smtp' | 'log';
  smtpUrl: string | undefined;
  from: string;
  /** POST/PUT /v1/recovery; false for sites that run their own recovery. */
  recovery: boolean;
  codeTtlSeconds: number;
}

/** Requests per minute; `enabled: false` turns every limit off (benchmarks, never production). */
export interface RateLimitConfig {
  enabled: boolean;
  ceremonyPerIp: number;
  ceremonyPerEmail: number;
  introspectionPerIp: number;
  accountPerIp: number;
  /** Usernameless (autofill) sign-in starts, which a page may make on every view. */
  discoverablePerIp: number;
  /** Emails one address may be sent on request (recovery, a new verification code), per hour. */
  emailsPerAddressPerHour: number;
  adminPerIp: number;
}

/** What one client may hold of the HTTP server (server/http/server.ts). */
export interface ConnectionLimits {
  headersTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  keepAliveTimeoutSeconds: number;
  maxConnections: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number) {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function boolean(env: Record<string, string | undefined>, name: string, fallback: boolean) {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

// Express's "trust proxy": false (default: X-Forwarded-For is ignored), a number of
// hops, or a comma-separated list of the proxies' addresses/subnets (e.g. "loopback").
// Never `true`: it believes the leftmost X-Forwarded-For, which any client writes,
// so every per-IP limit and every audited address would be the client's choice.
function trustProxy(raw: string | undefined): false | number | string {
  const value = raw?.trim();
  if (!value || value === 'false') return false;
  if (value === 'true') {
    throw new ConfigError(
      'TRUST_PROXY',
      "true would believe any client's X-Forwarded-For: give your proxies' addresses or subnets (loopback, 10.0.0.0/8) or a hop count",
    );
  }
  if (/^\d+$/.test(value)) return Number(value);
  for (const entry of value.split(',').map((part) => part.trim())) {
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    const named = ['loopback', 'linklocal', 'uniquelocal'].includes(entry);
    const prefixOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!named && (family === 0 || !prefixOk || rest.length > 0)) {
      throw new ConfigError('TRUST_PROXY', `expected false, a hop count, or the proxies' addresses/subnets (loopback, 10.0.0.0/8), got "${entry}"`);
    }
  }
  return value;
}

function redisUrl(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  if (!/^rediss?:\/\/\S+$/.test(value)) throw new ConfigError('REDIS_URL', 'expected a redis:// or rediss:// URL');
  return value;
}

// Secrets that open an API: comma-separated, each long enough not to be guessed.
function keys(env: Record<string, string | undefined>, name: string): string[] {
  const values = list(env[name]);
  for (const key of values) {
    if (key.length < 16) throw new ConfigError(name, 'every key must be at least 16 characters long');
  }
  return values;
}

export const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

// A SQLite file path, or a PostgreSQL URL. Any other URL (sqlite://, mysql://, file://)
// would otherwise become a file path, a folder named after its scheme.
function databaseUrl(raw: string | undefined): string {
  const value = raw?.trim() || './data/passkeys.db';
  if (/^[a-z][a-z\d+.-]*:\/\//i.test(value) && !isPostgresUrl(value)) {
    throw new ConfigError('DATABASE_URL', `expected a SQLite file path or a postgres:// URL, got a ${value.split('://')[0]}:// URL`);
  }
  return value;
}

function oneOf<T extends string>(env: Record<string, string | undefined>, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

// An exact origin, https (or http on localhost, which browsers treat as secure).
function secureOrigin(origin: string, variable: string): URL {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new ConfigError(variable, `"${origin}" is not a URL`);
  }
  if (url.origin !== origin) {
    throw new ConfigError(variable, `"${origin}" is not an exact origin (expected "${url.origin}")`);
  }
  const localhost = url.hostname === 'localhost' || url.hostname.endsWith('.localhost');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && localhost)) {
    throw new ConfigError(variable, `"${origin}" must use https (http is allowed on localhost only)`);
  }
  return url;
}

// An origin is usable with an RP ID when its host is the RP ID or a subdomain of it.
function checkOrigin(origin: string, rpId: string) {
  const host = secureOrigin(origin, 'ORIGINS').hostname;
  if (host !== rpId && !host.endsWith(`.${rpId}`)) {
    throw new ConfigError('ORIGINS', `"${origin}" is not on RP_ID "${rpId}" or one of its subdomains`);
  }
}

// The service's own address, as its users and verifiers reach it. It is the token
// issuer, so it must not move when a site's origin is added to ORIGINS.
function publicUrl(raw: string | undefined, port: number): string {
  const value = raw?.trim() || `http://localhost:${port || 3000}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('PUBLIC_URL', `"${value}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('PUBLIC_URL', `"${value}" must be an https URL (http on localhost)`);
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError('PUBLIC_URL', `"${value}" must be an origin, or an origin and a path, without query, fragment or credentials`);
  }
  secureOrigin(url.origin, 'PUBLIC_URL');
  return url.origin + url.pathname.replace(/\/+$/, '');
}

// Top origins are the pages that frame a ceremony running on one of ORIGINS: any site.
function topOrigins(raw: string | undefined): string[] {
  const origins = list(raw);
  for (const origin of origins) secureOrigin(origin, 'TOP_ORIGINS');
  return origins;
}

const rpIdPattern = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

// HOST is what the server binds to: an IP address, or a name that resolves to one
// (container names may hold underscores).
const hostNamePattern = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;
function bindAddress(value: string | undefined, variable = 'HOST', fallback = '0.0.0.0'): string {
  const host = value?.trim() || fallback;
  if (isIP(host) === 0 && !hostNamePattern.test(host)) {
    throw new ConfigError(variable, `"${host}" is not an IP address or a host name (no scheme, no port, no brackets)`);
  }
  return host;
}

// Metrics on a port of their own (METRICS_PORT), bound to METRICS_HOST: loopback
// unless told otherwise, as that listener needs no METRICS_TOKEN.
function metricsListener(env: Record<string, string | undefined>, port: number) {
  if (!env.METRICS_PORT?.trim()) {
    if (env.METRICS_HOST?.trim()) throw new ConfigError('METRICS_HOST', 'set METRICS_PORT too: METRICS_HOST is where that listener binds');
    return undefined;
  }
  const metricsPort = integer(env, 'METRICS_PORT', 0, 1, 65535);
  if (metricsPort === port) throw new ConfigError('METRICS_PORT', `must differ from PORT (${port})`);
  return { port: metricsPort, host: bindAddress(env.METRICS_HOST, 'METRICS_HOST', '127.0.0.1') };
}

// Node's defaults (headers 60 s, request 300 s, no cap) let one slow client hold
// every file descriptor: a client that has not sent its headers, or its whole
// request, in time is disconnected, and sockets above the cap are closed at once.
function connectionLimits(env: Record<string, string | undefined>): ConnectionLimits {
  const headersTimeoutSeconds = integer(env, 'HEADERS_TIMEOUT_SECONDS', 10, 1, 300);
  const requestTimeoutSeconds = integer(env, 'REQUEST_TIMEOUT_SECONDS', 30, 1, 3600);
  if (requestTimeoutSeconds < headersTimeoutSeconds) {
    throw new ConfigError(
      'REQUEST_TIMEOUT_SECONDS',
      `must be at least HEADERS_TIMEOUT_SECONDS (${headersTimeoutSeconds}): the headers are part of the request`,
    );
  }
  return {
    headersTimeoutSeconds,
    requestTimeoutSeconds,
    keepAliveTimeoutSeconds: integer(env, 'KEEP_ALIVE_TIMEOUT_SECONDS', 5, 1, 600),
    maxConnections: integer(env, 'MAX_CONNECTIONS', 1000, 1, 1_000_000),
  };
}

// SMTP_URL: smtp:// (STARTTLS when the server offers it) or smtps:// (TLS from the
// start), credentials in the URL. Without it, emails go to the log: fine on localhost,
// where a developer reads them there, and refused elsewhere unless EMAIL_DELIVERY=log
// says so on purpose (the log would then hold every code).
function emailConfig(env: Record<string, string | undefined>, rpId: string, rpName: string): EmailConfig {
  const smtpUrl = env.SMTP_URL?.trim() || undefined;
  if (smtpUrl) {
    let url: URL;
    try {
      url = new URL(smtpUrl);
    } catch {
      throw new ConfigError('SMTP_URL', 'is not a URL (expected smtp://user:pass@host:587 or smtps://user:pass@host:465)');
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ConfigError('SMTP_URL', `expected smtp:// or smtps://, got ${url.protocol}//`);
    if (!url.hostname) throw new ConfigError('SMTP_URL', 'names no host');
  }
  const requested = oneOf(env, 'EMAIL_DELIVERY', ['smtp', 'log'] as const, smtpUrl || rpId !== 'localhost' ? 'smtp' : 'log');
  if (requested === 'smtp' && !smtpUrl) {
    throw new ConfigError('SMTP_URL', `required to send emails for RP_ID "${rpId}" (or set EMAIL_DELIVERY=log to print them, codes included, in the log)`);
  }
  const from = env.EMAIL_FROM?.trim() || `"${rpName.replace(/["\\\r\n]/g, '')}" <no-reply@${rpId}>`;
  if (/[\r\n]/.test(from) || !/@/.test(from))
    throw new ConfigError('EMAIL_FROM', `expected an address such as "Example" <no-reply@example.com>, got "${from}"`);
  return {
    delivery: requested,
    smtpUrl,
    from,
    recovery: boolean(env, 'EMAIL_RECOVERY', true),
    codeTtlSeconds: integer(env, 'EMAIL_CODE_TTL_SECONDS', 600, 60, 24 * 3600),
  };
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const rpId = env.RP_ID?.trim() || 'localhost';
  if (!rpIdPattern.test(rpId)) {
    throw new ConfigError('RP_ID', `"${rpId}" is not a lower-case domain name (no scheme, no port)`);
  }
  const rpName = env.RP_NAME?.trim() || 'Passkey service';
  const ownUrl = publicUrl(env.PUBLIC_URL, port);
  const origins = list(env.ORIGINS);
  if (origins.length === 0) origins.push(new URL(ownUrl).origin);
  for (const origin of origins) checkOrigin(origin, rpId);

  const apiKeys = keys(env, 'API_KEYS');
  const adminApiKeys = keys(env, 'ADMIN_API_KEYS');
  if (adminApiKeys.some((key) => apiKeys.includes(key))) {
    throw new ConfigError('ADMIN_API_KEYS', 'a key may not be both an introspection key (API_KEYS) and an admin key');
  }

  return {
    port,
    host: bindAddress(env.HOST),
    publicUrl: ownUrl,
    rpId,
    rpName,
    origins,
    topOrigins: topOrigins(env.TOP_ORIGINS),
    databaseUrl: databaseUrl(env.DATABASE_URL),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 100),
    challengeTtlSeconds: integer(env, 'CHALLENGE_TTL_SECONDS', 300, 10, 3600),
    sessionTtlSeconds: integer(env, 'SESSION_TTL_SECONDS', 3600, 60, 30 * 24 * 3600),
    reauthMaxAgeSeconds: integer(env, 'REAUTH_MAX_AGE_SECONDS', 300, 1, 24 * 3600),
    tokenIssuer: env.TOKEN_ISSUER?.trim() || ownUrl,
    tokenAudience: env.TOKEN_AUDIENCE?.trim() || rpId,
    apiKeys,
    adminApiKeys,
    userVerification: oneOf(env, 'USER_VERIFICATION', ['required', 'preferred'] as const, 'required'),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    bodyLimit: '64kb',
    sqliteBusyTimeoutMs: integer(env, 'SQLITE_BUSY_TIMEOUT_MS', 1000, 0, 60_000),
    sqliteSynchronous: oneOf(env, 'SQLITE_SYNCHRONOUS', ['FULL', 'NORMAL'] as const, 'FULL'),
    statementTimeoutMs: integer(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 5000, 100, 600_000),
    trustProxy: trustProxy(env.TRUST_PROXY),
    redisUrl: redisUrl(env.REDIS_URL),
    redisKeyPrefix: env.REDIS_KEY_PREFIX?.trim() || 'passkeys:',
    rateLimits: {
      enabled: boolean(env, 'RATE_LIMIT_ENABLED', true),
      ceremonyPerIp: integer(env, 'RATE_LIMIT_CEREMONY_PER_IP', 120, 1, 1_000_000),
      ceremonyPerEmail: integer(env, 'RATE_LIMIT_CEREMONY_PER_EMAIL', 10, 1, 1_000_000),
      introspectionPerIp: integer(env, 'RATE_LIMIT_INTROSPECTION_PER_IP', 1200, 1, 10_000_000),
      accountPerIp: integer(env, 'RATE_LIMIT_ACCOUNT_PER_IP', 300, 1, 1_000_000),
      discoverablePerIp: integer(env, 'RATE_LIMIT_DISCOVERABLE_PER_IP', 600, 1, 1_000_000),
      emailsPerAddressPerHour: integer(env, 'RATE_LIMIT_EMAILS_PER_ADDRESS', 5, 1, 1000),
      adminPerIp: integer(env, 'RATE_LIMIT_ADMIN_PER_IP', 600, 1, 1_000_000),
    },
    metricsToken: env.METRICS_TOKEN?.trim() || undefined,
    metricsListener: metricsListener(env, port),
    connections: connectionLimits(env),
    sweepIntervalSeconds: integer(env, 'SWEEP_INTERVAL_SECONDS', 60, 1, 86_400),
    auditRetentionDays: integer(env, 'AUDIT_RETENTION_DAYS', 365, 1, 36_500),
    shutdownTimeoutSeconds: integer(env, 'SHUTDOWN_TIMEOUT_SECONDS', 10, 1, 600),
    email: emailConfig(env, rpId, rpName),
    webhookAllowPrivateUrls: boolean(env, 'WEBHOOK_ALLOW_PRIVATE_URLS', rpId === 'localhost'),
  };
}
