// Sends one email: through SMTP (nodemailer) or, with EMAIL_DELIVERY=log, into the
// service's log. Only the log mailer ever writes an email's text to the log; the SMTP
// mailer's failures name the SMTP step, never the message.
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { EmailConfig } from '../config.js';
import { PermanentFailure } from '../outbox.js';

export interface Email {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(email: Email): Promise<void>;
  close(): void;
}

// SMTP replies 550-559 say this recipient or message will never be taken: retrying cannot help.
// Other failures (no connection, 4xx, a rejected login) may pass once the server or the setting is fixed.
const permanent = (error: unknown) => {
  const code = (error as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' && code >= 550 && code <= 559;
};

export function createMailer(config: EmailConfig, log: Logger): Mailer {
  if (config.delivery === 'log' || !config.smtpUrl) {
    return {
      // At warn, as the start-up line that promises emails in the log: where it shows, they
      // do (the row is marked sent and its payload erased, so the log is the only copy).
      async send(email) {
        log.warn({ email: { to: email.to, subject: email.subject, text: email.text } }, 'email not sent (EMAIL_DELIVERY=log): printed here instead');
      },
      close() {},
    };
  }
  const transport = nodemailer.createTransport({
    url: config.smtpUrl,
    // nodemailer's defaults wait minutes; a delivery must end well within its outbox lease.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(email) {
      try {
        await transport.sendMail({ from: config.from, ...email });
      } catch (error) {
        const reason = `SMTP: ${(error as { code?: string }).code ?? ''} ${(error as { response?: string }).response ?? (error as Error).message}`.trim();
        // The reason is logged and stored with the row: no address in it.
        const safe = reason.replace(/<?[^\s<>]+@[^\s<>]+>?/g, '<address>');
        throw permanent(error) ? new PermanentFailure(safe) : new Error(safe);
      }
    },
    close: () => transport.close(),
  };
}
