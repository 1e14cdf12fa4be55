// The outbox delivering emails, in-process with a real SMTP server and a clock the test
// moves: an SMTP outage delays an email (retried with growing delays) but never loses
// it, a mailbox that does not exist fails it at once, 24 hours of failures give up, and
// the metrics count each step.
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { SoftAuthenticator, signUp, startService, type TestService } from '../helpers/service.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

const metricsToken = 'metrics-token-0123456789';
let smtp: TestSmtp;
let service: TestService;

beforeEach(async () => {
  smtp = await startSmtp({ unknownMailboxes: ['gone@example.com'] });
  service = await startService({ SMTP_URL: smtp.url, METRICS_TOKEN: metricsToken });
});

afterEach(async () => {
  await service.close();
  await smtp.close();
});

const outbox = () => service.deps.db.selectFrom('outbox').selectAll().execute();

async function metric(name: string) {
  const text = (await service.request('GET', '/metrics', undefined, { authorization: `Bearer ${metricsToken}` })).body as string;
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.startsWith(name))
      .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
  );
}

it('an SMTP outage delays the email, retried with growing delays, and it arrives once SMTP is back', async () => {
  smtp.refusing = true;
  await signUp(service, new SoftAuthenticator(), 'alice@example.com');
  await vi.waitFor(async () =>
    expect((await outbox())[0]).toMatchObject({ status: 'pending', attempts: 1, lease_id: null, last_error: expect.stringContaining('421') }),
  );
  const [first] = await outbox();
  const delay = Date.parse(first!.next_attempt_at) - service.clock.now.getTime();
  expect(delay).toBeGreaterThanOrEqual(3_750);
  expect(delay).toBeLessThanOrEqual(6_250);

  service.clock.advance(7);
  await vi.waitFor(async () => expect((await outbox())[0]).toMatchObject({ status: 'pending', attempts: 2, lease_id: null }));
  const [second] = await outbox();
  // The second delay is about twice the first.
  expect(Date.parse(second!.next_attempt_at) - service.clock.now.getTime()).toBeGreaterThanOrEqual(7_500);
  expect(smtp.received).toHaveLength(0);
  expect(await metric('outbox_oldest_pending_seconds')).toEqual({
    'outbox_oldest_pending_seconds{topic="email"}': 7,
    'outbox_oldest_pending_seconds{topic="webhook"}': 0,
  });

  smtp.refusing = false;
  service.clock.advance(60);
  const mail = await smtp.waitFor('alice@example.com');
  expect(mail.code).toMatch(/^\d{6}$/);
  await vi.waitFor(async () => expect(await outbox()).toMatchObject([{ status: 'sent', attempts: 3, payload: '', last_error: null }]));
  expect(smtp.received).toHaveLength(1);
  expect(await metric('outbox_messages_total')).toMatchObject({
    'outbox_messages_total{topic="email",result="queued"}': 1,
    'outbox_messages_total{topic="email",result="retry"}': 2,
    'outbox_messages_total{topic="email",result="sent"}': 1,
  });
});

it('a mailbox that does not exist (550) fails the email at once, its body erased', async () => {
  await signUp(service, new SoftAuthenticator(), 'gone@example.com');
  await vi.waitFor(async () =>
    expect(await outbox()).toMatchObject([{ status: 'failed', attempts: 1, payload: '', last_error: expect.stringContaining('550') }]),
  );
  // The reason names no address.
  expect((await outbox())[0]!.last_error).not.toContain('gone@example.com');
  expect(await metric('outbox_messages_total{topic="email",result="failed"}')).toEqual({ 'outbox_messages_total{topic="email",result="failed"}': 1 });
});

it('gives up after 24 hours of failures', async () => {
  smtp.refusing = true;
  await signUp(service, new SoftAuthenticator(), 'alice@example.com');
  await vi.waitFor(async () => expect((await outbox())[0]?.attempts).toBe(1));
  service.clock.advance(24 * 3600 + 1);
  await vi.waitFor(async () => expect(await outbox()).toMatchObject([{ status: 'failed', attempts: 2, payload: '' }]));
  smtp.refusing = false;
  service.clock.advance(3600);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(smtp.received).toHaveLength(0);
});

it('a sent email is never sent again', async () => {
  await signUp(service, new SoftAuthenticator(), 'alice@example.com');
  await smtp.waitFor('alice@example.com');
  await vi.waitFor(async () => expect((await outbox())[0]?.status).toBe('sent'));
  service.clock.advance(3 * 3600);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(smtp.received).toHaveLength(1);
});
