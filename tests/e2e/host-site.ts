// A site on other origins that embeds the form the way the README says: one script,
// one element. playwright.config.ts runs this file as a server on the listed origin
// (embedHostOrigin) and on one the service does not list (unlistedOrigin). The site
// has a strict CSP of its own (no inline script, no eval, styles by hash only) and
// global styles of the kind that leak into widgets, so the tests see what a real site does.
// Its backend also enrols: /enrol?user=<id>&on=script|element mints a ticket for that
// user with the admin API and renders it as data-ticket on the script or the element;
// /enrol?ticket=<ticket> renders one minted earlier.
import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { createTicket } from './admin.js';
import { embedHostOrigin, serviceUrl, unlistedOrigin } from './env.js';

const styles = `
  body { max-width: 38rem; margin: 0 auto; padding: 2rem 1rem; background: #fbf7f0; color: rgb(60, 40, 30); font-family: Georgia, serif; }
  header { padding-bottom: 1rem; margin-bottom: 2rem; border-bottom: 2px solid #e5dccb; font-size: 1.3rem; }
  button { padding: 0.8rem 1.4rem; border: 0; border-radius: 0; background: rgb(26, 26, 26); color: #fff; text-transform: uppercase; letter-spacing: 0.1em; }
  input, p { font-family: Georgia, serif; }
  #sign-in { margin: 1.5rem 0; }
  main div { color: rgb(255, 0, 0); font-size: 30px; letter-spacing: 5px; }
`;

const policy = [
  "default-src 'none'",
  `script-src ${serviceUrl}`,
  `connect-src ${serviceUrl}`,
  `style-src 'sha256-${createHash('sha256').update(styles).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const attribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

const page = ({ heading, ticketOn, ticket }: { heading: string; ticketOn?: 'script' | 'element'; ticket?: string }) => {
  const ticketAttribute = ticket === undefined ? '' : ` data-ticket="${attribute(ticket)}"`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Example Shop: sign in</title>
  <style>${styles}</style>
</head>
<body>
  <header><strong>Example Shop</strong></header>
  <main>
    <h1>${heading}</h1>
    <p>See your orders and check out faster.</p>
    <div id="sign-in"${ticketOn === 'element' ? ticketAttribute : ''}></div>
    <button type="button">Continue as a guest</button>
  </main>
  <script src="${serviceUrl}/embed.js" data-target="#sign-in"${ticketOn === 'script' ? ticketAttribute : ''}></script>
</body>
</html>`;
};

const html = (res: ServerResponse, body: string) =>
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': policy, 'Cache-Control': 'no-store' }).end(body);

for (const origin of [embedHostOrigin, unlistedOrigin]) {
  createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/') return html(res, page({ heading: 'Sign in to your account' }));
    if (url.pathname === '/enrol') {
      const ticketOn = url.searchParams.get('on') === 'element' ? 'element' : 'script';
      const given = url.searchParams.get('ticket');
      const minted = given === null ? createTicket(url.searchParams.get('user') ?? '') : Promise.resolve({ ticket: given });
      return void minted.then(
        ({ ticket }) => html(res, page({ heading: 'Set up your account', ticketOn, ticket })),
        (error: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(error)),
      );
    }
    res.writeHead(204).end(); // favicon and the like
  }).listen(Number(new URL(origin).port), '127.0.0.1');
}
