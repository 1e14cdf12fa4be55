import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/** The ConfigError that loadConfig throws for `env`; fails the test if it throws nothing. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('an empty environment gives a working localhost configuration', () => {
    expect(loadConfig({})).toMatchObject({
      port: 3000,
      rpId: 'localhost',
      origins: ['http://localhost:3000'],
      databaseUrl: './data/passkeys.db',
      challengeTtlSeconds: 300,
      sessionTtlSeconds: 3600,
      userVerification: 'required',
      publicUrl: 'http://localhost:3000',
      tokenIssuer: 'http://localhost:3000',
      tokenAudience: 'localhost',
      apiKeys: [],
      topOrigins: [],
    });
  });

  it('the token issuer defaults to PUBLIC_URL and the audience to the RP ID', () => {
    const config = loadConfig({
      RP_ID: 'example.com',
      SMTP_URL: 'smtp://mail.example.com',
      PUBLIC_URL: 'https://login.example.com',
      ORIGINS: 'https://login.example.com,https://example.com',
    });
    expect(config.tokenIssuer).toBe('https://login.example.com');
    expect(config.tokenAudience).toBe('example.com');
  });

  it("adding a site's origin in front of ORIGINS leaves the issuer as it is", () => {
    const env = { RP_ID: 'example.com', SMTP_URL: 'smtp://mail.example.com', PUBLIC_URL: 'https://auth.example.com', ORIGINS: 'https://auth.example.com' };
    const before = loadConfig(env);
    const after = loadConfig({ ...env, ORIGINS: 'https://shop.example.com,https://auth.example.com' });
    expect(after.origins).toEqual(['https://shop.example.com', 'https://auth.example.com']);
    expect(after.tokenIssuer).toBe('https://auth.example.com');
    expect(after.tokenIssuer).toBe(before.tokenIssuer);
  });

  it('without PUBLIC_URL, the issuer stays http://localhost:$PORT whatever ORIGINS lists', () => {
    const config = loadConfig({ ORIGINS: 'http://app.localhost:8080,http://localhost:3000' });
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.tokenIssuer).toBe('http://localhost:3000');
    expect(loadConfig({ PORT: '4000' }).tokenIssuer).toBe('http://localhost:4000');
  });

  it("ORIGINS defaults to PUBLIC_URL's origin, and TOKEN_ISSUER still wins over PUBLIC_URL", () => {
    const config = loadConfig({ RP_ID: 'example.com', SMTP_URL: 'smtp://mail.example.com', PUBLIC_URL: 'https://auth.example.com/passkeys/' });
    expect(config.publicUrl).toBe('https://auth.example.com/passkeys');
    expect(config.origins).toEqual(['https://auth.example.com']);
    expect(config.tokenIssuer).toBe('https://auth.example.com/passkeys');
    expect(
      loadConfig({ RP_ID: 'example.com', SMTP_URL: 'smtp://mail.example.com', PUBLIC_URL: 'https://auth.example.com/', TOKEN_ISSUER: 'https://issuer.example' })
        .tokenIssuer,
    ).toBe('https://issuer.example');
    expect(loadConfig({ RP_ID: 'example.com', SMTP_URL: 'smtp://mail.example.com', PUBLIC_URL: 'https://auth.example.com/' }).publicUrl).toBe(
      'https://auth.example.com',
    );
  });

  it('the command that adds a site is accepted as shown', () => {
    const config = loadConfig({
      ORIGINS: 'https://auth.example.com,https://shop.example.com',
      PUBLIC_URL: 'https://auth.example.com',
      RP_ID: 'example.com',
      SMTP_URL: 'smtp://mail.example.com',
    });
    expect(config).toMatchObject({
      origins: ['https://auth.example.com', 'https://shop.example.com'],
      tokenIssuer: 'https://auth.example.com',
      tokenAudience: 'example.com',
    });
  });
});

describe('loadConfig parsing', () => {
  it('ORIGINS is split on commas, each origin trimmed and empty entries dropped', () => {
    const config = loadConfig({ RP_ID: 'example.com', SMTP_URL: 'smtp://mail.example.com', ORIGINS: ' https://example.com , https://app.example.com,, ' });
    expect(config.origins).toEqual(['https://example.com', 'https://app.example.com']);
  });

  it('TOP_ORIGINS is split on commas and trimmed; any site may frame, https or http on localhost', () => {
    const config = loadConfig({
      RP_ID: 'example.com',
      SMTP_URL: 'smtp://mail.example.com',
      ORIGINS: 'https://login.example.com',
      TOP_ORIGINS: ' https://shop.example.org ,, http://localhost:8080, https://example.com',
    });
    expect(config.topOrigins).toEqual(['https://shop.example.org', 'http://localhost:8080', 'https://example.com']);
  });

  it('TTL limits are inclusive: 10 and 3600 seconds are accepted for challenges', () => {
    expect(loadConfig({ CHALLENGE_TTL_SECONDS: '10' }).challengeTtlSeconds).toBe(10);
    expect(loadConfig({ CHALLENGE_TTL_SECONDS: '3600' }).challengeTtlSeconds).toBe(3600);
  });

  it('durability defaults to synchronous=FULL, and NORMAL can be chosen', () => {
    expect(loadConfig({}).sqliteSynchronous).toBe('FULL');
    expect(loadConfig({ SQLITE_SYNCHRONOUS: 'NORMAL' }).sqliteSynchronous).toBe('NORMAL');
  });

  it('HOST takes an IPv4 or IPv6 address or a host name', () => {
    for (const host of ['127.0.0.1', '::', '::1', 'localhost', 'Service.Internal', 'proj_app_1', 'db.example.com.'])
      expect(loadConfig({ HOST: host }).host).toBe(host);
  });

  it("TRUST_PROXY takes false, a hop count, or the proxies' addresses and subnets", () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8, ::1' }).trustProxy).toBe('loopback, 10.0.0.0/8, ::1');
  });

  it("TRUST_PROXY=true is refused, asking for the proxies' addresses", () => {
    const error = configError({ TRUST_PROXY: 'true' });
    expect(error.variable).toBe('TRUST_PROXY');
    expect(error.message).toMatch(/addresses/);
  });

  it('slow clients get tight limits by default: headers 10 s, request 30 s, keep-alive 5 s, 1,000 connections', () => {
    expect(loadConfig({}).connections).toEqual({ headersTimeoutSeconds: 10, requestTimeoutSeconds: 30, keepAliveTimeoutSeconds: 5, maxConnections: 1000 });
    expect(
      loadConfig({ HEADERS_TIMEOUT_SECONDS: '5', REQUEST_TIMEOUT_SECONDS: '5', KEEP_ALIVE_TIMEOUT_SECONDS: '65', MAX_CONNECTIONS: '200' }).connections,
    ).toEqual({
      headersTimeoutSeconds: 5,
      requestTimeoutSeconds: 5,
      keepAliveTimeoutSeconds: 65,
      maxConnections: 200,
    });
  });

  it('metrics have no listener of their own unless METRICS_PORT is set; METRICS_HOST defaults to loopback', () => {
    expect(loadConfig({}).metricsListener).toBeUndefined();
    expect(loadConfig({ METRICS_PORT: '9100' }).metricsListener).toEqual({ port: 9100, host: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '9100', METRICS_HOST: '10.0.0.5' }).metricsListener).toEqual({ port: 9100, host: '10.0.0.5' });
  });

  it('usernameless sign-in starts have a bucket of their own, 600 a minute by default', () => {
    expect(loadConfig({}).rateLimits.discoverablePerIp).toBe(600);
    expect(loadConfig({ RATE_LIMIT_DISCOVERABLE_PER_IP: '50' }).rateLimits.discoverablePerIp).toBe(50);
  });

  it('SMTP_URL is required for an RP ID other than localhost, unless EMAIL_DELIVERY=log', () => {
    const site = { RP_ID: 'example.com', PUBLIC_URL: 'https://auth.example.com' };
    expect(() => loadConfig(site)).toThrow(/^SMTP_URL: required/);
    expect(loadConfig({ ...site, EMAIL_DELIVERY: 'log' }).email.delivery).toBe('log');
    expect(loadConfig({ ...site, SMTP_URL: 'smtps://user:secret@mail.example.com' }).email).toMatchObject({
      delivery: 'smtp',
      smtpUrl: 'smtps://user:secret@mail.example.com',
      from: '"Passkey service" <no-reply@example.com>',
    });
    // Zero configuration: localhost prints emails in the log.
    expect(loadConfig({}).email).toMatchObject({ delivery: 'log', smtpUrl: undefined, recovery: true, codeTtlSeconds: 600 });
    expect(() => loadConfig({ EMAIL_DELIVERY: 'smtp' })).toThrow(/^SMTP_URL: required/);
  });

  it('admin keys are a list of their own, none by default, with 600 admin requests a minute per IP', () => {
    expect(loadConfig({}).adminApiKeys).toEqual([]);
    expect(loadConfig({ ADMIN_API_KEYS: ' admin-key-0123456789 , other-admin-key-0123 ' }).adminApiKeys).toEqual([
      'admin-key-0123456789',
      'other-admin-key-0123',
    ]);
    expect(loadConfig({}).rateLimits.adminPerIp).toBe(600);
  });

  it('USER_VERIFICATION=preferred is accepted', () => {
    expect(loadConfig({ USER_VERIFICATION: 'preferred' }).userVerification).toBe('preferred');
  });
});

describe('loadConfig refuses invalid input with a ConfigError naming the variable', () => {
  it.each<[string, Record<string, string>, string]>([
    ['a non-numeric PORT', { PORT: 'http' }, 'PORT'],
    ['a PORT above 65535', { PORT: '65536' }, 'PORT'],
    ['a negative PORT', { PORT: '-1' }, 'PORT'],
    ['a non-numeric CHALLENGE_TTL_SECONDS', { CHALLENGE_TTL_SECONDS: 'soon' }, 'CHALLENGE_TTL_SECONDS'],
    ['a fractional CHALLENGE_TTL_SECONDS', { CHALLENGE_TTL_SECONDS: '30.5' }, 'CHALLENGE_TTL_SECONDS'],
    ['a CHALLENGE_TTL_SECONDS below 10', { CHALLENGE_TTL_SECONDS: '9' }, 'CHALLENGE_TTL_SECONDS'],
    ['a CHALLENGE_TTL_SECONDS above an hour', { CHALLENGE_TTL_SECONDS: '3601' }, 'CHALLENGE_TTL_SECONDS'],
    ['a non-numeric SESSION_TTL_SECONDS', { SESSION_TTL_SECONDS: 'forever' }, 'SESSION_TTL_SECONDS'],
    ['a SESSION_TTL_SECONDS below a minute', { SESSION_TTL_SECONDS: '59' }, 'SESSION_TTL_SECONDS'],
    ['a SESSION_TTL_SECONDS above 30 days', { SESSION_TTL_SECONDS: String(30 * 24 * 3600 + 1) }, 'SESSION_TTL_SECONDS'],
    ['an origin on another domain than the RP ID', { RP_ID: 'example.com', ORIGINS: 'https://example.org' }, 'ORIGINS'],
    ['an origin on a look-alike domain', { RP_ID: 'example.com', ORIGINS: 'https://notexample.com' }, 'ORIGINS'],
    ['an origin not on the default RP ID localhost', { ORIGINS: 'https://example.com' }, 'ORIGINS'],
    ['an http origin on a non-localhost RP ID', { RP_ID: 'example.com', ORIGINS: 'http://example.com' }, 'ORIGINS'],
    ['an origin with a path', { RP_ID: 'example.com', ORIGINS: 'https://example.com/login' }, 'ORIGINS'],
    ['an origin that is not a URL', { ORIGINS: 'localhost:3000' }, 'ORIGINS'],
    ['a TOP_ORIGINS entry that is not a URL', { TOP_ORIGINS: 'shop.example.org' }, 'TOP_ORIGINS'],
    ['a TOP_ORIGINS entry with a path', { TOP_ORIGINS: 'https://shop.example.org/checkout' }, 'TOP_ORIGINS'],
    ['a TOP_ORIGINS entry with a trailing slash', { TOP_ORIGINS: 'https://shop.example.org/' }, 'TOP_ORIGINS'],
    ['a TOP_ORIGINS entry over http off localhost', { TOP_ORIGINS: 'https://a.example, http://shop.example.org' }, 'TOP_ORIGINS'],
    ['a TOP_ORIGINS wildcard', { TOP_ORIGINS: '*' }, 'TOP_ORIGINS'],
    ['an RP_ID with a scheme', { RP_ID: 'https://example.com' }, 'RP_ID'],
    ['an RP_ID with a port', { RP_ID: 'example.com:8443' }, 'RP_ID'],
    ['a USER_VERIFICATION other than required or preferred', { USER_VERIFICATION: 'discouraged' }, 'USER_VERIFICATION'],
    ['a SQLITE_SYNCHRONOUS other than FULL or NORMAL', { SQLITE_SYNCHRONOUS: 'OFF' }, 'SQLITE_SYNCHRONOUS'],
    ['a RATE_LIMIT_ENABLED that is not a boolean', { RATE_LIMIT_ENABLED: 'maybe' }, 'RATE_LIMIT_ENABLED'],
    ['an SMTP_URL of another scheme', { SMTP_URL: 'http://mail.example.com' }, 'SMTP_URL'],
    ['an SMTP_URL that is not a URL', { SMTP_URL: 'mail.example.com:587' }, 'SMTP_URL'],
    ['an EMAIL_DELIVERY other than smtp or log', { EMAIL_DELIVERY: 'console' }, 'EMAIL_DELIVERY'],
    ['an EMAIL_CODE_TTL_SECONDS under a minute', { EMAIL_CODE_TTL_SECONDS: '30' }, 'EMAIL_CODE_TTL_SECONDS'],
    ['an EMAIL_RECOVERY that is not a boolean', { EMAIL_RECOVERY: 'sometimes' }, 'EMAIL_RECOVERY'],
    ['an EMAIL_FROM without an address', { EMAIL_FROM: 'Example Shop' }, 'EMAIL_FROM'],
    ['an admin key shorter than 16 characters', { ADMIN_API_KEYS: 'short-admin' }, 'ADMIN_API_KEYS'],
    ['a key that is both an introspection and an admin key', { API_KEYS: 'same-key-0123456789', ADMIN_API_KEYS: 'same-key-0123456789' }, 'ADMIN_API_KEYS'],
    ['a RATE_LIMIT_ADMIN_PER_IP of 0', { RATE_LIMIT_ADMIN_PER_IP: '0' }, 'RATE_LIMIT_ADMIN_PER_IP'],
    ['an API key shorter than 16 characters', { API_KEYS: 'short-key' }, 'API_KEYS'],
    ['one short API key among long ones', { API_KEYS: 'a-long-enough-api-key-1,tiny' }, 'API_KEYS'],
    ['a TRUST_PROXY that is no address', { TRUST_PROXY: 'yes' }, 'TRUST_PROXY'],
    ['a TRUST_PROXY subnet with a bad prefix', { TRUST_PROXY: 'loopback, 10.0.0.0/33' }, 'TRUST_PROXY'],
    ['TRUST_PROXY=true', { TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    ['a HEADERS_TIMEOUT_SECONDS of 0', { HEADERS_TIMEOUT_SECONDS: '0' }, 'HEADERS_TIMEOUT_SECONDS'],
    ['a REQUEST_TIMEOUT_SECONDS shorter than the headers timeout', { HEADERS_TIMEOUT_SECONDS: '20', REQUEST_TIMEOUT_SECONDS: '10' }, 'REQUEST_TIMEOUT_SECONDS'],
    ['a MAX_CONNECTIONS of 0', { MAX_CONNECTIONS: '0' }, 'MAX_CONNECTIONS'],
    ['a METRICS_PORT that is PORT', { PORT: '3000', METRICS_PORT: '3000' }, 'METRICS_PORT'],
    ['a METRICS_HOST without METRICS_PORT', { METRICS_HOST: '127.0.0.1' }, 'METRICS_HOST'],
    ['a METRICS_HOST with a port', { METRICS_PORT: '9100', METRICS_HOST: '127.0.0.1:9100' }, 'METRICS_HOST'],
    ['a REDIS_URL that is not redis://', { REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL'],
    ['a DATABASE_URL that is a sqlite:// URL', { DATABASE_URL: 'sqlite:///var/lib/passkeys.db' }, 'DATABASE_URL'],
    ['a DATABASE_URL for another database', { DATABASE_URL: 'mysql://root@127.0.0.1/passkeys' }, 'DATABASE_URL'],
    ['a PUBLIC_URL that is not a URL', { PUBLIC_URL: 'auth.example.com' }, 'PUBLIC_URL'],
    ['a PUBLIC_URL over http off localhost', { RP_ID: 'example.com', PUBLIC_URL: 'http://auth.example.com' }, 'PUBLIC_URL'],
    ['a PUBLIC_URL with a query', { PUBLIC_URL: 'http://localhost:3000/?x=1' }, 'PUBLIC_URL'],
    ['a PUBLIC_URL of another scheme', { PUBLIC_URL: 'ftp://localhost' }, 'PUBLIC_URL'],
    ['a PUBLIC_URL off RP_ID with ORIGINS left to its default', { RP_ID: 'example.com', PUBLIC_URL: 'https://auth.example.org' }, 'ORIGINS'],
    ['a HOST with a port', { HOST: '0.0.0.0:3000' }, 'HOST'],
    ['a HOST with a scheme', { HOST: 'http://localhost' }, 'HOST'],
    ['a HOST that is an IPv6 address in brackets', { HOST: '[::1]' }, 'HOST'],
  ])('%s', (_case, env, variable) => {
    const error = configError(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^${variable}: `));
  });
});

/** Runs server/main.ts until it exits by itself (or 15 s pass: code null), in `cwd`. */
function runEntryPoint(env: Record<string, string>, cwd = repo): Promise<{ code: number | null; stderr: string }> {
  // tsx by its path, so that the working directory can be any folder.
  const tsx = join(repo, 'node_modules/tsx/dist/loader.mjs');
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', pathToFileURL(tsx).href, join(repo, 'server/main.ts')], { cwd, env, timeout: 15_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }),
    );
  });
}

