// Browser tests: a real Chromium (the system's, see tests/e2e/env.ts) with its
// virtual WebAuthn authenticator, against services this run starts itself with
// fresh in-memory databases (the second asks for a passkey proof at most 3 seconds
// old), a site on two other origins that embeds the form, and a mail server the
// services send to and the tests read (tests/e2e/mail-server.ts).
import { defineConfig } from '@playwright/test';
import { adminApiKey, chromiumPath, embedHostOrigin, inboxUrl, serviceUrl, smtpPort, strictServiceUrl } from './tests/e2e/env.js';

const service = (url: string, env: Record<string, string> = {}) => ({
  command: 'npx tsx server/main.ts',
  url: `${url}/readyz`,
  reuseExistingServer: false,
  timeout: 60_000,
  env: {
    PORT: new URL(url).port,
    HOST: '127.0.0.1',
    RP_ID: 'localhost',
    ORIGINS: `${url},${embedHostOrigin}`,
    DATABASE_URL: ':memory:',
    LOG_LEVEL: 'warn',
    // Every test's person signs up from 127.0.0.1: allow that many ceremonies a minute.
    RATE_LIMIT_CEREMONY_PER_IP: '10000',
    RATE_LIMIT_ACCOUNT_PER_IP: '10000',
    REDIS_URL: '',
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    // The tests create users and enrolment tickets as a site's backend does.
    ADMIN_API_KEYS: adminApiKey,
    ...env,
  },
});

export default defineConfig({
  testDir: 'tests/e2e',
  fullyParallel: true,
  forbidOnly: true,
  retries: 0,
  reporter: process.env.CI ? [['list'], ['html', { open: 'never' }]] : 'list',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  use: {
    baseURL: serviceUrl,
    browserName: 'chromium',
    locale: 'en-GB',
    timezoneId: 'UTC',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromiumPath,
      args: [
        // Chromium's sandbox does not run as root (CI containers).
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
        // Without these Chromium keeps trying to reach Google from a machine that may have no network.
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        // Containers often give /dev/shm 64 MB, which Chromium can run out of.
        '--disable-dev-shm-usage',
      ],
    },
  },
  // Started in this order, each once the one before is ready: the mail server first, so
  // that no email a service sends meets a closed port (it would wait for a retry).
  webServer: [
    {
      command: 'npx tsx tests/e2e/mail-server.ts',
      url: `${inboxUrl}/messages`,
      reuseExistingServer: false,
    },
    service(serviceUrl),
    service(strictServiceUrl, { REAUTH_MAX_AGE_SECONDS: '3' }),
    {
      command: 'npx tsx tests/e2e/host-site.ts',
      url: `${embedHostOrigin}/`,
      reuseExistingServer: false,
    },
  ],
});
