// Enrolment by a ticket: the site's backend creates the user and mints a single-use
// ticket with the admin API (tests/e2e/admin.ts); the person opens it on the demo page
// (/?ticket=…) or on a site that embeds the form (data-ticket), creates a passkey and is
// signed in, without having signed up.
import { DemoPage, newEmail } from './demo-page.js';
import { createTicket, createUser, getUser } from './admin.js';
import { embedHostOrigin, serviceUrl } from './env.js';
import { expect, test } from './fixtures.js';
import { embedEvents, openHostPage } from './host-page.js';
import type { Page } from '@playwright/test';

const usedOrExpired = 'This enrolment link has been used or has expired. Ask for a new one.';
const cancelled = 'No passkey was created: the request was cancelled or timed out. Try again when you are ready.';

const enrolmentHeading = (page: Page, email: string) => page.getByRole('heading', { name: `Create your passkey for ${email}`, exact: true });

/** A user as a site's backend creates one (no passkey yet), and a ticket for them. */
async function enrolledUser(who: string) {
  const email = newEmail(who);
  const user = await createUser({ email, displayName: `${who} Example`, emailVerified: true });
  const { ticket } = await createTicket(user.id);
  return { email, user, ticket };
}

test('an enrolment link on the demo page creates the passkey and signs the person in; the link then is spent', async ({ page, browserErrors, request }) => {
  const demo = new DemoPage(page);
  const { email, user, ticket } = await enrolledUser('alice');

  const entries = await page.evaluate(() => history.length);
  await page.goto(`/?ticket=${ticket}`);
  // The ticket leaves the address bar at once, replacing the visit's one history entry.
  await expect(page).toHaveURL(`${serviceUrl}/`);
  expect(await page.evaluate(() => history.length)).toBe(entries + 1);
  await expect(enrolmentHeading(page, email)).toBeVisible();
  await expect(demo.signedOut).toBeHidden();
  await page.screenshot({ path: test.info().outputPath('enrolment.png'), fullPage: true });

  const token = await demo.tokenFrom(() => demo.button('Create passkey').click());
  await demo.expectSignedInAs(email);
  await expect(demo.status).toHaveText('Welcome! Your passkey is saved and you are signed in.');
  await expect(demo.fact('Email status')).toHaveText('Email verified');
  await expect(demo.passkeys).toHaveCount(1);
  expect((await request.get('/v1/me', { headers: { Authorization: `Bearer ${token}` } })).status()).toBe(200);
  expect(await getUser(user.id)).toMatchObject({ id: user.id, email, credentialCount: 1 });

  // The same link again: the service refuses the ticket (a 400 in the console), the page says why.
  browserErrors.allow(/status of 400/);
  await page.goto(`/?ticket=${ticket}`);
  await expect(demo.status).toHaveText(usedOrExpired);
  await expect(demo.signedOut).toBeVisible();
  await expect(page.getByRole('heading', { name: /Create your passkey/ })).toHaveCount(0);
  await expect(page).toHaveURL(`${serviceUrl}/`);
  expect((await getUser(user.id)).credentialCount).toBe(1);
});

test('after a cancelled prompt, Create passkey works again with the same challenge', async ({ page, authenticator }) => {
  const demo = new DemoPage(page);
  const { email, user, ticket } = await enrolledUser('bea');
  const starts: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/v1/challenges') && r.method() === 'POST') starts.push(r.url());
  });
  await page.goto(`/?ticket=${ticket}`);
  await expect(enrolmentHeading(page, email)).toBeVisible();

  await authenticator.setUserVerified(false);
  await demo.button('Create passkey').click();
  await expect(demo.status).toHaveText(cancelled);
  await expect(enrolmentHeading(page, email)).toBeVisible();

  await authenticator.setUserVerified(true);
  await demo.button('Create passkey').click();
  await demo.expectSignedInAs(email);
  expect(starts, 'one start: the ticket bought one challenge, used by both prompts').toHaveLength(1);
  expect((await getUser(user.id)).credentialCount).toBe(1);
});

test('a link whose ticket is not one at all gets the same message', async ({ page, browserErrors }) => {
  browserErrors.allow(/status of 400/);
  const demo = new DemoPage(page);
  await page.goto('/?ticket=not%20a%20ticket');
  await expect(demo.status).toHaveText(usedOrExpired);
  await expect(demo.signedOut).toBeVisible();
  await expect(page).toHaveURL(`${serviceUrl}/`);
});

for (const on of ['script', 'element'] as const) {
  test(`the embedded form with data-ticket on the ${on} creates the passkey and dispatches passkey:signed-in`, async ({ page, request }) => {
    const email = newEmail('carmen');
    const user = await createUser({ email });
    // The site's backend mints the ticket and renders it into the page.
    await openHostPage(page, embedHostOrigin, `/enrol?user=${user.id}&on=${on}`);
    await expect(page.getByText(`Create your passkey for ${email}`, { exact: true })).toBeVisible();
    await expect(page.getByLabel('Email')).toHaveCount(0);
    if (on === 'script') await page.screenshot({ path: test.info().outputPath('embed-enrolment.png'), fullPage: true });

    await page.getByRole('button', { name: 'Create passkey', exact: true }).click();
    await expect(page.getByRole('status')).toHaveText(`Signed in as ${email}.`);

    const events = await embedEvents(page);
    expect(events.map((event) => event.type)).toEqual(['passkey:signed-in']);
    const { userId, token, expiresAt } = events[0]!.detail;
    expect(Object.keys(events[0]!.detail).sort()).toEqual(['expiresAt', 'token', 'userId']);
    expect(userId).toBe(user.id);
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
    const me = await request.get('/v1/me', { headers: { Authorization: `Bearer ${token}` } });
    expect(await me.json()).toMatchObject({ userId, email });
    expect((await getUser(user.id)).credentialCount).toBe(1);
  });
}

test('the embedded form with a spent ticket says so, dispatches passkey:error and offers sign-in', async ({ page, browserErrors }) => {
  browserErrors.allow(/status of 400/);
  const { ticket } = await enrolledUser('dana');
  // Redeemed before the page opens (by another tab, say): the ticket is spent.
  const redeemed = await fetch(`${serviceUrl}/v1/challenges`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ticket }),
  });
  expect(redeemed.status).toBe(200);

  await openHostPage(page, embedHostOrigin, `/enrol?ticket=${ticket}`);
  await expect(page.getByRole('status')).toHaveText(usedOrExpired);
  expect(await embedEvents(page)).toEqual([{ type: 'passkey:error', detail: { code: 'invalid_ticket', message: usedOrExpired } }]);
  await expect(page.getByRole('button', { name: 'Create passkey' })).toHaveCount(0);
  await expect(page.getByLabel('Email')).toBeVisible();
});
