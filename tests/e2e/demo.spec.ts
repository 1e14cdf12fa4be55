// The demo page, used as a person would: real Chromium, real WebAuthn (Chromium's
// virtual authenticators), the service started by playwright.config.ts.
import { DemoPage, newEmail } from './demo-page.js';
import { expect, test } from './fixtures.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** A problem+json answer, as the service gives one, for route.fulfill. */
const problem = (status: number, title: string, code: string, detail: string, headers: Record<string, string> = {}) => ({
  status,
  headers,
  contentType: 'application/problem+json',
  body: JSON.stringify({ type: 'about:blank', title, status, detail, code }),
});

test('sign-up creates a passkey and signs the person in', async ({ page, authenticator }) => {
  const demo = new DemoPage(page);
  const email = newEmail('ada');
  await demo.open();
  await page.screenshot({ path: test.info().outputPath('signed-out.png'), fullPage: true });

  await demo.signUp(email);

  await expect(demo.fact('Session ends')).toContainText('(in 1 hour)');
  await expect(demo.claim('email')).toHaveText(email);
  await expect(demo.claim('sub')).toHaveText(await demo.fact('User id').innerText());
  await expect(demo.passkeys).toHaveCount(1);
  await expect(demo.passkeys.first()).toContainText('Synced');
  await expect(demo.passkeys.first()).toContainText('Never used');
  expect(await authenticator.credentials()).toHaveLength(1);
});

test('sign-out returns to the form and ends the session at the service', async ({ page, request }) => {
  const demo = new DemoPage(page);
  await demo.open();
  const token = await demo.tokenFrom(() => demo.signUp(newEmail('grace')));
  expect((await request.get('/v1/me', { headers: bearer(token) })).status()).toBe(200);

  await demo.signOut();

  await expect(demo.signedOut).toBeFocused();
  expect((await request.get('/v1/me', { headers: bearer(token) })).status()).toBe(401);
});

test('the token lives in memory only: nothing is stored, and a reload signs out', async ({ page }) => {
  const demo = new DemoPage(page);
  await demo.open();
  await demo.signUp(newEmail('hedy'));

  expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, '']);
  expect(await page.context().cookies()).toEqual([]);
  await page.reload();
  await expect(demo.signedOut).toBeVisible();
});

test('sign-in by email', async ({ page }) => {
  const demo = new DemoPage(page);
  const email = newEmail('katherine');
  await demo.open();
  await demo.signUp(email);
  await demo.signOut();

  const started = page.waitForRequest((r) => r.url().endsWith('/v1/tokens') && r.method() === 'POST');
  await demo.signIn(email);

  expect((await started).postDataJSON()).toEqual({ email });
  await expect(demo.status).toHaveText('You are signed in.');
  await expect(demo.passkeys.first()).toContainText('Last used just now');
});

test('sign-in with a passkey, without typing anything (usernameless)', async ({ page }) => {
  const demo = new DemoPage(page);
  const email = newEmail('margaret');
  await demo.open();
  await demo.signUp(email);
  await demo.signOut();
  await demo.email.clear();

  const started = page.waitForRequest((r) => r.url().endsWith('/v1/tokens') && r.method() === 'POST');
  await demo.button('Sign in with a passkey').click();

  await demo.expectSignedInAs(email);
  expect((await started).postDataJSON()).toEqual({});
});

