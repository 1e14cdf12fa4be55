// Where the browser tests run: their own service on port 3100 (3000 may be a
// developer's), a page on a listed second origin that embeds the form, and one on
// an origin the service does not list. All three are localhost, so one RP ID
// (localhost) covers them, and browsers treat http://localhost as secure. The
// services' emails go to a test mail server on 2525, whose inbox the tests read on 2526.
export const serviceUrl = 'http://localhost:3100';
/** A second service whose passkey proofs go stale after 3 seconds (REAUTH_MAX_AGE_SECONDS=3). */
export const strictServiceUrl = 'http://localhost:3101';
export const embedHostOrigin = 'http://localhost:4173';
export const unlistedOrigin = 'http://localhost:4174';

/** The services send their emails to this SMTP server (tests/e2e/mail-server.ts)... */
export const smtpPort = 2525;
/** ...which lists them, as JSON, at GET /messages?to=<address> on this port. */
export const inboxUrl = 'http://127.0.0.1:2526';

/** The system Chromium: Playwright's own browser download is not used. */
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The services' admin key (ADMIN_API_KEYS): the tests and the embedding site's backend act as a site's backend with it. */
export const adminApiKey = 'e2e-admin-key-0123456789abcdef';