describe('the entry point', () => {
  it('with CHALLENGE_TTL_SECONDS=soon exits non-zero with one stderr line naming the variable', async () => {
    const env = {
      PATH: process.env.PATH ?? '',
      CHALLENGE_TTL_SECONDS: 'soon',
      // Should it start after all: no file, no fixed port.
      DATABASE_URL: ':memory:',
      PORT: '0',
    };
    const result = await runEntryPoint(env);

    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull(); // null: killed by the timeout, i.e. it did not exit by itself
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('CHALLENGE_TTL_SECONDS');
  });

  it('reads .env in its working directory, and a variable of the real environment wins over it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'passkeys-dotenv-'));
    try {
      writeFileSync(join(cwd, '.env'), 'CHALLENGE_TTL_SECONDS=soon\nDATABASE_URL=:memory:\nPORT=0\n');
      const env = { PATH: process.env.PATH ?? '' };
      const fromFile = await runEntryPoint(env, cwd);
      expect(fromFile.code).toBe(1);
      expect(fromFile.stderr.trimEnd().split('\n')).toEqual([
        expect.stringContaining('CHALLENGE_TTL_SECONDS: expected a whole number from 10 to 3600, got "soon"'),
      ]);
      const overridden = await runEntryPoint({ ...env, CHALLENGE_TTL_SECONDS: '9' }, cwd);
      expect(overridden.code).toBe(1);
      expect(overridden.stderr.trimEnd().split('\n')).toEqual([expect.stringContaining('got "9"')]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('the entry point, with a database it cannot open', () => {
  it('exits non-zero with one stderr line saying why', async () => {
    // Its directory is a file.
    const dir = mkdtempSync(join(tmpdir(), 'passkeys-config-'));
    try {
      const notADirectory = join(dir, 'file');
      writeFileSync(notADirectory, '');
      const env = { PATH: process.env.PATH ?? '', DATABASE_URL: join(notADirectory, 'passkeys.db'), PORT: '0' };
      const result = await runEntryPoint(env);
      expect(result.code).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^Could not start: .*file/)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('.env.example', () => {
  // Every line, set or commented out: `NAME=value` or `# NAME=value`.
  const example = readFileSync(new URL('.env.example', `file://${repo}`), 'utf8');
  const entries = [...example.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, name, value]) => [name!, value!] as const);

  it('names every variable the service reads', () => {
    const source = readFileSync(new URL('server/config.ts', `file://${repo}`), 'utf8');
    const read = new Set([...source.matchAll(/env\.([A-Z][A-Z0-9_]*)|env, '([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1] ?? m[2]));
    expect(read.size).toBeGreaterThan(20);
    expect([...read].filter((name) => !entries.some(([listed]) => listed === name))).toEqual([]);
  });

  it('holds values the service accepts', () => {
    const env = Object.fromEntries(entries.filter(([, value]) => value !== ''));
    expect(() => loadConfig(env)).not.toThrow();
  });
});