test.describe('with autofill', () => {
  test.use({ autofill: true });

  test("a passkey offered in the Email field's autofill signs the person in", async ({ page }) => {
    // Which kind of request the page makes: 'conditional' is autofill, anything else a modal prompt.
    await page.addInitScript(() => {
      const get = navigator.credentials.get.bind(navigator.credentials);
      const seen: string[] = ((window as unknown as { mediations: string[] }).mediations = []);
      navigator.credentials.get = (options) => {
        seen.push(options?.mediation ?? 'modal');
        return get(options);
      };
    });
    const demo = new DemoPage(page);
    const email = newEmail('radia');
    await demo.open();
    await expect(demo.email).toHaveAttribute('autocomplete', 'username webauthn');
    await demo.signUp(email); // at load there was no passkey to offer: the page said nothing

    // Signed out, the page offers the passkey in the Email field; the virtual authenticator picks it.
    await demo.button('Sign out').click();

    await demo.expectSignedInAs(email);
    await expect(demo.status).toHaveText('You are signed in.');
    const mediations = await page.evaluate(() => (window as unknown as { mediations: string[] }).mediations);
    expect(mediations.length).toBeGreaterThan(0);
    expect(new Set(mediations)).toEqual(new Set(['conditional']));
  });

  test('after a sign-in through autofill fails, the passkey is offered again', async ({ page, browserErrors }) => {
    browserErrors.allow(/status of 401/);
    const demo = new DemoPage(page);
    const email = newEmail('ruth');
    await demo.open();
    await demo.signUp(email);
    // The first finish is refused, as it would be had the passkey been removed meanwhile.
    let refused = 0;
    await page.route('**/v1/tokens', (route) =>
      route.request().method() === 'PUT' && refused++ === 0
        ? route.fulfill(problem(401, 'Unauthorized', 'authentication_failed', 'Sign-in failed'))
        : route.continue(),
    );
    await demo.button('Sign out').click();

    // The virtual authenticator picks the passkey each time it is offered. (Wait for
    // the second finish first: right after the click the page may still show the
    // session that is being signed out.)
    await expect.poll(() => refused, { timeout: 15_000 }).toBe(2);
    await demo.expectSignedInAs(email);
  });
});

test('a second passkey on a security key, then sign-in with it', async ({ page, authenticator, plugInSecurityKey }) => {
  const demo = new DemoPage(page);
  const email = newEmail('barbara');
  await demo.open();
  await demo.signUp(email);

  const securityKey = await plugInSecurityKey();
  await authenticator.setPresent(false); // the person uses the key, not this device
  await demo.button('Add a passkey').click();

  // The page asks for a name at once.
  await expect(demo.status).toHaveText('Passkey added. Give it a name you will recognise.');
  await expect(page.getByLabel('Passkey name')).toBeFocused();
  await page.getByLabel('Passkey name').fill('YubiKey');
  await demo.button('Save').click();
  await expect(demo.passkeys).toHaveCount(2);
  await expect(demo.passkey('YubiKey')).toContainText('Device-bound');
  await expect(demo.passkey('YubiKey')).toContainText('Never used');
  await demo.button('Dismiss message').click();
  await expect(demo.status).toBeEmpty();
  await page.screenshot({ path: test.info().outputPath('signed-in-two-passkeys.png'), fullPage: true });

  await demo.signOut();
  await demo.signIn(email);

  await expect(demo.passkey('YubiKey')).toContainText('Last used just now');
  await expect(demo.passkeys.filter({ hasNotText: 'YubiKey' })).toContainText('Never used');
  const [keyCredential] = await securityKey.credentials();
  expect(keyCredential?.signCount).toBeGreaterThan(1);
});

test('adding a passkey on a device that has one already says so', async ({ page }) => {
  const demo = new DemoPage(page);
  await demo.open();
  await demo.signUp(newEmail('frances'));

  await demo.button('Add a passkey').click();

  await expect(demo.status).toHaveText('This device already has a passkey for this account. Use another device or security key.');
  await expect(demo.passkeys).toHaveCount(1);
});

test('rename a passkey', async ({ page, request }) => {
  const demo = new DemoPage(page);
  await demo.open();
  const token = await demo.tokenFrom(() => demo.signUp(newEmail('annie')));
  const row = demo.passkeys.first();

  await row.getByRole('button', { name: 'Rename', exact: true }).click();
  await expect(page.getByLabel('Passkey name')).toBeFocused();
  await page.getByLabel('Passkey name').fill('Work laptop');
  await page.getByLabel('Passkey name').press('Enter');

  await expect(demo.passkey('Work laptop')).toBeVisible();
  await expect(demo.status).toHaveText('Passkey renamed to “Work laptop”.');
  await expect(demo.passkey('Work laptop').getByRole('button', { name: 'Rename', exact: true })).toBeFocused();
  const { credentials } = await (await request.get('/v1/credentials', { headers: bearer(token) })).json();
  expect(credentials.map((c: { name: string }) => c.name)).toEqual(['Work laptop']);

  // Escape gives up an edit and keeps the name.
  await demo.passkey('Work laptop').getByRole('button', { name: 'Rename', exact: true }).click();
  await page.getByLabel('Passkey name').fill('Something else');
  await page.getByLabel('Passkey name').press('Escape');
  await expect(demo.passkey('Work laptop')).toBeVisible();
});

