// Email verification through HTTP, with a real SMTP server receiving what the service
// sends: sign-up mails a 6-digit code, proving it verifies the email and answers a token
// that says so; wrong, used, expired, sixth-try and superseded codes fail; new codes are
// limited per address.
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiKey, auditTrail, bearer, SoftAuthenticator, signIn, signUp, startService, type TestService } from '../helpers/service.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let smtp: TestSmtp;
let service: TestService;

beforeEach(async () => {
  smtp = await startSmtp();
  service = await startService({ SMTP_URL: smtp.url, RP_NAME: 'Example Shop', EMAIL_FROM: 'Example Shop <hello@example.com>' });
});

afterEach(async () => {
  await service.close();
  await smtp.close();
});

const codeRow = (userId: string) => service.deps.db.selectFrom('email_codes').selectAll().where('user_id', '=', userId).executeTakeFirst();

async function signedUp(email = 'alice@example.com') {
  const result = await signUp(service, new SoftAuthenticator(), email);
  const mail = await smtp.waitFor(email);
  return { ...result, code: mail.code!, mail };
}

const prove = (token: string, code: string) => service.request('PUT', '/v1/email-verification', { code }, bearer(token));
const resend = (token: string) => service.request('POST', '/v1/email-verification', {}, bearer(token));

describe('sign-up', () => {
  it('mails a verification code in plain words, text and HTML, naming the site; the token says email_verified: false', async () => {
    const { token, mail } = await signedUp();
    expect(mail.from).toBe('hello@example.com');
    expect(mail.subject).toContain('Example Shop');
    expect(mail.subject).not.toMatch(/\d{6}/);
    expect(mail.code).toMatch(/^\d{6}$/);
    expect(mail.text).toContain('Example Shop');
    expect(mail.text).toMatch(/If you did not create an account/);
    expect(mail.html).toContain(mail.code);
    expect(decodeJwt(token).email_verified).toBe(false);
    expect((await service.request('GET', '/v1/me', undefined, bearer(token))).body.emailVerified).toBe(false);
    // Only a keyed hash of the code is stored; the sent email's body is erased from the outbox.
    const row = await service.deps.db.selectFrom('email_codes').selectAll().executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(mail.code);
    await vi.waitFor(async () =>
      expect(await service.deps.db.selectFrom('outbox').selectAll().execute()).toMatchObject([{ topic: 'email', status: 'sent', payload: '' }]),
    );
  });
});

