// Email ownership in the demo page, as a person goes through it: the code arrives by
// real SMTP at the test mail server (tests/e2e/mail-server.ts), is read from its inbox,
// and typed into the page.
import { DemoPage, newEmail } from './demo-page.js';
import { expect, test } from './fixtures.js';
import { codeSentTo, emailsTo } from './inbox.js';

const verification = /^Confirm your email address/;
const recovery = /^Get back into your/;
const wrongCode = 'That code is wrong or has expired. Check the latest email, or send a new code.';

test('after sign-up, the code from the email verifies the email', async ({ page, browserErrors }) => {
  browserErrors.allow(/status of 400/); // the wrong code, which the page turns into a message
  const demo = new DemoPage(page);
  const email = newEmail('alan');
  await demo.open();
  const firstToken = await demo.tokenFrom(() => demo.signUp(email));

  await expect(demo.fact('Email status')).toHaveText('Email not verified');
  await expect(page.getByText('Your email is not verified yet.')).toBeVisible();
  await expect(demo.claim('email_verified')).toHaveText('false');
  const code = await codeSentTo(email, verification);
  await page.screenshot({ path: test.info().outputPath('email-not-verified.png'), fullPage: true });

  await demo.code.fill(code === '000000' ? '111111' : '000000');
  await demo.button('Verify email').click();
  await expect(demo.status).toHaveText(wrongCode);
  await expect(demo.code).toHaveAttribute('aria-invalid', 'true');

  await demo.code.fill(code);
  await demo.button('Verify email').click();

  await expect(demo.status).toHaveText('Your email is verified.');
  await expect(demo.fact('Email status')).toHaveText('Email verified');
  await expect(demo.code).toBeHidden();
  // The page moved to the session the service answered: its token says so, and the old one is over.
  await expect(demo.claim('email_verified')).toHaveText('true');
  await expect(demo.sessions).toHaveCount(1);
  expect((await page.request.get('/v1/me', { headers: { Authorization: `Bearer ${firstToken}` } })).status()).toBe(401);
});

test('"Send a new code" sends one, and only its code works', async ({ page, browserErrors }) => {
  browserErrors.allow(/status of 400/);
  const demo = new DemoPage(page);
  const email = newEmail('barbara');
  await demo.open();
  await demo.signUp(email);
  const first = await codeSentTo(email, verification);

  await demo.button('Send a new code').click();
  await expect(demo.status).toHaveText(`We sent a new code to ${email}. Codes in earlier emails no longer work.`);
  await expect.poll(async () => (await emailsTo(email)).length).toBe(2);
  const second = await codeSentTo(email, verification);

  if (first !== second) {
    await demo.code.fill(first);
    await demo.button('Verify email').click();
    await expect(demo.status).toHaveText(wrongCode);
  }
  await demo.code.fill(second);
  await demo.button('Verify email').click();
  await expect(demo.fact('Email status')).toHaveText('Email verified');
});

test('lost passkey: a code by email and a passkey on a new device sign the person in', async ({ page, authenticator, addPlatformAuthenticator }) => {
  const demo = new DemoPage(page);
  const email = newEmail('grace');
  await demo.open();
  await demo.signUp(email);
  await demo.signOut();
  // The device and its passkey are gone; the person is on a new one.
  await authenticator.remove();
  const newDevice = await addPlatformAuthenticator();

  await page.getByRole('link', { name: 'Lost your passkey?' }).click();
  const recoveryCard = page.getByRole('region', { name: 'Get back into your account' });
  await expect(recoveryCard.getByLabel('Email')).toBeFocused();
  await recoveryCard.getByLabel('Email').fill(email);
  await demo.button('Send code').click();
  await expect(recoveryCard).toContainText(`If an account uses ${email}, a 6-digit code is on its way there.`);
  await expect(demo.code).toBeFocused();
  await expect(page.getByText("Emails are printed in the service's log")).toBeHidden();
  await page.screenshot({ path: test.info().outputPath('recovery-code.png'), fullPage: true });

  await demo.code.fill(await codeSentTo(email, recovery));
  await demo.button('Continue').click();

  await demo.expectSignedInAs(email);
  await expect(demo.status).toHaveText('Welcome back! Your new passkey is saved and you are signed in.');
  await expect(demo.fact('Email status')).toHaveText('Email verified');
  await expect(demo.claim('email_verified')).toHaveText('true');
  // The email had never been proven: the passkey made before was removed with the proof.
  await expect(demo.passkeys).toHaveCount(1);
  expect(await newDevice.credentials()).toHaveLength(1);
  await expect.poll(async () => (await emailsTo(email)).map((sent) => sent.subject)).toContainEqual(expect.stringMatching(/^A passkey was added/));

  await demo.signOut();
  await demo.signIn(email);
});

test('recovery: a wrong code and a cancelled passkey prompt each say what to do, and Continue then works', async ({ page, authenticator, browserErrors }) => {
  browserErrors.allow(/status of 400/);
  const demo = new DemoPage(page);
  const email = newEmail('hopper');
  await demo.open();
  await demo.signUp(email);
  await demo.signOut();
  await demo.email.fill(email);

  await page.getByRole('link', { name: 'Lost your passkey?' }).click();
  const recoveryCard = page.getByRole('region', { name: 'Get back into your account' });
  await expect(recoveryCard.getByLabel('Email')).toHaveValue(email); // what was typed to sign in
  await demo.button('Send code').click();
  const code = await codeSentTo(email, recovery);

  await demo.code.fill('12345');
  await demo.button('Continue').click();
  await expect(demo.status).toHaveText('Enter the 6-digit code from the email.');
  await demo.code.fill(code === '000000' ? '111111' : '000000');
  await demo.button('Continue').click();
  await expect(demo.status).toHaveText(wrongCode);

  await authenticator.setUserVerified(false); // the person cancels the passkey prompt
  await demo.code.fill(code);
  await demo.button('Continue').click();
  await expect(demo.status).toHaveText('No passkey was created: the request was cancelled or timed out. Try again when you are ready.');

  await authenticator.setUserVerified(true);
  await demo.button('Continue').click();
  await demo.expectSignedInAs(email);
});

test('recovery is offered only when the service has it, and emails in the log are pointed at', async ({ page, browserErrors }) => {
  browserErrors.allow(/status of 409/); // the existing account
  await page.route('**/v1/features', (route) => route.fulfill({ json: { recovery: false, emailsInLog: true } }));
  const demo = new DemoPage(page);
  const email = newEmail('ida');
  await demo.open();
  await demo.signUp(email);
  await expect(page.getByText("Emails are printed in the service's log")).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('emails-in-log.png'), fullPage: true });
  await demo.signOut();

  await expect(page.getByRole('link', { name: 'Lost your passkey?' })).toBeHidden();
  await demo.email.fill(email);
  await demo.button('Sign up').click();
  await expect(demo.status).toHaveText('An account with this email already exists. Choose Sign in instead.');
});
