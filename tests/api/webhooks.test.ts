// Webhooks through HTTP, to a real receiver that verifies each delivery with the
// `standardwebhooks` library: every event type arrives with its data and a valid signature,
// a change that rolls back sends nothing, a failing receiver gets the event at a retry, a
// hanging one holds up no other, rotation signs with both secrets, and unsafe URLs are refused.
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearer, SoftAuthenticator, signIn, signUp, startService, startSignIn, type TestService } from '../helpers/service.js';
import { startSmtp } from '../helpers/smtp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const adminKey = 'admin-key-0123456789abcdef';
const admin = { 'x-api-key': adminKey };
let service: TestService;
let receiver: WebhookReceiver;

beforeEach(async () => {
  receiver = await startWebhookReceiver();
  service = await startService({ ADMIN_API_KEYS: adminKey });
});

afterEach(async () => {
  await service.close();
  await receiver.close();
});

async function register(target: WebhookReceiver, events?: string[]) {
  const reply = await service.request('POST', '/v1/admin/webhooks', { url: target.url, ...(events && { events }) }, admin);
  expect(reply.status).toBe(201);
  target.secrets = [reply.body.secret];
  return reply.body as { id: string; secret: string; url: string; events: string[] };
}

describe('events', () => {
  it('each change sends its event, signed, with its data', async () => {
    const endpoint = await register(receiver);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const authenticator = new SoftAuthenticator();
    const { userId, token, credential } = await signUp(service, authenticator, 'alice@example.com');
    const signedIn = await signIn(service, authenticator, 'alice@example.com');
    await service.request('PATCH', `/v1/credentials/${credential.id}`, { name: 'Laptop' }, bearer(token));
    await service.request('DELETE', '/v1/sessions/current', undefined, bearer(signedIn.body.token));
    await service.request('DELETE', `/v1/admin/users/${userId}`, undefined, admin);

    // Up to 8 deliveries to one endpoint run at once: the order of arrival is not the order of the changes.
    const events = await receiver.waitFor(6);
    const byType = Object.fromEntries(events.map((e) => [e.type, e.data]));
    expect(Object.keys(byType).sort()).toEqual(['passkey.created', 'passkey.renamed', 'passkey.used', 'session.revoked', 'user.created', 'user.deleted']);
    expect(byType['user.created']).toEqual({ userId });
    expect(byType['passkey.created']).toEqual({ userId, credentialId: credential.id });
    expect(byType['passkey.used']).toEqual({ userId, credentialId: credential.id, sessionId: expect.any(String) });
    expect(byType['passkey.renamed']).toEqual({ userId, credentialId: credential.id });
    expect(byType['session.revoked']).toEqual({ userId, sessionId: byType['passkey.used']!.sessionId });
    expect(byType['user.deleted']).toEqual({ userId });
    for (const delivery of receiver.deliveries) {
      expect(delivery.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(delivery.body).not.toContain(token);
    }
    const stored = await service.deps.db.selectFrom('outbox').selectAll().where('topic', '=', 'webhook').execute();
    await vi.waitFor(async () =>
      expect((await service.deps.db.selectFrom('outbox').select('status').where('topic', '=', 'webhook').execute()).every((r) => r.status === 'sent')).toBe(
        true,
      ),
    );
    expect(stored).toHaveLength(6);
  });

  it('email verification, passkey deletion, a clone warning and a recovery send theirs too', async () => {
    await service.close();
    const smtp = await startSmtp();
    try {
      service = await startService({ ADMIN_API_KEYS: adminKey, SMTP_URL: smtp.url });
      await register(receiver, ['user.email_verified', 'passkey.deleted', 'passkey.clone_warning', 'account.recovered', 'session.revoked']);
      const first = new SoftAuthenticator({ counterStart: 10 });
      const { userId, token, credential } = await signUp(service, first, 'alice@example.com');
      const code = (await smtp.waitFor('alice@example.com')).code!;
      const verified = await service.request('PUT', '/v1/email-verification', { code }, bearer(token));
      expect(verified.status).toBe(200);
      // A counter that went backwards: a cloned authenticator?
      const { challengeId, options } = await startSignIn(service, 'alice@example.com');
      const cloned = await service.request('PUT', '/v1/tokens', { challengeId, authentication: await first.getAssertion(options, { counter: 5 }) });
      expect(cloned.status).toBe(401);
      // Recovery adds a second passkey; the owner then deletes the first.
      await service.request('POST', '/v1/recovery', { email: 'alice@example.com' });
      const recoveryMail = await smtp.waitFor('alice@example.com', { where: (m) => m.subject.includes('Get back') });
      const recoveryId = (await service.deps.db.selectFrom('email_codes').select('id').where('purpose', '=', 'recover').executeTakeFirstOrThrow()).id;
      const proven = await service.request('PUT', '/v1/recovery', { recoveryId, code: recoveryMail.code });
      const second = new SoftAuthenticator();
      const recovered = await service.request('PUT', '/v1/challenges', {
        challengeId: proven.body.challengeId,
        registration: await second.createCredential(proven.body.options),
      });
      expect(recovered.status).toBe(201);
      expect((await service.request('DELETE', `/v1/credentials/${credential.id}`, undefined, bearer(recovered.body.token))).status).toBe(204);

      // Deleting the first passkey also ends the session it opened (the one email verification gave).
      const events = await receiver.waitFor(6);
      const types = events.map((e) => e.type).sort();
      expect(types).toEqual(['account.recovered', 'passkey.clone_warning', 'passkey.deleted', 'session.revoked', 'session.revoked', 'user.email_verified']);
      const of = (type: string) => events.filter((e) => e.type === type).map((e) => e.data);
      expect(of('user.email_verified')).toEqual([{ userId }]);
      expect(of('passkey.clone_warning')).toEqual([{ userId, credentialId: credential.id }]);
      expect(of('account.recovered')).toEqual([{ userId, credentialId: recovered.body.credential.id }]);
      expect(of('passkey.deleted')).toEqual([{ userId, credentialId: credential.id }]);
      expect(of('session.revoked')).toEqual(expect.arrayContaining([{ userId, sessionId: expect.any(String) }]));
    } finally {
      await smtp.close();
    }
  });

  it('an endpoint gets only the types it asked for; a change no endpoint wants queues nothing', async () => {
    await register(receiver, ['passkey.used']);
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'alice@example.com');
    expect(await service.deps.db.selectFrom('outbox').selectAll().where('topic', '=', 'webhook').execute()).toEqual([]);
    await signIn(service, authenticator, 'alice@example.com');
    expect((await receiver.waitFor(1)).map((e) => e.type)).toEqual(['passkey.used']);
  });

  it('a change that rolls back sends nothing', async () => {
    await register(receiver);
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    await receiver.waitFor(2);
    // A second sign-up for the email fails at its finish: no account, no event.
    const authenticator = new SoftAuthenticator();
    const start = await service.request('POST', '/v1/challenges', { email: 'bob@example.com' });
    const other = await service.request('POST', '/v1/challenges', { email: 'bob@example.com' });
    await service.request('PUT', '/v1/challenges', {
      challengeId: start.body.challengeId,
      registration: await authenticator.createCredential(start.body.options),
    });
    await receiver.waitFor(4);
    const failed = await service.request('PUT', '/v1/challenges', {
      challengeId: other.body.challengeId,
      registration: await new SoftAuthenticator().createCredential(other.body.options),
    });
    expect(failed.status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.events()).toHaveLength(4);
  });
});

