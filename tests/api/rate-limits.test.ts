import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { signIn, signUp, SoftAuthenticator, startService, type TestService } from '../helpers/service.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const limits = { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_CEREMONY_PER_IP: '5', RATE_LIMIT_CEREMONY_PER_EMAIL: '3', RATE_LIMIT_DISCOVERABLE_PER_IP: '8' };
const from = (ip: string) => ({ 'x-forwarded-for': ip });
// A sign-in start by email, a new email each time: it spends the per-IP ceremony budget only.
let emails = 0;
const byEmail = () => ({ email: `user${++emails}@example.com` });

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
async function service(env: Record<string, string>) {
  const started = await startService(env);
  cleanup.push(() => started.close());
  return started;
}

async function exhaust(svc: TestService, n: number, headers: Record<string, string>, body?: object) {
  for (let i = 0; i < n; i++) expect((await svc.request('POST', '/v1/tokens', body ?? byEmail(), headers)).status).toBe(200);
}

describe('rate limits', () => {
  it('over the limit -> 429 rate_limited problem+json with Retry-After', async () => {
    const svc = await service(limits);
    await exhaust(svc, 5, {});
    const reply = await svc.request('POST', '/v1/tokens', byEmail());
    expect(reply.status).toBe(429);
    expect(reply.body).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('one client over the limit does not affect another (TRUST_PROXY set)', async () => {
    const svc = await service({ ...limits, TRUST_PROXY: 'loopback' });
    await exhaust(svc, 5, from('203.0.113.1'));
    expect((await svc.request('POST', '/v1/tokens', byEmail(), from('203.0.113.1'))).status).toBe(429);
    expect((await svc.request('POST', '/v1/tokens', byEmail(), from('203.0.113.2'))).status).toBe(200);
  });

  it('without TRUST_PROXY a spoofed X-Forwarded-For does not give a fresh bucket', async () => {
    const svc = await service(limits);
    await exhaust(svc, 5, from('203.0.113.1'));
    expect((await svc.request('POST', '/v1/tokens', byEmail(), from('198.51.100.7'))).status).toBe(429);
  });

  it('an attacker spending the per-email limit does not lock the victim out', async () => {
    const svc = await service({ ...limits, TRUST_PROXY: 'loopback' });
    const victim = new SoftAuthenticator();
    await signUp(svc, victim, 'victim@example.com');
    await exhaust(svc, 3, from('203.0.113.66'), { email: 'victim@example.com' });
    expect((await svc.request('POST', '/v1/tokens', { email: 'victim@example.com' }, from('203.0.113.66'))).status).toBe(429);
    const start = await svc.request('POST', '/v1/tokens', { email: 'victim@example.com' }, from('192.0.2.10'));
    expect(start.status).toBe(200);
  });

  it('guard introspection and the account endpoints too', async () => {
    const svc = await service({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_INTROSPECTION_PER_IP: '2', RATE_LIMIT_ACCOUNT_PER_IP: '2' });
    for (let i = 0; i < 2; i++) expect((await svc.request('POST', '/v1/tokens/introspect', { token: 'x' })).status).toBe(401);
    expect((await svc.request('POST', '/v1/tokens/introspect', { token: 'x' })).status).toBe(429);
    for (let i = 0; i < 2; i++) expect((await svc.request('GET', '/v1/me')).status).toBe(401);
    expect((await svc.request('GET', '/v1/credentials')).status).toBe(429);
  });

  it('usernameless sign-in starts have a bucket of their own: autofill on every page view spends no ceremony budget', async () => {
    const svc = await service({ ...limits, TRUST_PROXY: 'loopback' });
    const office = from('203.0.113.40');
    await exhaust(svc, 8, office, {});
    const over = await svc.request('POST', '/v1/tokens', {}, office);
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'rate_limited' });
    // The ceremony budget of that address is whole, and spending it leaves the other alone.
    await exhaust(svc, 5, office);
    expect((await svc.request('POST', '/v1/tokens', byEmail(), office)).status).toBe(429);
    expect((await svc.request('POST', '/v1/challenges', byEmail(), office)).status).toBe(429);
    // Another address has both budgets.
    expect((await svc.request('POST', '/v1/tokens', {}, from('203.0.113.41'))).status).toBe(200);
  });

  it('a malformed email is no usernameless start: it spends the ceremony budget', async () => {
    const svc = await service(limits);
    for (let i = 0; i < 5; i++) expect((await svc.request('POST', '/v1/tokens', { email: i % 2 ? null : 42 })).status).toBe(400);
    expect((await svc.request('POST', '/v1/tokens', byEmail())).status).toBe(429);
    expect((await svc.request('POST', '/v1/tokens', {})).status).toBe(200);
  });

  it('RATE_LIMIT_ENABLED=false turns them off', async () => {
    const svc = await service({ ...limits, RATE_LIMIT_ENABLED: 'false' });
    await exhaust(svc, 20, {});
  });
});