test('delete a passkey; the last one cannot be deleted, and the page says why', async ({ page, authenticator, plugInSecurityKey, browserErrors }) => {
  const demo = new DemoPage(page);
  const lastPasskey = "You can't delete your only passkey: you couldn't sign in any more. Add another passkey first.";
  await demo.open();
  await demo.signUp(newEmail('mary'));

  await demo.passkeys.first().getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(demo.status).toHaveText(lastPasskey);
  await expect(page.getByRole('dialog')).toBeHidden();
  await expect(demo.passkeys).toHaveCount(1);

  const securityKey = await plugInSecurityKey();
  await authenticator.setPresent(false);
  await demo.button('Add a passkey').click();
  await page.getByLabel('Passkey name').fill('YubiKey');
  await demo.button('Save').click();
  await expect(demo.passkeys).toHaveCount(2);

  await demo.passkey('YubiKey').getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(page.getByRole('dialog', { name: 'Delete “YubiKey”?' })).toBeVisible();
  await demo.button('Yes, delete').click();

  await expect(demo.passkeys).toHaveCount(1);
  await expect(demo.passkey('YubiKey')).toHaveCount(0);
  await expect(demo.status).toContainText('Passkey “YubiKey” deleted.');
  await demo.passkeys.first().getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(demo.status).toHaveText(lastPasskey);

  // The key still holds the deleted passkey; the service no longer accepts it.
  browserErrors.allow(/status of 401/);
  await demo.signOut();
  await demo.button('Sign in with a passkey').click();
  await expect(demo.status).toHaveText("Signing in with that passkey didn't work. It may have been removed from your account: try another passkey.");
  await expect(demo.signedOut).toBeVisible();
  expect(await securityKey.credentials()).toHaveLength(1);
});

test('a cancelled ceremony shows a message, and the page still works', async ({ page, authenticator }) => {
  const demo = new DemoPage(page);
  const email = newEmail('shafi');
  await demo.open();

  await authenticator.setUserVerified(false); // the person cancels the fingerprint prompt
  await demo.email.fill(email);
  await demo.button('Sign up').click();
  await expect(demo.status).toHaveText('No passkey was created: the request was cancelled or timed out. Try again when you are ready.');
  await expect(demo.signedOut).toBeVisible();

  await authenticator.setUserVerified(true);
  await demo.signUp(email);
  await demo.signOut();

  await authenticator.setUserVerified(false);
  await demo.button('Sign in').click();
  await expect(demo.status).toHaveText('No passkey was used: you cancelled, or this device has no passkey for this site. Try again, or sign up.');
  await authenticator.setUserVerified(true);
  await demo.signIn(email);
});

test('too many attempts: the page says how long to wait, as the service told it', async ({ page, browserErrors }) => {
  browserErrors.allow(/status of 429/);
  const demo = new DemoPage(page);
  await demo.open();
  await page.route('**/v1/tokens', (route) =>
    route.fulfill(problem(429, 'Too Many Requests', 'rate_limited', 'Too many requests: try again in 42 s', { 'retry-after': '42' })),
  );
  await demo.email.fill(newEmail('tess'));
  await demo.button('Sign in').click();
  await expect(demo.status).toHaveText('Too many attempts. Try again in 42 seconds.');
});

test("signing up with an existing account's email says so", async ({ page, browserErrors }) => {
  browserErrors.allow(/status of 409/);
  const demo = new DemoPage(page);
  const email = newEmail('lynn');
  await demo.open();
  await demo.signUp(email);
  await demo.signOut();

  await demo.email.fill(email);
  await demo.button('Sign up').click();

  await expect(demo.status).toHaveText('An account with this email already exists. Choose Sign in, or “Lost your passkey?” if you no longer have its passkey.');
  await expect(demo.signedOut).toBeVisible();
  await demo.signIn(email);
});

