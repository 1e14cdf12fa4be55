// The mail server of the browser tests, which playwright.config.ts starts before the
// services: a real SMTP server (tests/helpers/smtp.ts) that the services send to, and
// an inbox over HTTP, GET /messages?to=<address>, that answers what reached that
// address (oldest first; every address without `to`) as JSON, code included.
// Tests run in parallel workers, each in its own process: an address per test keeps
// them apart.
import { createServer } from 'node:http';
import { startSmtp } from '../helpers/smtp.js';
import { inboxUrl, smtpPort } from './env.js';

const smtp = await startSmtp({ port: smtpPort });

const inbox = new URL(inboxUrl);
createServer((req, res) => {
  const url = new URL(req.url ?? '/', inboxUrl);
  if (req.method !== 'GET' || url.pathname !== '/messages') return void res.writeHead(404).end();
  const to = url.searchParams.get('to');
  const messages = to === null ? smtp.received : smtp.to(to);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(messages));
}).listen(Number(inbox.port), inbox.hostname);
