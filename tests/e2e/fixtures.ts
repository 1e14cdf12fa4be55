// The world of every browser test:
// - Chromium's own virtual WebAuthn authenticators over CDP. Every page gets the
//   device's platform authenticator (internal transport, resident keys, user
//   verification, backed up like a password manager's passkeys); a test can plug
//   in a USB security key too. A page without an authenticator waits forever on
//   navigator.credentials.
// - Autofill (conditional mediation) is hidden from the page unless a test turns
//   it on: Chromium's virtual authenticator answers an autofill request at once,
//   as if the person had picked the passkey before touching the page, so with it
//   on, a signed-out page with a known passkey signs itself in.
// - The test fails on any Content-Security-Policy violation, uncaught error or
//   console error; a test that provokes a console error on purpose (a 409 the
//   page turns into a message) allows that one by pattern.
import { test as base, expect, type CDPSession } from '@playwright/test';

export { expect };

export interface VirtualAuthenticator {
  /** false: user verification fails, as when a person cancels the fingerprint or PIN prompt. */
  setUserVerified(verified: boolean): Promise<void>;
  /** false: the authenticator never answers, as when a security key is not plugged in. */
  setPresent(present: boolean): Promise<void>;
  credentials(): Promise<{ credentialId: string; signCount: number }[]>;
  /** Takes it away, passkeys and all, as when a device is lost. */
  remove(): Promise<void>;
}

/** What went wrong in the page; the test fails if anything is left here at its end. */
export class BrowserErrors {
  readonly problems: string[] = [];
  private readonly allowed: RegExp[] = [];

  /** Lets console errors matching `pattern` pass (never CSP violations or uncaught errors). */
  allow(pattern: RegExp): void {
    this.allowed.push(pattern);
  }

  consoleError(text: string): void {
    const csp = /Content.Security.Policy/i.test(text);
    if (csp || !this.allowed.some((pattern) => pattern.test(text))) this.problems.push(`console error: ${text}`);
  }
}

interface Fixtures {
  autofill: boolean;
  browserErrors: BrowserErrors;
  cdp: CDPSession;
  authenticator: VirtualAuthenticator;
  /** Adds a USB security key (device-bound passkeys) beside the platform authenticator. */
  plugInSecurityKey: () => Promise<VirtualAuthenticator>;
  /** Adds another platform authenticator, empty: a new device's, for a person who lost the old one (remove it first). */
  addPlatformAuthenticator: () => Promise<VirtualAuthenticator>;
}

const ctap2 = { protocol: 'ctap2', ctap2Version: 'ctap2_1', hasResidentKey: true, hasUserVerification: true, isUserVerified: true } as const;
const platform = { ...ctap2, transport: 'internal', defaultBackupEligibility: true, defaultBackupState: true } as const;
const usbKey = { ...ctap2, transport: 'usb' } as const;

async function addAuthenticator(cdp: CDPSession, options: typeof platform | typeof usbKey): Promise<VirtualAuthenticator> {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options });
  return {
    setUserVerified: async (isUserVerified) => void (await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified })),
    setPresent: async (enabled) => void (await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled })),
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    remove: async () => void (await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId })),
  };
}

declare global {
  interface Window {
    reportCspViolation?: (violation: string) => void;
  }
}

export const test = base.extend<Fixtures>({
  autofill: [false, { option: true }],

  browserErrors: async ({}, use) => use(new BrowserErrors()),

  page: async ({ page, autofill, browserErrors }, use) => {
    const { problems } = browserErrors;
    page.on('pageerror', (error) => problems.push(`uncaught error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') browserErrors.consoleError(message.text());
    });
    await page.exposeFunction('reportCspViolation', (violation: string) => problems.push(`CSP violation: ${violation}`));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        window.reportCspViolation?.(`${event.effectiveDirective} blocked ${event.blockedURI || 'inline code'} (${event.sourceFile}:${event.lineNumber})`);
      });
    });
    if (!autofill) {
      await page.addInitScript(() => {
        if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
      });
    }
    await use(page);
    expect(problems, 'CSP violations, uncaught errors and console errors').toEqual([]);
  },

  cdp: async ({ page }, use) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    await use(cdp);
  },

  authenticator: [async ({ cdp }, use) => use(await addAuthenticator(cdp, platform)), { auto: true }],

  plugInSecurityKey: async ({ cdp }, use) => use(() => addAuthenticator(cdp, usbKey)),

  addPlatformAuthenticator: async ({ cdp }, use) => use(() => addAuthenticator(cdp, platform)),
});
