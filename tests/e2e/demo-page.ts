// The demo page as a person uses it: found by label, role and accessible name,
// the way assistive technology finds it.
import { randomUUID } from 'node:crypto';
import type { Locator, Page } from '@playwright/test';
import { expect } from './fixtures.js';

export const newEmail = (who: string) => `${who}-${randomUUID().slice(0, 8)}@example.com`;

export class DemoPage {
  readonly email: Locator;
  /** The Code field of an emailed code: to verify the email, or to get back in. */
  readonly code: Locator;
  readonly status: Locator;
  readonly signedIn: Locator;
  readonly signedOut: Locator;
  readonly passkeys: Locator;
  readonly sessions: Locator;

  constructor(readonly page: Page) {
    this.email = page.getByLabel('Email', { exact: true });
    this.code = page.getByLabel('Code', { exact: true });
    this.status = page.getByRole('status');
    this.signedIn = page.getByRole('heading', { name: "You're signed in" });
    this.signedOut = page.getByRole('heading', { name: 'Sign in without a password' });
    this.passkeys = page.getByRole('list', { name: 'Your passkeys' }).getByRole('listitem');
    this.sessions = page.getByRole('list', { name: 'Your sessions' }).getByRole('listitem');
  }

  button(name: string): Locator {
    return this.page.getByRole('button', { name, exact: true });
  }

  passkey(name: string): Locator {
    return this.page.getByRole('list', { name: 'Your passkeys' }).getByRole('listitem', { name, exact: true });
  }

  /** A signed-in fact ("Email", "Session ends", ...) from the account card. */
  fact(term: string): Locator {
    return this.page
      .locator('.facts > div')
      .filter({ has: this.page.getByRole('term').getByText(term, { exact: true }) })
      .getByRole('definition');
  }

  claim(name: string): Locator {
    return this.page
      .locator('.claims > div')
      .filter({ has: this.page.getByRole('term').getByText(name, { exact: true }) })
      .getByRole('definition');
  }

  /** Opens the demo page of the service at `url` (the default service when not given). */
  async open(url = '/'): Promise<void> {
    await this.page.goto(url);
    await expect(this.signedOut).toBeVisible();
    // The form is busy until the page's script has started.
    await expect(this.page.locator('form[aria-busy]')).toHaveCount(0);
  }

  async expectSignedInAs(email: string): Promise<void> {
    await expect(this.signedIn).toBeVisible();
    await expect(this.fact('Email')).toHaveText(email);
  }

  async signUp(email: string): Promise<void> {
    await this.email.fill(email);
    await this.button('Sign up').click();
    await this.expectSignedInAs(email);
    await expect(this.status).toHaveText('Welcome! Your passkey is saved and you are signed in.');
  }

  async signIn(email: string): Promise<void> {
    await this.email.fill(email);
    await this.button('Sign in').click();
    await this.expectSignedInAs(email);
  }

  async signOut(): Promise<void> {
    await this.button('Sign out').click();
    await expect(this.signedOut).toBeVisible();
    await expect(this.status).toHaveText('You are signed out.');
  }

  /** Runs `action` and returns the session token the service answered with. */
  async tokenFrom(action: () => Promise<void>): Promise<string> {
    const response = this.page.waitForResponse((r) => /\/v1\/(tokens|challenges)$/.test(r.url()) && r.request().method() === 'PUT');
    await action();
    return ((await (await response).json()) as { token: string }).token;
  }
}