describe('rate limits in Redis', () => {
  it('are shared by every instance', async () => {
    const env = { ...limits, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `test-${randomBytes(6).toString('hex')}:` };
    const a = await service(env);
    const b = await service(env);
    await exhaust(a, 3, {});
    await exhaust(b, 2, {});
    expect((await a.request('POST', '/v1/tokens', byEmail())).status).toBe(429);
    expect((await b.request('POST', '/v1/tokens', byEmail())).status).toBe(429);
  });

  it('keep emails out of their keys: a long one (refused 400) leaves a short key, and none shows an email', async () => {
    const prefix = `test-${randomBytes(6).toString('hex')}:`;
    const svc = await service({ ...limits, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
    expect((await svc.request('POST', '/v1/tokens', { email: 'a'.repeat(60_000) })).status).toBe(400);
    expect((await svc.request('POST', '/v1/tokens', { email: 'alice@example.com' })).status).toBe(200);
    const redis = createClient({ url: redisUrl });
    await redis.connect();
    cleanup.push(async () => void (await redis.quit()));
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.filter((key) => key.includes('ceremony-email'))).toHaveLength(2);
    expect(keys.filter((key) => key.length > 200 || key.includes('@'))).toEqual([]);
  });

  it('key the per-email limit with an HMAC under the server secret, never a plain hash of the email', async () => {
    const prefix = `test-${randomBytes(6).toString('hex')}:`;
    const env = { ...limits, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };
    const a = await service(env);
    const b = await service(env); // a database, and so a server secret, of its own
    const redis = createClient({ url: redisUrl });
    await redis.connect();
    cleanup.push(async () => void (await redis.quit()));
    const emailKeys = async () => (await redis.keys(`${prefix}*`)).filter((key) => key.includes('ceremony-email'));
    const hits = async (key: string) => Number(await redis.get(key));
    // A first command can outlast the store's timeout on a busy machine (the request then passes unlimited): ask again.
    const poll = (check: () => Promise<unknown>) => expect.poll(check, { timeout: 10_000, interval: 100 });

    await poll(async () => (await a.request('POST', '/v1/tokens', { email: 'Alice@Example.com ' }), (await emailKeys()).length)).toBe(1);
    const [keyA] = await emailKeys();
    const plain = createHash('sha256').update('alice@example.com').digest('base64url');
    expect(keyA).not.toContain(plain);
    // Spelt differently, the same address counts on the same key.
    const before = await hits(keyA!);
    await poll(async () => (await a.request('POST', '/v1/tokens', { email: 'alice@example.com' }), await hits(keyA!))).toBeGreaterThan(before);
    expect(await emailKeys()).toEqual([keyA]);
    // Another secret gives another key: nobody without the secret can test a key against a list of emails.
    await poll(async () => (await b.request('POST', '/v1/tokens', { email: 'alice@example.com' }), (await emailKeys()).length)).toBe(2);
    expect((await emailKeys()).every((key) => !key.includes(plain))).toBe(true);
  });

  it('when Redis stops answering, sign-in goes on without limits, and the service still shuts down', async () => {
    const proxy: TcpProxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    cleanup.push(() => proxy.close());
    const svc = await startService({ ...limits, REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_KEY_PREFIX: `test-${randomBytes(6).toString('hex')}:` });
    let closed = false;
    cleanup.push(async () => void (closed || (await svc.close())));
    const authenticator = new SoftAuthenticator();
    await signUp(svc, authenticator, 'alice@example.com');

    proxy.stall();
    // More than either limit allows: each request waits for Redis a moment, then passes.
    for (let i = 0; i < 4; i++) expect((await signIn(svc, authenticator, 'alice@example.com')).status).toBe(200);
    await svc.close();
    closed = true;
  });

  it('when Redis is lost, sign-in goes on without limits (one warning), and limits come back with Redis', async () => {
    const proxy: TcpProxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    cleanup.push(() => proxy.close());
    const warnings: string[] = [];
    // The emails the service prints (no SMTP_URL) are warnings too: they are not about Redis.
    const record = (line: { msg: string; email?: unknown }) => (line.email === undefined ? warnings.push(line.msg) : 0);
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk, _encoding, done) => done(void record(JSON.parse(chunk.toString()))) }));
    const svc = await startService(
      { ...limits, REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_KEY_PREFIX: `test-${randomBytes(6).toString('hex')}:` },
      {},
      { log },
    );
    cleanup.push(() => svc.close());
    const authenticator = new SoftAuthenticator();
    await signUp(svc, authenticator, 'alice@example.com');

    await proxy.cut();
    for (let i = 0; i < 8; i++) expect((await signIn(svc, authenticator, 'alice@example.com')).status).toBe(200);
    // 8 sign-ins, each checked by 3 limits: the outage is reported, not every request of it.
    expect(warnings.filter((message) => message.startsWith('rate limit')).length).toBeLessThanOrEqual(1);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(2);

    await proxy.restore();
    await expect.poll(async () => (await svc.request('POST', '/v1/tokens', byEmail())).status, { timeout: 10_000, interval: 200 }).toBe(429);
  });
});
