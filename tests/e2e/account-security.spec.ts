// The demo page keeps a stolen token from owning the account, as a person sees it:
// adding or deleting a passkey with a stale proof costs one more passkey prompt and
// nothing else, and the person sees and ends their other sessions.
import { DemoPage, newEmail } from './demo-page.js';
import { strictServiceUrl } from './env.js';
import { expect, test } from './fixtures.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
// The strict service asks for a proof at most 3 seconds old: wait that out.
const letTheProofGoStale = (demo: DemoPage) => demo.page.waitForTimeout(4_000);

test('adding a passkey with a stale proof: the page confirms with a passkey, moves to the new session and adds it', async ({
  page,
  request,
  plugInSecurityKey,
  browserErrors,
}) => {
  browserErrors.allow(/status of 403/); // the service's answer that asks for the proof
  const demo = new DemoPage(page);
  await demo.open(`${strictServiceUrl}/`);
  const first = await demo.tokenFrom(() => demo.signUp(newEmail('rosalind')));
  await letTheProofGoStale(demo);
  // The security key is plugged in only once the page has re-proved with the device's
  // passkey (the second start), so the browser cannot offer the empty key for that proof.
  let starts = 0;
  await page.route(`${strictServiceUrl}/v1/challenges`, async (route) => {
    if (route.request().method() === 'POST' && ++starts === 2) await plugInSecurityKey();
    await route.continue();
  });

  const answers: number[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === '/v1/challenges' && response.request().method() === 'POST') answers.push(response.status());
  });
  await demo.button('Add a passkey').click();

  await expect(demo.passkeys).toHaveCount(2);
  expect(answers).toEqual([403, 200]);
  // One session is left, this page's new one; the stale one was ended.
  await expect(demo.sessions).toHaveCount(1);
  await expect(demo.sessions.first()).toContainText('This browser');
  expect((await request.get(`${strictServiceUrl}/v1/me`, { headers: bearer(first) })).status()).toBe(401);
  expect(await demo.claim('jti').innerText()).not.toBe(JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString()).jti);
});

test('deleting a passkey with a stale proof: one passkey prompt, then it is gone', async ({ page, plugInSecurityKey, browserErrors }) => {
  browserErrors.allow(/status of 403/);
  const demo = new DemoPage(page);
  await demo.open(`${strictServiceUrl}/`);
  await demo.signUp(newEmail('barbara'));
  await plugInSecurityKey();
  await demo.button('Add a passkey').click();
  await expect(demo.passkeys).toHaveCount(2);
  await page.getByLabel('Passkey name').fill('YubiKey');
  await demo.button('Save').click();
  await letTheProofGoStale(demo);

  await demo.passkey('YubiKey').getByRole('button', { name: 'Delete', exact: true }).click();
  await demo.button('Yes, delete').click();

  await expect(demo.status).toContainText('Passkey “YubiKey” deleted.');
  await expect(demo.passkeys).toHaveCount(1);
});

test('the session list, and "Sign out everywhere else" ends the other sessions at the service', async ({ page, request }) => {
  const demo = new DemoPage(page);
  const email = newEmail('marie');
  await demo.open();
  // A reload forgets the token without ending its session: one the person no longer holds.
  const forgotten = await demo.tokenFrom(() => demo.signUp(email));
  await expect(demo.sessions).toHaveCount(1);
  await expect(demo.button('Sign out everywhere else')).toBeHidden();
  await page.reload();
  await expect(demo.signedOut).toBeVisible();
  await demo.signIn(email);

  await expect(demo.sessions).toHaveCount(2);
  await expect(demo.sessions.first()).toContainText('This browser');
  await expect(demo.sessions.nth(1)).toContainText('Signed in with');
  await expect(demo.sessions.nth(1)).toContainText('from 127.0.0.1');
  await page.screenshot({ path: test.info().outputPath('sessions.png'), fullPage: true });

  await demo.button('Sign out everywhere else').click();

  await expect(demo.status).toHaveText('You are signed out everywhere else. Only this browser is still signed in.');
  await expect(demo.sessions).toHaveCount(1);
  expect((await request.get('/v1/me', { headers: bearer(forgotten) })).status()).toBe(401);
});

test('"End session" ends one other session', async ({ page, request }) => {
  const demo = new DemoPage(page);
  const email = newEmail('lise');
  await demo.open();
  const forgotten = await demo.tokenFrom(() => demo.signUp(email));
  await page.reload();
  await demo.signIn(email);
  await expect(demo.sessions).toHaveCount(2);

  await demo.sessions.nth(1).getByRole('button', { name: 'End session' }).click();

  await expect(demo.status).toHaveText('That session is signed out.');
  await expect(demo.sessions).toHaveCount(1);
  expect((await request.get('/v1/me', { headers: bearer(forgotten) })).status()).toBe(401);
});
