import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMetricsApp } from '../../server/app.js';
import { createMetrics } from '../../server/http/metrics.js';
import { createServer } from '../../server/http/server.js';
import { sweepExpired } from '../../server/sweep.js';
import { engine } from '../helpers/database.js';
import { apiKey, auditTrail, bearer, signIn, signUp, SoftAuthenticator, startService, startSignIn, tableCounts, type TestService } from '../helpers/service.js';
import type { Tamper } from '../helpers/authenticator.js';

let service: TestService;
afterEach(() => service.close());

function captureLogs() {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

describe('logs', () => {
  it('carry a request id on every line, one line per request, and the outcome of each ceremony with its reason', async () => {
    const { lines, log } = captureLogs();
    service = await startService({}, {}, { log });
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'alice@example.com');
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    const failed = await service.request(
      'PUT',
      '/v1/tokens',
      { challengeId, authentication: await authenticator.getAssertion(options, { flipSignatureBit: true }) },
      { 'x-request-id': 'trace-42' },
    );
    expect(failed.headers.get('x-request-id')).toBe('trace-42');

    const requestLines = lines.filter((line) => line.msg === 'request completed' || line.msg === 'request errored');
    expect(requestLines).toHaveLength(4); // 2 for sign-up, 2 for sign-in
    // The sign-up's verification email is delivered (here: printed) by the outbox worker, outside any request.
    const emailLines = lines.filter((line) => line.outboxId !== undefined || line.email !== undefined);
    expect(emailLines.length).toBeGreaterThan(0);
    lines.splice(0, lines.length, ...lines.filter((line) => !emailLines.includes(line)));
    expect(lines.every((line) => typeof line.reqId === 'string')).toBe(true);
    const outcome = lines.find((line) => line.ceremony === 'authentication' && line.step === 'finish');
    expect(outcome).toMatchObject({ outcome: 'failure', code: 'authentication_failed', reqId: 'trace-42', reason: expect.stringContaining('ignature') });
    expect(lines.filter((line) => line.outcome === 'success')).toHaveLength(3);
    expect(lines).toHaveLength(4);
    expect(outcome).toMatchObject({ msg: 'request completed', req: { method: 'PUT', url: '/v1/tokens' }, res: { statusCode: 401 } });
  });

  it('never contain a token, a key, a credential or an API key', async () => {
    const { lines, log } = captureLogs();
    service = await startService({}, {}, { log });
    const authenticator = new SoftAuthenticator();
    const { token } = await signUp(service, authenticator, 'alice@example.com');
    await service.request('GET', '/v1/me', undefined, bearer(token));
    await service.request('POST', '/v1/tokens/introspect', { token }, { 'x-api-key': apiKey });
    await service.request('POST', '/v1/tokens/introspect', { token }, { 'x-api-key': 'a-wrong-api-key-123456' });
    const { body } = await signIn(service, authenticator, 'alice@example.com');
    await service.request('GET', '/v1/me', undefined, bearer(body.token));
    // A client that puts the token in the URL: the log keeps the path only.
    await service.request('GET', `/v1/me?access_token=${token}`);
    expect(lines.at(-1)).toMatchObject({ req: { method: 'GET', url: '/v1/me' } });

    const text = JSON.stringify(lines);
    const [header, payload, signature] = token.split('.');
    for (const secret of [
      header!,
      payload!,
      signature!,
      body.token.split('.')[2],
      apiKey,
      'a-wrong-api-key-123456',
      Buffer.from(authenticator.credentials[0]!.publicKey).toString('hex'),
      Buffer.from(authenticator.credentials[0]!.publicKey).toString('base64url'),
    ]) {
      expect(text).not.toContain(secret);
    }
    const jwk = (service.deps.keys.jwks.keys[0] as { x: string }).x;
    expect(text).not.toContain(jwk);
  });
});