test('an invalid email is refused before anything is sent, and the message moves nothing', async ({ page }) => {
  const demo = new DemoPage(page);
  await demo.open();
  const before = await demo.button('Sign up').boundingBox();
  let sent = 0;
  page.on('request', (r) => void (r.url().includes('/v1/') && r.method() !== 'GET' && sent++));

  await demo.button('Sign up').click();
  await expect(demo.status).toHaveText('Enter your email address, like name@example.com.');
  await expect(demo.email).toHaveAttribute('aria-invalid', 'true');
  await expect(demo.email).toBeFocused();
  expect(await demo.button('Sign up').boundingBox()).toEqual(before);

  await demo.email.fill('not an email');
  await demo.button('Sign in').click();
  await expect(demo.status).toHaveText('Enter your email address, like name@example.com.');
  expect(sent).toBe(0);
});

test('a browser without WebAuthn is told so', async ({ page }) => {
  await page.addInitScript(() => delete (window as Partial<Window & typeof globalThis>).PublicKeyCredential);
  const demo = new DemoPage(page);
  await demo.open();

  const message = "This browser can't use passkeys here. Use a current browser, on a page served over https (or http://localhost).";
  await expect(page.getByText(message)).toBeVisible();
  await demo.email.fill(newEmail('ida'));
  await demo.button('Sign up').click();
  await expect(demo.status).toHaveText(message);
});

test('an expired session sends the person back to sign in', async ({ page, request, browserErrors }) => {
  browserErrors.allow(/status of 401/);
  const demo = new DemoPage(page);
  await demo.open();
  const token = await demo.tokenFrom(() => demo.signUp(newEmail('joan')));
  expect((await request.delete('/v1/sessions/current', { headers: bearer(token) })).status()).toBe(204);

  await demo.button('Add a passkey').click();

  await expect(demo.status).toHaveText('Your session has ended. Sign in again.');
  await expect(demo.signedOut).toBeVisible();
});

test('an unreachable service gets a clear message, and the page recovers', async ({ page, browserErrors }) => {
  browserErrors.allow(/ERR_CONNECTION_REFUSED/);
  const demo = new DemoPage(page);
  const email = newEmail('evelyn');
  await demo.open();
  await page.route('**/v1/**', (route) => route.abort('connectionrefused'));

  await demo.email.fill(email);
  await demo.button('Sign up').click();
  await expect(demo.status).toHaveText("Can't reach the passkey service. Check your connection and try again.");

  await page.unroute('**/v1/**');
  await demo.signUp(email);
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });

  test('the page fits the screen, signed out and signed in', async ({ page }) => {
    const demo = new DemoPage(page);
    const fitsWidth = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    await demo.open();
    expect(await fitsWidth()).toBe(true);

    await demo.signUp(newEmail('sophie'));
    expect(await fitsWidth()).toBe(true);
    await demo.button('Dismiss message').click();
    await page.screenshot({ path: test.info().outputPath('phone-signed-in.png'), fullPage: true });
  });
});

test('the page runs under a strict Content-Security-Policy, with scripts from the service itself', async ({ request }) => {
  const response = await request.get('/');
  const policy = new Map(
    response
      .headers()
      ['content-security-policy']!.split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .map(([name, ...values]) => [name!, values]),
  );
  expect(policy.get('script-src')).toEqual(["'self'"]);
  expect(policy.get('object-src')).toEqual(["'none'"]);
  expect(policy.get('base-uri')).toEqual(["'none'"]);
  expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
  expect(policy.has('upgrade-insecure-requests')).toBe(false);

  const scripts = [...(await response.text()).matchAll(/<script src="([^"]+)"/g)].map((match) => match[1]!);
  expect(scripts).toEqual(['vendor/simplewebauthn-browser.js', 'passkeys.js', 'demo.js', 'vendor/alpine-csp.js']);
  for (const script of scripts) {
    const file = await request.get(`/${script}`);
    expect(file.status(), script).toBe(200);
    expect(file.headers()['content-type'], script).toBe('text/javascript; charset=utf-8');
  }
});
