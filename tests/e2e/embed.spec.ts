// The embeddable form on a site of another origin: listed in ORIGINS (it works),
// or not listed (the browser refuses the API to it).
import { newEmail } from './demo-page.js';
import { embedHostOrigin, unlistedOrigin } from './env.js';
import { expect, test } from './fixtures.js';
import { embedEvents, openHostPage } from './host-page.js';
import type { APIRequestContext, Page } from '@playwright/test';

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

/** The profile the token opens at the service (its status, and the body when 200). */
async function me(request: APIRequestContext, token: string) {
  const response = await request.get('/v1/me', { headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status(), body: response.ok() ? await response.json() : undefined };
}

async function signUpOnHost(page: Page, email: string) {
  await page.getByLabel('Email').fill(email);
  await button(page, 'Sign up').click();
  await expect(page.getByRole('status')).toHaveText(`Signed in as ${email}.`);
}

test('a site on a listed origin embeds the form; sign-up there dispatches passkey:signed-in with a working token', async ({ page, request }) => {
  const email = newEmail('ellen');
  await openHostPage(page, embedHostOrigin);
  await expect(page.getByLabel('Email')).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('embed-on-host-page.png'), fullPage: true });

  await signUpOnHost(page, email);

  const events = await embedEvents(page);
  expect(events.map((event) => event.type)).toEqual(['passkey:signed-in']);
  const { userId, token, expiresAt } = events[0]!.detail;
  expect(Object.keys(events[0]!.detail).sort()).toEqual(['expiresAt', 'token', 'userId']);
  expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
  expect(await me(request, token)).toMatchObject({ status: 200, body: { userId, email } });
});

test('sign-in on the embedded form, by email and without, dispatches passkey:signed-in', async ({ page, request, browserErrors }) => {
  const email = newEmail('jean');
  await openHostPage(page, embedHostOrigin);
  await signUpOnHost(page, email);

  // The service's problems are readable across origins: a second sign-up gets its own message.
  browserErrors.allow(/status of 409/);
  await page.reload();
  await page.getByLabel('Email').fill(email);
  await button(page, 'Sign up').click();
  const accountExists = 'An account with this email already exists. Choose Sign in instead.';
  await expect(page.getByRole('status')).toHaveText(accountExists);
  expect(await embedEvents(page)).toEqual([{ type: 'passkey:error', detail: { code: 'account_exists', message: accountExists } }]);

  for (const typed of [email, '']) {
    await page.reload();
    await page.getByLabel('Email').fill(typed);
    await button(page, 'Sign in').click();
    await expect(page.getByRole('status')).toHaveText(`Signed in as ${email}.`);
    const [event] = await embedEvents(page);
    expect(event?.type).toBe('passkey:signed-in');
    expect(await me(request, event!.detail.token)).toMatchObject({ status: 200, body: { email } });
  }
});

test.describe('with autofill', () => {
  test.use({ autofill: true });

  test("the form offers the site's passkeys in the Email field's autofill", async ({ page, request }) => {
    const email = newEmail('aurora');
    await openHostPage(page, embedHostOrigin);
    await expect(page.getByLabel('Email')).toHaveAttribute('autocomplete', 'username webauthn');
    await signUpOnHost(page, email); // the button's ceremony aborts the autofill request

    // A new visit: the form offers the passkey in the field; the virtual authenticator picks it.
    await page.reload();
    await expect(page.getByRole('status')).toHaveText(`Signed in as ${email}.`);
    const [event] = await embedEvents(page);
    expect(event?.type).toBe('passkey:signed-in');
    expect(await me(request, event!.detail.token)).toMatchObject({ status: 200, body: { email } });
  });
});

test('a failed ceremony dispatches passkey:error, and the form still works', async ({ page, authenticator }) => {
  const email = newEmail('dorothy');
  await openHostPage(page, embedHostOrigin);

  await authenticator.setUserVerified(false);
  await page.getByLabel('Email').fill(email);
  await button(page, 'Sign up').click();

  const message = 'No passkey was created: the request was cancelled or timed out. Try again when you are ready.';
  await expect(page.getByRole('status')).toHaveText(message);
  expect(await embedEvents(page)).toEqual([{ type: 'passkey:error', detail: { code: 'cancelled', message } }]);

  await authenticator.setUserVerified(true);
  await signUpOnHost(page, email);
});

test("the form's styles and the site's stay apart", async ({ page }) => {
  await openHostPage(page, embedHostOrigin);
  const style = (name: string, property: string) =>
    page.getByRole('button', { name, exact: true }).evaluate((element, p) => getComputedStyle(element).getPropertyValue(p), property);

  // The site's button rules do not reach the form's buttons...
  expect(await style('Sign up', 'text-transform')).toBe('none');
  expect(await style('Sign up', 'background-color')).toBe('rgb(255, 255, 255)');
  expect(await page.getByLabel('Email').evaluate((element) => getComputedStyle(element).fontFamily)).not.toContain('Georgia');
  // Nor do the inherited properties of a rule that matches the element holding the form.
  const label = await page.getByText('Email', { exact: true }).evaluate((element) => {
    const { color, fontSize, letterSpacing } = getComputedStyle(element);
    return { color, fontSize, letterSpacing };
  });
  expect(label).toEqual({ color: 'rgb(27, 31, 42)', fontSize: '16px', letterSpacing: 'normal' });
  // ...and the form's rules do not reach the site's.
  expect(await style('Continue as a guest', 'text-transform')).toBe('uppercase');
  expect(await style('Continue as a guest', 'background-color')).toBe('rgb(26, 26, 26)');
  expect(await style('Continue as a guest', 'border-radius')).toBe('0px');
  // Nothing of the script lands in the site's globals.
  expect(await page.evaluate(() => ['SimpleWebAuthnBrowser', 'createPasskeyClient', 'describeError'].filter((name) => name in window))).toEqual([]);
});

test('/embed.js is served for use by other origins', async ({ request }) => {
  const response = await request.get('/embed.js');
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toBe('text/javascript; charset=utf-8');
  expect(response.headers()['cross-origin-resource-policy']).toBe('cross-origin');
});

test('an origin the service does not list cannot use the API', async ({ page, request, browserErrors }) => {
  browserErrors.allow(/blocked by CORS policy/);
  browserErrors.allow(/net::ERR_FAILED/);
  const preflight = (origin: string) =>
    request.fetch('/v1/challenges', {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
  expect((await preflight(embedHostOrigin)).headers()['access-control-allow-origin']).toBe(embedHostOrigin);
  expect((await preflight(unlistedOrigin)).headers()['access-control-allow-origin']).toBeUndefined();

  await openHostPage(page, unlistedOrigin);
  await page.getByLabel('Email').fill(newEmail('alice'));
  await button(page, 'Sign up').click();

  const message = "Can't reach the passkey service. Check your connection and try again.";
  await expect(page.getByRole('status')).toHaveText(message);
  expect(await embedEvents(page)).toEqual([{ type: 'passkey:error', detail: { code: 'unreachable', message } }]);
});
