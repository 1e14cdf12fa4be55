// The emails the service sends, in plain words: each names the site (RP_NAME), says
// why it came and what to do if the person did not ask for it, and has a text and an
// HTML part saying the same. A code is the text part's only run of exactly 6 digits
// (the contract), and never goes in a subject, which phones show on a locked screen.
import type { Email } from './mailer.js';

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface Body {
  subject: string;
  /** Paragraphs; `code` is set apart in the HTML part. */
  paragraphs: string[];
  code?: string;
  after?: string[];
}

function render(to: string, site: string, body: Body): Email {
  const text = [...body.paragraphs, ...(body.code ? [body.code] : []), ...(body.after ?? []), `— ${site}`].join('\n\n');
  const p = (line: string) => `<p>${escapeHtml(line)}</p>`;
  const code = body.code ? `<p style="font-size:28px;font-weight:bold;letter-spacing:4px;font-family:monospace">${escapeHtml(body.code)}</p>` : '';
  const html = [
    '<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1b1b1f">',
    ...body.paragraphs.map(p),
    code,
    ...(body.after ?? []).map(p),
    `<p style="color:#555">— ${escapeHtml(site)}</p>`,
    '</body></html>',
  ].join('\n');
  return { to, subject: body.subject, text, html };
}

// Times in words a person reads at a glance, in UTC so that one email says one thing everywhere.
const when = (at: Date) => `${new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(at)} (UTC)`;

const minutes = (seconds: number) => Math.max(1, Math.round(seconds / 60));

export function verificationEmail(to: string, site: string, code: string, ttlSeconds: number): Email {
  return render(to, site, {
    subject: `Confirm your email address for ${site}`,
    paragraphs: [`Hello,`, `To confirm that this address is yours, enter this code on ${site}:`],
    code,
    after: [
      `The code works once, for ${minutes(ttlSeconds)} minutes.`,
      `If you did not create an account on ${site}, someone else typed your address: do not share the code with anyone, and you can ignore this email.`,
    ],
  });
}

export function recoveryEmail(to: string, site: string, code: string, ttlSeconds: number): Email {
  return render(to, site, {
    subject: `Get back into your ${site} account`,
    paragraphs: [`Hello,`, `Someone asked to get back into the ${site} account of this address. If it was you, enter this code where you asked:`],
    code,
    after: [
      `The code works once, for ${minutes(ttlSeconds)} minutes, and only in the browser where it was asked for. With it you will create a new passkey.`,
      `If it was not you, do not share the code with anyone (${site} never asks for it by phone or chat) and ignore this email: your account stays as it is.`,
    ],
  });
}

/** To an address without an account: the same request gets an answer, and no code. */
export function noAccountEmail(to: string, site: string): Email {
  return render(to, site, {
    subject: `Get back into your ${site} account`,
    paragraphs: [
      `Hello,`,
      `Someone asked to get back into a ${site} account with this address, but there is no account for it.`,
      `If it was you, perhaps your account uses another email address: try that one, or create an account.`,
      `If it was not you, you can ignore this email.`,
    ],
  });
}

/** How a passkey came to be added: the registration's kind. */
export type PasskeyAddedHow = 'add-passkey' | 'recovery' | 'enrolment';

const hows: Record<PasskeyAddedHow, string> = {
  'add-passkey': 'while signed in',
  recovery: 'by email recovery (with a code sent to this address)',
  enrolment: 'with an enrolment link from the site',
};

export function passkeyAddedEmail(to: string, site: string, added: { at: Date; ip: string | null; how: PasskeyAddedHow }): Email {
  const how = hows[added.how];
  return render(to, site, {
    subject: `A passkey was added to your ${site} account`,
    paragraphs: [
      `Hello,`,
      `A new passkey was added to your ${site} account ${how}, on ${when(added.at)}${added.ip ? ` from the address ${added.ip}` : ''}.`,
      `If this was you, there is nothing to do.`,
      `If it was not you, someone may have access to your email or your account: secure your email first, then sign in to ${site}, remove the passkeys you do not know and sign out your other sessions.`,
    ],
  });
}
