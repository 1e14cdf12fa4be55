// Reading what the services emailed, from the inbox of tests/e2e/mail-server.ts.
import type { ReceivedEmail } from '../helpers/smtp.js';
import { inboxUrl } from './env.js';
import { expect } from './fixtures.js';

export async function emailsTo(address: string): Promise<ReceivedEmail[]> {
  const response = await fetch(`${inboxUrl}/messages?to=${encodeURIComponent(address)}`);
  if (!response.ok) throw new Error(`inbox: ${response.status}`);
  return (await response.json()) as ReceivedEmail[];
}

/**
 * The code of the latest email to `address` whose subject matches `subject`, waiting
 * for one: the service sends after its transaction commits, so the page answers first.
 */
export async function codeSentTo(address: string, subject: RegExp): Promise<string> {
  let code: string | undefined;
  await expect
    .poll(
      async () => {
        code = (await emailsTo(address)).filter((email) => subject.test(email.subject)).at(-1)?.code;
        return code;
      },
      { message: `an email to ${address} with a code, subject matching ${subject}`, timeout: 15_000 },
    )
    .toMatch(/^\d{6}$/);
  return code!;
}