describe('PUT /v1/email-verification', () => {
  it('verifies the email and answers a token that says so, replacing the caller’s session', async () => {
    const { token, userId, code } = await signedUp();
    const reply = await prove(token, code);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ userId, token: expect.any(String), expiresAt: expect.any(String) });
    const claims = decodeJwt(reply.body.token);
    expect(claims).toMatchObject({ sub: userId, email: 'alice@example.com', email_verified: true, auth_time: decodeJwt(token).auth_time });
    expect((await service.request('GET', '/v1/me', undefined, bearer(reply.body.token))).body.emailVerified).toBe(true);
    expect((await service.request('GET', '/v1/me', undefined, bearer(token))).status).toBe(401);
    const introspected = await service.request('POST', '/v1/tokens/introspect', { token: reply.body.token }, { 'x-api-key': apiKey });
    expect(introspected.body).toMatchObject({ active: true, email_verified: true });

    const user = await service.deps.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
    expect(user.email_verified_at).toBe(service.clock.now.toISOString());
    expect(await codeRow(userId)).toBeUndefined();
    expect((await auditTrail(service.deps, userId)).map((event) => event.type)).toEqual(expect.arrayContaining(['email.verified', 'session.revoked']));
  });

  it('every later sign-in says email_verified: true', async () => {
    const authenticator = new SoftAuthenticator();
    const { token } = await signUp(service, authenticator, 'alice@example.com');
    await prove(token, (await smtp.waitFor('alice@example.com')).code!);
    const signedIn = await signIn(service, authenticator, 'alice@example.com');
    expect(decodeJwt(signedIn.body.token).email_verified).toBe(true);
  });

  it('accepts the code as people type it, with spaces or a dash', async () => {
    const { token, code } = await signedUp();
    expect((await prove(token, ` ${code.slice(0, 3)} ${code.slice(3)} `)).status).toBe(200);
  });

  it('a malformed code is invalid_request and spends no try', async () => {
    const { token, userId } = await signedUp();
    for (const code of ['12345', '1234567', 'abcdef', '']) {
      const reply = await prove(token, code);
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('invalid_request');
    }
    expect((await codeRow(userId))?.attempts).toBe(0);
  });

  it('a wrong code is invalid_code; the sixth try fails even with the right code', async () => {
    const { token, userId, code } = await signedUp();
    const wrong = code === '000000' ? '111111' : '000000';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const reply = await prove(token, wrong);
      expect(reply.status).toBe(400);
      expect(reply.body).toMatchObject({ code: 'invalid_code', status: 400 });
      expect(reply.headers.get('content-type')).toContain('application/problem+json');
      expect((await codeRow(userId))?.attempts).toBe(attempt);
    }
    expect((await prove(token, code)).body.code).toBe('invalid_code');
    expect((await service.deps.db.selectFrom('users').select('email_verified_at').executeTakeFirstOrThrow()).email_verified_at).toBeNull();
  });

  it('concurrent guesses cannot share a try: of 20 at once, 5 are checked', async () => {
    const { token, userId, code } = await signedUp();
    const guesses = Array.from({ length: 20 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
    const replies = await Promise.all(guesses.map((guess) => prove(token, guess)));
    expect(replies.every((reply) => reply.body.code === 'invalid_code')).toBe(true);
    expect((await codeRow(userId))?.attempts).toBe(5);
  });

  it('a used code is invalid_code', async () => {
    const { token, code } = await signedUp();
    const first = await prove(token, code);
    expect(first.status).toBe(200);
    expect((await prove(first.body.token, code)).body.code).toBe('invalid_code');
  });

  it('an expired code is invalid_code', async () => {
    const { token, code } = await signedUp();
    service.clock.advance(601);
    // The session lives on (an hour); only the code is too old.
    expect((await prove(token, code)).body.code).toBe('invalid_code');
  });

  it('of two concurrent right answers, one verifies', async () => {
    const { token, code } = await signedUp();
    const replies = await Promise.all([prove(token, code), prove(token, code)]);
    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 400]);
  });

  it('needs a valid token', async () => {
    const { code } = await signedUp();
    expect((await service.request('PUT', '/v1/email-verification', { code })).status).toBe(401);
    expect((await service.request('POST', '/v1/email-verification', {})).status).toBe(401);
  });
});

describe('POST /v1/email-verification', () => {
  it('sends a new code and kills the previous one', async () => {
    const { token, code } = await signedUp();
    const reply = await resend(token);
    expect(reply.status).toBe(202);
    expect(reply.body).toEqual({});
    const second = await smtp.waitFor('alice@example.com', { skip: 1 });
    expect(second.code).toMatch(/^\d{6}$/);
    if (second.code !== code) expect((await prove(token, code)).body.code).toBe('invalid_code');
    expect((await prove(token, second.code!)).status).toBe(200);
  });

  it('is 409 already_verified once the email is verified', async () => {
    const { token, code } = await signedUp();
    const verified = await prove(token, code);
    const reply = await resend(verified.body.token);
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe('already_verified');
  });
});

describe('new codes per address', () => {
  it('are limited to RATE_LIMIT_EMAILS_PER_ADDRESS an hour (429 with Retry-After), whoever asks', async () => {
    await service.close();
    service = await startService({ SMTP_URL: smtp.url, RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_EMAILS_PER_ADDRESS: '2' });
    const { token } = await signedUp('bob@example.com');
    expect((await resend(token)).status).toBe(202);
    expect((await resend(token)).status).toBe(202);
    const limited = await resend(token);
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(60);
    // A recovery start for the same address spends the same budget.
    expect((await service.request('POST', '/v1/recovery', { email: 'bob@example.com' })).status).toBe(429);
    await smtp.waitFor('bob@example.com', { skip: 2 });
    expect(smtp.to('bob@example.com')).toHaveLength(3);
  });
});