describe('audit trail', () => {
  it('records passkeys created, used, renamed and deleted, failed sign-ins, counter regressions and revocations', async () => {
    service = await startService();
    const phone = new SoftAuthenticator({ counterStart: 5 });
    const { token, userId } = await signUp(service, phone, 'alice@example.com');
    const laptop = new SoftAuthenticator();
    const start = await service.request('POST', '/v1/challenges', {}, bearer(token));
    const finish = await service.request(
      'PUT',
      '/v1/challenges',
      { challengeId: start.body.challengeId, registration: await laptop.createCredential(start.body.options) },
      bearer(token),
    );
    const laptopId = finish.body.credential.id;
    service.clock.advance(1);
    expect((await signIn(service, phone, 'alice@example.com')).status).toBe(200);
    service.clock.advance(1);
    let ceremony = await startSignIn(service, 'alice@example.com');
    await service.request('PUT', '/v1/tokens', {
      challengeId: ceremony.challengeId,
      authentication: await phone.getAssertion(ceremony.options, { flipSignatureBit: true }),
    });
    service.clock.advance(1);
    ceremony = await startSignIn(service, 'alice@example.com');
    await service.request('PUT', '/v1/tokens', {
      challengeId: ceremony.challengeId,
      authentication: await phone.getAssertion(ceremony.options, { counter: 2 }),
    });
    service.clock.advance(1);
    await service.request('PATCH', `/v1/credentials/${laptopId}`, { name: 'Laptop' }, bearer(token));
    service.clock.advance(1);
    await service.request('DELETE', `/v1/credentials/${laptopId}`, undefined, bearer(token));
    service.clock.advance(1);
    await service.request('DELETE', '/v1/sessions/current', undefined, bearer(token));

    // Failures are recorded off the answer's path: wait for their rows.
    const trail = await vi.waitFor(async () => {
      const events = await auditTrail(service.deps, userId);
      expect(events).toHaveLength(9);
      return events;
    });
    expect(trail.map((event) => event.type)).toEqual([
      'account.created',
      'passkey.created',
      'passkey.created',
      'passkey.used',
      'sign_in.failed',
      'counter.regressed',
      'passkey.renamed',
      'passkey.deleted',
      'session.revoked',
    ]);
    expect(trail.find((event) => event.type === 'counter.regressed')).toMatchObject({
      credential_id: phone.credentials[0]!.idHex,
      detail: 'counter_regressed',
    });
    expect(trail.every((event) => event.ip === '127.0.0.1' || event.ip === '::ffff:127.0.0.1')).toBe(true);
  });

  it("the signed-in user reads their own recent events, newest first, and nobody else's", async () => {
    service = await startService();
    const alice = await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    service.clock.advance(5);
    const renamed = await service.request('GET', '/v1/credentials', undefined, bearer(alice.token));
    await service.request('PATCH', `/v1/credentials/${renamed.body.credentials[0].id}`, { name: 'Clé 🔑 Phone' }, bearer(alice.token));
    const reply = await service.request('GET', '/v1/events', undefined, bearer(alice.token));
    expect(reply.status).toBe(200);
    const types = reply.body.events.map((event: { type: string }) => event.type);
    expect(types[0]).toBe('passkey.renamed');
    expect(types.slice(1)).toEqual(['passkey.created', 'account.created']); // written in one transaction, at one time
    expect(reply.body.next).toBeNull();
    expect(reply.body.events[0]).toEqual({
      type: 'passkey.renamed',
      at: service.clock.now.toISOString(),
      credentialId: renamed.body.credentials[0].id,
      detail: 'Clé 🔑 Phone',
      ip: expect.any(String),
    });
    expect((await service.request('GET', '/v1/events')).status).toBe(401);
  });

  it('pages through every event once, in the order they happened, even within one instant', async () => {
    service = await startService();
    const alice = await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    const [passkey] = (await service.request('GET', '/v1/credentials', undefined, bearer(alice.token))).body.credentials;
    for (const name of ['one', 'two', 'three', 'four', 'five']) {
      await service.request('PATCH', `/v1/credentials/${passkey.id}`, { name }, bearer(alice.token)); // the clock stands still
    }
    const seen: string[] = [];
    let path = '/v1/events?limit=3';
    for (let pages = 0; pages < 10; pages++) {
      const reply = await service.request('GET', path, undefined, bearer(alice.token));
      expect(reply.status).toBe(200);
      expect(reply.body.events.length).toBeLessThanOrEqual(3);
      seen.push(...reply.body.events.map((event: { type: string; detail: string | null }) => event.detail ?? event.type));
      if (reply.body.next === null) break;
      path = `/v1/events?limit=3&before=${encodeURIComponent(reply.body.next)}`;
    }
    expect(seen).toEqual(['five', 'four', 'three', 'two', 'one', passkey.name, 'account.created']);
    expect((await service.request('GET', '/v1/events', undefined, bearer(alice.token))).body.events).toHaveLength(7);
  });

  for (const query of [
    'limit=0',
    'limit=101',
    'limit=ten',
    'limit=1&limit=2',
    'before=bm90IGEgY3Vyc29y',
    'before=',
    `before=${Buffer.from('["2026-03-01T12:00:00.000Z","x"]').toString('base64url')}`,
  ]) {
    it(`GET /v1/events?${query} -> 400 invalid_request`, async () => {
      service = await startService();
      const alice = await signUp(service, new SoftAuthenticator(), 'alice@example.com');
      const reply = await service.request('GET', `/v1/events?${query}`, undefined, bearer(alice.token));
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('invalid_request');
    });
  }

  it('records at most 10 unsigned failed sign-ins per account in an hour; a flood does not bury the trail', async () => {
    const { lines, log } = captureLogs();
    service = await startService({}, {}, { log });
    const leftOut = () => lines.filter((line) => line.msg.startsWith('failed sign-in left out of the audit trail')).length;
    const authenticator = new SoftAuthenticator({ counterStart: 5 });
    const { userId } = await signUp(service, authenticator, 'alice@example.com');
    const fail = async () => {
      const ceremony = await startSignIn(service, 'alice@example.com');
      const authentication = await authenticator.getAssertion(ceremony.options, { flipSignatureBit: true });
      expect((await service.request('PUT', '/v1/tokens', { challengeId: ceremony.challengeId, authentication })).status).toBe(401);
    };
    const trail = () => auditTrail(service.deps, userId);
    const failures = async () => (await trail()).filter((event) => event.type === 'sign_in.failed').length;
    for (let i = 0; i < 15; i++) {
      await fail();
      service.clock.advance(60);
    }
    // Every one of the 15 is settled: 10 recorded, 5 left out (and said so in the log).
    await vi.waitFor(() => expect(leftOut()).toBe(5));
    expect(await failures()).toBe(10);
    service.clock.advance(3600 - 15 * 60 + 1); // an hour after the first
    await fail();
    await vi.waitFor(async () => expect(await failures()).toBe(11));

    // Failures signed by the passkey itself are signs of a copied key: always recorded.
    service.clock.advance(1);
    let ceremony = await startSignIn(service, 'alice@example.com');
    await service.request('PUT', '/v1/tokens', {
      challengeId: ceremony.challengeId,
      authentication: await authenticator.getAssertion(ceremony.options, { counter: 2 }),
    });
    await vi.waitFor(async () => expect((await trail()).at(-1)?.type).toBe('counter.regressed'));
    for (let i = 0; i < 10; i++) await fail(); // the cap is reached again
    service.clock.advance(1);
    const copy = new SoftAuthenticator({ backupEligible: true, backedUp: true }); // the same key, claiming backup eligibility
    ceremony = await startSignIn(service, 'alice@example.com');
    const changed = await copy.getAssertion(ceremony.options, {}, authenticator.credentials[0]);
    expect((await service.request('PUT', '/v1/tokens', { challengeId: ceremony.challengeId, authentication: changed })).status).toBe(401);
    await vi.waitFor(async () => expect((await trail()).at(-1)).toMatchObject({ type: 'sign_in.failed', detail: 'backup_eligibility_changed' }));
  });

  it('concurrent unsigned failures cannot all slip past the cap', async () => {
    const { lines, log } = captureLogs();
    service = await startService({}, {}, { log });
    const authenticator = new SoftAuthenticator();
    const { userId } = await signUp(service, authenticator, 'alice@example.com');
    const attempts = await Promise.all(
      Array.from({ length: 25 }, async () => {
        const ceremony = await startSignIn(service, 'alice@example.com');
        return { challengeId: ceremony.challengeId, authentication: await authenticator.getAssertion(ceremony.options, { flipSignatureBit: true }) };
      }),
    );
    const replies = await Promise.all(attempts.map((attempt) => service.request('PUT', '/v1/tokens', attempt)));
    expect(replies.every((reply) => reply.status === 401)).toBe(true);
    // Every one of the 25 is settled: 15 left out (and said so in the log), 10 recorded.
    await vi.waitFor(() => expect(lines.filter((line) => line.msg.startsWith('failed sign-in left out of the audit trail'))).toHaveLength(15));
    expect((await auditTrail(service.deps, userId)).filter((event) => event.type === 'sign_in.failed')).toHaveLength(10);
  });
});

