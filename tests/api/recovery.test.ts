// Recovery through HTTP, with a real SMTP server: the start answers and writes the same
// for every email, only an account's address gets a code, the code works only with its
// own recoveryId, and proving an email never proven before evicts every passkey and
// session first (account pre-hijacking), while a verified account keeps its passkeys.
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Deps } from '../../server/deps.js';
import { auditTrail, bearer, SoftAuthenticator, signIn, signUp, startService, tableCounts, type TestService } from '../helpers/service.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let smtp: TestSmtp;
let service: TestService;

beforeEach(async () => {
  smtp = await startSmtp();
  service = await startService({ SMTP_URL: smtp.url, RP_NAME: 'Example Shop' });
});

afterEach(async () => {
  await service.close();
  await smtp.close();
});

// Every table that holds state, the audit trail included: a recovery start writes none of it for either email.
const counts = async (deps: Deps): Promise<Record<string, number>> => ({ ...(await tableCounts(deps)), audit_events: (await auditTrail(deps)).length });

const start = (email: string) => service.request('POST', '/v1/recovery', { email });
const prove = (recoveryId: string, code: string) => service.request('PUT', '/v1/recovery', { recoveryId, code });

/** Recovery from start to signed in, with a new authenticator; returns the 201 body. */
async function recover(email: string, authenticator: SoftAuthenticator, skip: number) {
  const started = await start(email);
  const { code } = await smtp.waitFor(email, { where: (m) => m.subject.includes('Get back'), skip });
  const proven = await prove(started.body.recoveryId, code!);
  expect(proven.status).toBe(200);
  const registration = await authenticator.createCredential(proven.body.options);
  const finished = await service.request('PUT', '/v1/challenges', { challengeId: proven.body.challengeId, registration });
  expect(finished.status).toBe(201);
  return finished.body as { userId: string; token: string; credential: { id: string } };
}

describe('POST /v1/recovery', () => {
  it('answers and writes the same for an email with an account and one without; only the account gets a code', async () => {
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    await smtp.waitFor('alice@example.com');

    const before = await counts(service.deps);
    const known = await start('alice@example.com');
    const afterKnown = await counts(service.deps);
    const unknown = await start('nobody@example.com');
    const afterUnknown = await counts(service.deps);

    expect(known.status).toBe(202);
    expect(unknown.status).toBe(known.status);
    expect(Object.keys(unknown.body)).toEqual(Object.keys(known.body));
    expect(known.body.recoveryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(unknown.body.recoveryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(unknown.headers.get('content-type')).toBe(known.headers.get('content-type'));
    const diff = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(a).map((t) => [t, b[t]! - a[t]!]));
    expect(diff(afterKnown, afterUnknown)).toEqual(diff(before, afterKnown));
    expect(diff(before, afterKnown)).toMatchObject({ email_codes: 1, outbox: 1, users: 0 });

    const code = await smtp.waitFor('alice@example.com', { skip: 1 });
    expect(code.code).toMatch(/^\d{6}$/);
    expect(code.text).toContain('Example Shop');
    expect(code.text).toMatch(/If it was not you/);
    const none = await smtp.waitFor('nobody@example.com');
    expect(none.code).toBeUndefined();
    expect(none.text).not.toMatch(/\d{6}/);
    expect(none.text).toContain('no account');
  });

  it('a new recovery kills the previous code', async () => {
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    const first = await start('alice@example.com');
    const firstCode = (await smtp.waitFor('alice@example.com', { where: (m) => m.subject.includes('Get back') })).code!;
    const second = await start('alice@example.com');
    const secondCode = (await smtp.waitFor('alice@example.com', { where: (m) => m.subject.includes('Get back'), skip: 1 })).code!;
    expect((await prove(first.body.recoveryId, firstCode)).body.code).toBe('invalid_code');
    expect((await prove(second.body.recoveryId, secondCode)).status).toBe(200);
  });

  it('is 404 recovery_disabled with EMAIL_RECOVERY=false, and /v1/features says so', async () => {
    await service.close();
    service = await startService({ SMTP_URL: smtp.url, EMAIL_RECOVERY: 'false' });
    const reply = await start('alice@example.com');
    expect(reply.status).toBe(404);
    expect(reply.body.code).toBe('recovery_disabled');
    expect((await prove('0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70', '123456')).body.code).toBe('recovery_disabled');
    expect((await service.request('GET', '/v1/features')).body).toEqual({ recovery: false, emailsInLog: false });
    expect(await counts(service.deps)).toMatchObject({ email_codes: 0, outbox: 0 });
  });
});

describe('PUT /v1/recovery', () => {
  beforeEach(async () => {
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
  });

  const recoveryCode = (skip = 0) => smtp.waitFor('alice@example.com', { where: (m) => m.subject.includes('Get back'), skip }).then((m) => m.code!);

  it('works only with the recoveryId its request returned', async () => {
    const mine = await start('alice@example.com');
    const code = await recoveryCode();
    const other = await start('nobody@example.com');
    const reply = await prove(other.body.recoveryId, code);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('invalid_code');
    expect((await prove('0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70', code)).body.code).toBe('invalid_code');
    expect((await prove(mine.body.recoveryId, code)).status).toBe(200);
  });

  it('a wrong code is invalid_code, and after 5 the recoveryId is dead', async () => {
    const { body } = await start('alice@example.com');
    const code = await recoveryCode();
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) expect((await prove(body.recoveryId, wrong)).body.code).toBe('invalid_code');
    expect((await prove(body.recoveryId, code)).body.code).toBe('invalid_code');
  });

  it('a used or expired code is invalid_code', async () => {
    const used = await start('alice@example.com');
    const code = await recoveryCode();
    expect((await prove(used.body.recoveryId, code)).status).toBe(200);
    expect((await prove(used.body.recoveryId, code)).body.code).toBe('invalid_code');

    const late = await start('alice@example.com');
    const lateCode = await recoveryCode(1);
    service.clock.advance(601);
    expect((await prove(late.body.recoveryId, lateCode)).body.code).toBe('invalid_code');
  });

  it('answers a registration challenge that cannot finish a sign-in', async () => {
    const { body } = await start('alice@example.com');
    const proven = await prove(body.recoveryId, await recoveryCode());
    expect(proven.body.options).toMatchObject({ user: { name: 'alice@example.com' }, authenticatorSelection: { residentKey: 'required' } });
    const assertion = await new SoftAuthenticator().getAssertion({ challenge: proven.body.options.challenge, rpId: 'localhost' }).catch(() => undefined);
    const reply = await service.request('PUT', '/v1/tokens', { challengeId: proven.body.challengeId, authentication: assertion ?? {} });
    expect([400, 401]).toContain(reply.status);
  });
});