describe('signatures', () => {
  it('a tampered or replayed delivery fails the library check', async () => {
    await register(receiver);
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    await receiver.waitFor(1);
    const { body, headers } = receiver.deliveries[0]!;
    const hook = new Webhook(receiver.secrets[0]!);
    expect(() => hook.verify(body, headers as Record<string, string>)).not.toThrow();
    expect(() => hook.verify(body.replace('"type":"', '"type":"x'), headers as Record<string, string>)).toThrow();
    const stale = { ...(headers as Record<string, string>), 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600) };
    expect(() => hook.verify(body, stale)).toThrow();
  });

  it('after a rotation, deliveries carry both signatures until the overlap ends', async () => {
    const endpoint = await register(receiver);
    const rotated = await service.request('POST', `/v1/admin/webhooks/${endpoint.id}/secret`, undefined, admin);
    expect(rotated.status).toBe(201);
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    receiver.secrets = [endpoint.secret];
    await receiver.waitFor(1);
    const { body, headers } = receiver.deliveries[0]!;
    expect(() => new Webhook(rotated.body.secret).verify(body, headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(body, headers as Record<string, string>)).not.toThrow();
    service.clock.advance(24 * 3600 + 1);
    receiver.secrets = [rotated.body.secret];
    await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    await receiver.waitFor(3);
    const last = receiver.deliveries.at(-1)!;
    expect(String(last.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => new Webhook(endpoint.secret).verify(last.body, last.headers as Record<string, string>)).toThrow();
  });
});

describe('delivery', () => {
  it('a receiver that answers 500 twice then 200 gets the event, once', async () => {
    const endpoint = await register(receiver, ['user.created']);
    receiver.failNext(500, 500);
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    await vi.waitFor(() => expect(receiver.deliveries).toHaveLength(1));
    service.clock.advance(20);
    await vi.waitFor(() => expect(receiver.deliveries).toHaveLength(2));
    service.clock.advance(40);
    await receiver.waitFor(1);
    expect(receiver.deliveries.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(new Set(receiver.deliveries.map((d) => d.id)).size).toBe(1);
    const listed = await service.request('GET', `/v1/admin/webhooks/${endpoint.id}/deliveries`, undefined, admin);
    await vi.waitFor(async () =>
      expect((await service.request('GET', `/v1/admin/webhooks/${endpoint.id}/deliveries`, undefined, admin)).body.deliveries).toMatchObject([
        { type: 'user.created', status: 'sent', attempts: 3, lastError: null },
      ]),
    );
    expect(listed.status).toBe(200);
  });

  it('metrics count attempts by type and result, and the age of the oldest pending delivery', async () => {
    await service.close();
    service = await startService({ ADMIN_API_KEYS: adminKey, METRICS_TOKEN: 'metrics-token-0123456789' });
    await register(receiver, ['user.created']);
    receiver.failNext(500);
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    await vi.waitFor(() => expect(receiver.deliveries).toHaveLength(1));
    service.clock.advance(10);
    const metrics = async () => (await service.request('GET', '/metrics', undefined, { authorization: 'Bearer metrics-token-0123456789' })).body as string;
    await vi.waitFor(async () => expect(await metrics()).toContain('outbox_oldest_pending_seconds{topic="webhook"} 10'));
    service.clock.advance(20);
    await receiver.waitFor(1);
    await vi.waitFor(async () => {
      const text = await metrics();
      expect(text).toContain('webhook_attempts_total{type="user.created",result="failed"} 1');
      expect(text).toContain('webhook_attempts_total{type="user.created",result="delivered"} 1');
      expect(text).toContain('outbox_messages_total{topic="webhook",result="sent"} 1');
    });
  });

  it('a redirect is not followed: the delivery fails and is retried', async () => {
    const target = await startWebhookReceiver();
    const redirecting = createServer((_req, res) => res.writeHead(307, { location: target.url }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hooks`;
      const reply = await service.request('POST', '/v1/admin/webhooks', { url, events: ['user.created'] }, admin);
      await signUp(service, new SoftAuthenticator(), 'alice@example.com');
      await vi.waitFor(async () => {
        const { deliveries } = (await service.request('GET', `/v1/admin/webhooks/${reply.body.id}/deliveries`, undefined, admin)).body;
        expect(deliveries).toMatchObject([{ status: 'pending', attempts: 1, lastError: 'HTTP 307' }]);
      });
      expect(target.deliveries).toEqual([]);
    } finally {
      redirecting.close();
      await target.close();
    }
  });

  it('a receiver that hangs does not delay another endpoint', async () => {
    const slow = await startWebhookReceiver();
    try {
      await register(slow);
      slow.hanging = true;
      await register(receiver);
      const started = Date.now();
      await signUp(service, new SoftAuthenticator(), 'alice@example.com');
      await signUp(service, new SoftAuthenticator(), 'bob@example.com');
      await receiver.waitFor(4, 3000);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await slow.close();
    }
  });

  it('a failed delivery is marked failed after 24 hours and can be sent again', async () => {
    const endpoint = await register(receiver, ['user.created']);
    receiver.failWith = 503;
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    await vi.waitFor(() => expect(receiver.deliveries).toHaveLength(1));
    service.clock.advance(24 * 3600 + 1);
    const deliveries = async () => (await service.request('GET', `/v1/admin/webhooks/${endpoint.id}/deliveries`, undefined, admin)).body.deliveries;
    await vi.waitFor(async () => expect(await deliveries()).toMatchObject([{ status: 'failed', attempts: 2, lastError: 'HTTP 503', nextAttemptAt: null }]));
    const [failed] = await deliveries();
    receiver.failWith = undefined;
    const retried = await service.request('POST', `/v1/admin/webhooks/${endpoint.id}/deliveries/${failed.id}/retry`, undefined, admin);
    expect(retried.status).toBe(202);
    expect((await receiver.waitFor(1))[0]!.type).toBe('user.created');
    await vi.waitFor(async () => expect(await deliveries()).toMatchObject([{ id: failed.id, status: 'sent' }]));
    // Only a failed delivery can be sent again.
    expect((await service.request('POST', `/v1/admin/webhooks/${endpoint.id}/deliveries/${failed.id}/retry`, undefined, admin)).status).toBe(404);
  });
});

describe('endpoints', () => {
  it('http:// and private addresses are refused unless WEBHOOK_ALLOW_PRIVATE_URLS', async () => {
    await service.close();
    service = await startService({ ADMIN_API_KEYS: adminKey, WEBHOOK_ALLOW_PRIVATE_URLS: 'false' });
    for (const url of [
      'http://example.com/hooks',
      'https://127.0.0.1/hooks',
      'https://10.0.0.8/hooks',
      'https://[::1]/hooks',
      'https://169.254.169.254/latest',
      'https://localhost/hooks',
      'not a url',
    ]) {
      const reply = await service.request('POST', '/v1/admin/webhooks', { url }, admin);
      expect(reply.status, url).toBe(400);
    }
    expect(await service.deps.db.selectFrom('webhook_endpoints').selectAll().execute()).toEqual([]);
  });

  it('are listed without their secrets, and deleted with their pending deliveries', async () => {
    const endpoint = await register(receiver);
    const listed = await service.request('GET', '/v1/admin/webhooks', undefined, admin);
    expect(listed.body.webhooks).toEqual([{ id: endpoint.id, url: receiver.url, events: [], createdAt: expect.any(String) }]);
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    expect((await service.request('DELETE', `/v1/admin/webhooks/${endpoint.id}`, undefined, admin)).status).toBe(204);
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    expect(await service.deps.db.selectFrom('outbox').selectAll().where('topic', '=', 'webhook').execute()).toEqual([]);
    expect((await service.request('GET', '/v1/admin/webhooks', undefined, admin)).body.webhooks).toEqual([]);
  });
});