describe('audit trail of failed sign-ins', () => {
  const finish = (ceremony: { challengeId: string }, authentication: unknown, headers: Record<string, string> = {}) =>
    service.request('PUT', '/v1/tokens', { challengeId: ceremony.challengeId, authentication }, headers);
  const lastEvent = (userId: string) => auditTrail(service.deps, userId).then((events) => events.at(-1));

  it('stores a fixed reason code, never text the client sent (a made-up origin); the log keeps the message', async () => {
    const { lines, log } = captureLogs();
    service = await startService({}, {}, { log });
    const authenticator = new SoftAuthenticator({ counterStart: 5 });
    const { userId } = await signUp(service, authenticator, 'alice@example.com');
    const attackerText = 'https://evil.example/"Your account is locked: call +1 555 0100"<img src=x onerror=alert(1)>';
    const cases: [Tamper, string][] = [
      [{ origin: attackerText }, 'origin_mismatch'],
      [{ rpId: 'evil.example' }, 'rp_id_mismatch'],
      [{ challenge: Buffer.from('another challenge').toString('base64url') }, 'challenge_mismatch'],
      [{ userVerified: false }, 'user_not_verified'],
      [{ userPresent: false }, 'user_not_present'],
      [{ flipSignatureBit: true }, 'bad_signature'],
      [{ type: 'webauthn.create' }, 'verification_failed'],
      [{ userHandle: Buffer.from('someone else').toString('base64url') }, 'user_handle_mismatch'],
      [{ counter: 2 }, 'counter_regressed'],
    ];
    for (const [tamper, code] of cases) {
      service.clock.advance(1);
      const ceremony = await startSignIn(service, 'alice@example.com');
      expect((await finish(ceremony, await authenticator.getAssertion(ceremony.options, tamper))).status).toBe(401);
      await vi.waitFor(async () => expect(await lastEvent(userId)).toMatchObject({ detail: code, created_at: service.clock.now.toISOString() }));
    }
    const failures = (await auditTrail(service.deps, userId)).filter((event) => event.type === 'sign_in.failed' || event.type === 'counter.regressed');
    expect(failures.map((event) => event.detail)).toEqual(cases.map(([, code]) => code));
    // What the client sent stays in the log, for whoever runs the service.
    expect(lines.some((line) => line.reason?.includes('evil.example/"Your account is locked'))).toBe(true);
  });

  it('stores the client address only when it is an IP address', async () => {
    service = await startService({ TRUST_PROXY: 'loopback' });
    const authenticator = new SoftAuthenticator();
    const { userId } = await signUp(service, authenticator, 'alice@example.com');
    for (const [forwardedFor, stored] of [
      ['<script>alert(1)</script>', null],
      ['evil.example', null],
      ['203.0.113.7', '203.0.113.7'],
      ['2001:db8::7', '2001:db8::7'],
    ] as const) {
      service.clock.advance(1);
      const ceremony = await startSignIn(service, 'alice@example.com');
      const authentication = await authenticator.getAssertion(ceremony.options, { flipSignatureBit: true });
      expect((await finish(ceremony, authentication, { 'x-forwarded-for': forwardedFor })).status).toBe(401);
      await vi.waitFor(async () => expect(await lastEvent(userId)).toMatchObject({ type: 'sign_in.failed', created_at: service.clock.now.toISOString() }));
      expect((await lastEvent(userId))?.ip, forwardedFor).toBe(stored);
      // Every other event takes the same path (a passkey used).
      service.clock.advance(1);
      const signedIn = await startSignIn(service, 'alice@example.com');
      expect((await finish(signedIn, await authenticator.getAssertion(signedIn.options), { 'x-forwarded-for': forwardedFor })).status).toBe(200);
      expect(await lastEvent(userId)).toMatchObject({ type: 'passkey.used', ip: stored });
    }
  });

  it('an audit write that fails is logged, and the sign-in still answers 401', async () => {
    const { lines, log } = captureLogs();
    service = await startService({}, {}, { log });
    const authenticator = new SoftAuthenticator();
    const { userId } = await signUp(service, authenticator, 'alice@example.com');
    const refuse =
      engine === 'sqlite'
        ? ["create trigger refuse_audit before insert on audit_events begin select raise(abort, 'audit refused'); end"]
        : [
            "create function refuse_audit() returns trigger language plpgsql as $$ begin raise exception 'audit refused'; end $$",
            'create trigger refuse_audit before insert on audit_events for each row execute function refuse_audit()',
          ];
    for (const statement of refuse) await sql.raw(statement).execute(service.deps.db);
    const before = (await auditTrail(service.deps, userId)).length;
    const ceremony = await startSignIn(service, 'alice@example.com');
    const reply = await finish(ceremony, await authenticator.getAssertion(ceremony.options, { flipSignatureBit: true }));
    expect([reply.status, reply.body.code]).toEqual([401, 'authentication_failed']);
    await vi.waitFor(() => expect(lines.some((line) => line.msg === 'could not record a failed sign-in')).toBe(true));
    expect(await auditTrail(service.deps, userId)).toHaveLength(before);
  });

  // PostgreSQL only: another connection can hold audit_events alone while the rest
  // of the sign-in goes on (SQLite has one writer for the whole file).
  if (engine === 'postgres') {
    it('the 401 does not wait for the audit write: it comes while the write is held, the row after', async () => {
      service = await startService({ DATABASE_STATEMENT_TIMEOUT_MS: '60000' });
      const other = new pg.Client({ connectionString: service.deps.config.databaseUrl });
      try {
        const authenticator = new SoftAuthenticator({ counterStart: 5 });
        const { userId } = await signUp(service, authenticator, 'alice@example.com');
        await other.connect();
        await other.query('begin; lock table audit_events in exclusive mode'); // reads go on, inserts wait
        for (const tamper of [{ flipSignatureBit: true }, { counter: 1 }]) {
          const ceremony = await startSignIn(service, 'alice@example.com');
          const reply = await finish(ceremony, await authenticator.getAssertion(ceremony.options, tamper));
          expect(reply.status).toBe(401);
        }
        expect((await auditTrail(service.deps, userId)).filter((event) => event.type !== 'account.created' && event.type !== 'passkey.created')).toEqual([]);
        await other.query('commit');
        await vi.waitFor(async () =>
          expect((await auditTrail(service.deps, userId)).map((event) => event.type).sort()).toEqual([
            'account.created',
            'counter.regressed',
            'passkey.created',
            'sign_in.failed',
          ]),
        );
      } finally {
        await other.end();
      }
    });
  }
});