describe('pre-hijack eviction', () => {
  it("an attacker's unverified sign-up loses every passkey and session when the owner recovers", async () => {
    const attacker = new SoftAuthenticator();
    const hijack = await signUp(service, attacker, 'victim@example.com');
    const attackerSignIn = await signIn(service, attacker, 'victim@example.com');
    expect(attackerSignIn.status).toBe(200);
    const attackerCredential = hijack.credential.id;

    const started = await start('victim@example.com');
    const code = (await smtp.waitFor('victim@example.com', { where: (m) => m.subject.includes('Get back') })).code!;
    const proven = await prove(started.body.recoveryId, code);
    expect(proven.status).toBe(200);

    // Gone at the proof, before the new passkey exists.
    expect((await service.request('GET', '/v1/me', undefined, bearer(hijack.token))).status).toBe(401);
    expect((await service.request('GET', '/v1/me', undefined, bearer(attackerSignIn.body.token))).status).toBe(401);
    expect(await service.deps.db.selectFrom('credentials').selectAll().execute()).toEqual([]);
    expect(await service.deps.db.selectFrom('sessions').selectAll().execute()).toEqual([]);
    // The excluded-credentials list names none of the attacker's passkeys.
    expect(proven.body.options.excludeCredentials).toEqual([]);

    const owner = new SoftAuthenticator();
    const registration = await owner.createCredential(proven.body.options);
    const finished = await service.request('PUT', '/v1/challenges', { challengeId: proven.body.challengeId, registration });
    expect(finished.status).toBe(201);
    expect(finished.body.userId).toBe(hijack.userId);
    expect(decodeJwt(finished.body.token).email_verified).toBe(true);

    expect((await signIn(service, owner, 'victim@example.com')).status).toBe(200);
    expect((await signIn(service, attacker, 'victim@example.com')).status).toBe(401);
    const passkeys = await service.deps.db.selectFrom('credentials').select('id').execute();
    expect(passkeys.map((p) => p.id)).not.toContain(attackerCredential);
    const user = await service.deps.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
    expect(user.email_verified_at).not.toBeNull();

    const types = (await auditTrail(service.deps, hijack.userId)).map((event) => event.type);
    expect(types).toEqual(expect.arrayContaining(['account.reclaimed', 'email.verified', 'account.recovered']));

    const notice = await smtp.waitFor('victim@example.com', { where: (m) => m.subject.includes('passkey was added') });
    expect(notice.text).toContain('by email recovery');
    expect(notice.text).toContain('127.0.0.1');
    expect(notice.text).toMatch(/2026/);
    expect(notice.code).toBeUndefined();
  });

  it("a verified account's recovery keeps its passkeys and sessions", async () => {
    const first = new SoftAuthenticator();
    const { token, userId } = await signUp(service, first, 'alice@example.com');
    const verification = (await smtp.waitFor('alice@example.com')).code!;
    const verified = await service.request('PUT', '/v1/email-verification', { code: verification }, bearer(token));
    expect(verified.status).toBe(200);

    const second = new SoftAuthenticator();
    const recovered = await recover('alice@example.com', second, 0);
    expect(recovered.userId).toBe(userId);
    expect((await service.request('GET', '/v1/me', undefined, bearer(verified.body.token))).status).toBe(200);
    expect((await signIn(service, first, 'alice@example.com')).status).toBe(200);
    expect((await signIn(service, second, 'alice@example.com')).status).toBe(200);
    const types = (await auditTrail(service.deps, userId)).map((event) => event.type);
    expect(types).not.toContain('account.reclaimed');
    expect(types).toContain('account.recovered');
  });
});

describe('adding a passkey while signed in', () => {
  it("tells the account's email", async () => {
    const authenticator = new SoftAuthenticator();
    const { token } = await signUp(service, authenticator, 'alice@example.com');
    const started = await service.request('POST', '/v1/challenges', {}, bearer(token));
    const registration = await new SoftAuthenticator().createCredential(started.body.options);
    expect((await service.request('PUT', '/v1/challenges', { challengeId: started.body.challengeId, registration }, bearer(token))).status).toBe(201);
    const notice = await smtp.waitFor('alice@example.com', { where: (m) => m.subject.includes('passkey was added') });
    expect(notice.text).toContain('while signed in');
  });
});
