// A real SMTP server for tests (smtp-server), on a random local port: the service
// sends to it over a real SMTP connection, and tests read what arrived (mailparser),
// code included. It can require a login, offer STARTTLS (with its self-signed
// certificate), or refuse connections for a while (421), as a mail server that is down.
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedEmail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  /** The text part's only run of exactly 6 digits, if it has one. */
  code: string | undefined;
  /** Whether the connection it came over was encrypted (STARTTLS). */
  secure: boolean;
}

export interface TestSmtp {
  /** SMTP_URL for the service. */
  url: string;
  port: number;
  received: ReceivedEmail[];
  /** The first email to `to` (after the `skip` earliest) matching `where`, waiting for it up to `timeoutMs`. */
  waitFor(to: string, options?: { where?: (email: ReceivedEmail) => boolean; skip?: number; timeoutMs?: number }): Promise<ReceivedEmail>;
  /** Emails to `to` so far. */
  to(address: string): ReceivedEmail[];
  /** While true, every connection is refused with 421 (service not available). */
  refusing: boolean;
  close(): Promise<void>;
}

const sixDigitRuns = (text: string) => text.match(/(?<!\d)\d{6}(?!\d)/g) ?? [];

export interface SmtpOptions {
  user?: string;
  pass?: string;
  starttls?: boolean;
  port?: number;
  /** Recipients refused for good (550 no such mailbox). */
  unknownMailboxes?: string[];
}

export async function startSmtp(options: SmtpOptions = {}): Promise<TestSmtp> {
  const received: ReceivedEmail[] = [];
  const waiters = new Set<() => void>();
  const state = { refusing: false };
  const server = new SMTPServer({
    secure: false,
    authOptional: options.user === undefined,
    allowInsecureAuth: true,
    disabledCommands: options.starttls ? [] : ['STARTTLS'],
    logger: false,
    onConnect(_session, callback) {
      if (!state.refusing) return callback();
      callback(Object.assign(new Error('Service not available, try later'), { responseCode: 421 }));
    },
    onRcptTo(address, _session, callback) {
      if (!options.unknownMailboxes?.includes(address.address)) return callback();
      callback(Object.assign(new Error('No such mailbox'), { responseCode: 550 }));
    },
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.pass) return callback(null, { user: auth.username });
      callback(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          const text = mail.text ?? '';
          const runs = sixDigitRuns(text);
          received.push({
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            subject: mail.subject ?? '',
            text,
            html: typeof mail.html === 'string' ? mail.html : '',
            code: runs.length === 1 ? runs[0] : undefined,
            secure: session.secure,
          });
          for (const wake of waiters) wake();
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const credentials = options.user === undefined ? '' : `${encodeURIComponent(options.user)}:${encodeURIComponent(options.pass ?? '')}@`;
  const query = options.starttls ? '?tls.rejectUnauthorized=false' : '';

  const to = (address: string) => received.filter((email) => email.to.includes(address));

  return {
    url: `smtp://${credentials}127.0.0.1:${port}${query}`,
    port,
    received,
    to,
    get refusing() {
      return state.refusing;
    },
    set refusing(value: boolean) {
      state.refusing = value;
    },
    waitFor(address, { where = () => true, skip = 0, timeoutMs = 10_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = to(address).filter(where)[skip];
          if (!match) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(match);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no email to ${address} within ${timeoutMs} ms (received: ${received.map((e) => `${e.to} "${e.subject}"`).join('; ') || 'none'})`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