const metricsToken = 'metrics-token-0123456789';
const proxyMarkers = ['x-forwarded-for', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip', 'forwarded'];

/** The service's own passkey_* samples, by series. */
async function passkeyMetrics(service: TestService): Promise<Map<string, number>> {
  const reply = await service.request('GET', '/metrics', undefined, bearer(metricsToken));
  expect(reply.status).toBe(200);
  const samples = (reply.body as string).split('\n').filter((line) => line.startsWith('passkey_'));
  return new Map(samples.map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]));
}

/** A dedicated metrics listener (METRICS_PORT) for the service's deps, as main.ts starts it. */
async function metricsListener(service: TestService) {
  const server = createServer(createMetricsApp(service.deps, createMetrics(service.deps)), service.deps.config.connections).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    get: (path: string, headers: Record<string, string> = {}) => fetch(url + path, { headers }),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('metrics', () => {
  it('count requests by route and status, ceremonies by result, and challenges started by kind', async () => {
    service = await startService({ METRICS_TOKEN: metricsToken });
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'alice@example.com');
    await startSignIn(service, 'alice@example.com');
    await service.request('GET', '/v1/credentials/abc');
    const reply = await service.request('GET', '/metrics', undefined, bearer(metricsToken));
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toContain('text/plain');
    const text = reply.body as string;
    expect(text).toContain('http_requests_total{method="POST",route="/v1/challenges",status="200"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="/v1/credentials/:id",status="405"} 1');
    expect(text).toMatch(/http_request_duration_seconds_bucket\{le="0.005",method="PUT",route="\/v1\/challenges",status="201"\} \d+/);
    expect(text).toContain('passkey_ceremonies_total{kind="registration",step="finish",result="success"} 1');
    expect(text).toContain('passkey_challenges_started_total{kind="registration"} 1');
    expect(text).toContain('passkey_challenges_started_total{kind="authentication"} 1');
  });

  it('move the same for a sign-in start with an unknown email as with a known one: none tells whether a row was written', async () => {
    service = await startService({ METRICS_TOKEN: metricsToken });
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    const steps: Map<string, number>[] = [await passkeyMetrics(service)];
    for (const email of ['nobody@example.com', 'alice@example.com']) {
      await startSignIn(service, email);
      steps.push(await passkeyMetrics(service));
    }
    const change = (before: Map<string, number>, after: Map<string, number>) =>
      Object.fromEntries([...after].map(([series, value]) => [series, value - (before.get(series) ?? 0)]).filter(([, delta]) => delta !== 0));
    const unknown = change(steps[0]!, steps[1]!);
    expect(unknown).toEqual({
      'passkey_ceremonies_total{kind="authentication",step="start",result="success"}': 1,
      'passkey_challenges_started_total{kind="authentication"}': 1,
    });
    expect(change(steps[1]!, steps[2]!)).toEqual(unknown);
  });

  it('need the bearer METRICS_TOKEN when one is set', async () => {
    service = await startService({ METRICS_TOKEN: metricsToken });
    expect((await service.request('GET', '/metrics')).status).toBe(401);
    expect((await service.request('GET', '/metrics', undefined, bearer('wrong'))).status).toBe(401);
    expect((await service.request('GET', '/metrics', undefined, bearer(metricsToken))).status).toBe(200);
  });

  it('without METRICS_TOKEN, are not served on the service port, even to a loopback client that names no proxy', async () => {
    service = await startService({ TRUST_PROXY: 'loopback' });
    // A proxy on this host that sends only X-Real-IP, or nothing at all, looks like a local client.
    expect((await service.request('GET', '/metrics')).status).toBe(404);
    for (const marker of proxyMarkers) {
      const reply = await service.request('GET', '/metrics', undefined, { [marker]: '127.0.0.1' });
      expect(reply.status).toBe(404);
      expect(reply.body).toMatchObject({ code: 'not_found' });
    }
  });

  it('on a listener of their own, answer without a token any request that names no proxy, and only that', async () => {
    service = await startService();
    const listener = await metricsListener(service);
    try {
      const reply = await listener.get('/metrics');
      expect(reply.status).toBe(200);
      expect(await reply.text()).toContain('passkey_challenges_started_total');
      for (const marker of proxyMarkers) expect((await listener.get('/metrics', { [marker]: '127.0.0.1' })).status).toBe(404);
      // Nothing else is served there.
      expect((await listener.get('/v1/me')).status).toBe(404);
      expect((await listener.get('/healthz')).status).toBe(404);
    } finally {
      await listener.close();
    }
  });

  it('on a listener of their own, need the bearer METRICS_TOKEN when one is set', async () => {
    service = await startService({ METRICS_TOKEN: metricsToken });
    const listener = await metricsListener(service);
    try {
      expect((await listener.get('/metrics')).status).toBe(401);
      expect((await listener.get('/metrics', { 'x-forwarded-for': '203.0.113.9', ...bearer(metricsToken) })).status).toBe(200);
    } finally {
      await listener.close();
    }
  });
});

describe('sweep', () => {
  it('removes expired challenges and sessions, and keeps live ones', async () => {
    service = await startService({ SESSION_TTL_SECONDS: '600' });
    const authenticator = new SoftAuthenticator();
    const { token } = await signUp(service, authenticator, 'alice@example.com');
    await startSignIn(service, 'alice@example.com');
    service.clock.advance(301);
    await startSignIn(service, 'alice@example.com'); // live
    expect(await sweepExpired(service.deps)).toEqual({ challenges: 1, sessions: 0, auditEvents: 0, emailCodes: 0, enrollmentTickets: 0, outbox: 0 });
    service.clock.advance(300);
    expect(await sweepExpired(service.deps)).toEqual({ challenges: 1, sessions: 1, auditEvents: 0, emailCodes: 1, enrollmentTickets: 0, outbox: 0 });
    expect(await tableCounts(service.deps)).toMatchObject({ challenges: 0, sessions: 0, users: 1 });
    expect((await service.request('GET', '/v1/me', undefined, bearer(token))).status).toBe(401);
  });
});
