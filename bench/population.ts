// The users a benchmark needs: a working set that signs in through the API with
// real software authenticators, and (for the table-size runs) filler accounts
// written straight into the database so that 1,000,000 passkeys take seconds.
import { randomBytes, randomUUID } from 'node:crypto';
import { migrate, openDatabase } from '../server/db/connect.js';
import type { CredentialsTable, UsersTable } from '../server/db/schema.js';
import { SoftAuthenticator } from '../tests/helpers/authenticator.js';
import type { createClient } from './http.js';
import { origin, type Instance } from './service.js';

export interface User {
  email: string;
  authenticator: SoftAuthenticator;
}

export async function signUp(http: ReturnType<typeof createClient>, instance: Instance, email: string): Promise<User> {
  const authenticator = new SoftAuthenticator({ origin });
  const start = await http.call(instance.url, 'POST', '/v1/challenges', { email });
  const registration = await authenticator.createCredential(start.body.options);
  const finish = await http.call(instance.url, 'PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
  if (finish.status !== 201) throw new Error(`sign-up failed: ${finish.status} ${JSON.stringify(finish.body)}`);
  return { email, authenticator };
}

/** Signs up `count` users, 50 at a time, with `signUpOne` (the service's `signUp`, or the peer's). */
export async function registerUsers(count: number, signUpOne: (email: string) => Promise<User>): Promise<User[]> {
  const users: User[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, (_, j) => signUpOne(`user${i + j}@example.com`));
    users.push(...(await Promise.all(batch)));
  }
  return users;
}

/** Adds `count` accounts with one passkey each, directly in the database. */
export async function seedFiller(databaseUrl: string, count: number): Promise<void> {
  if (count <= 0) return;
  const db = openDatabase({ url: databaseUrl, poolSize: 2 });
  try {
    await migrate(db);
    const publicKey = Buffer.from(new SoftAuthenticator().credentials[0]?.publicKey ?? (await fillerKey())).toString('hex');
    const createdAt = new Date().toISOString();
    const batch = 1000;
    for (let start = 0; start < count; start += batch) {
      const users: UsersTable[] = [];
      const credentials: CredentialsTable[] = [];
      for (let i = start; i < Math.min(count, start + batch); i++) {
        const id = randomUUID();
        users.push({
          id,
          email: `filler${i}@example.com`,
          display_name: '',
          user_handle: randomBytes(16).toString('base64url'),
          created_at: createdAt,
          email_verified_at: null,
          external_id: null,
        });
        credentials.push({
          id: randomBytes(32).toString('hex'),
          user_id: id,
          public_key: publicKey,
          counter: 0,
          device_type: 'singleDevice',
          backed_up: 0,
          transports: '["internal"]',
          aaguid: '00000000-0000-0000-0000-000000000000',
          name: 'Passkey',
          created_at: createdAt,
          last_used_at: null,
        });
      }
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('users').values(users).execute();
        await trx.insertInto('credentials').values(credentials).execute();
      });
    }
  } finally {
    await db.destroy();
  }
}

async function fillerKey(): Promise<Uint8Array> {
  const authenticator = new SoftAuthenticator();
  await authenticator.createCredential({
    challenge: 'AAAA',
    rp: { id: 'localhost', name: 'bench' },
    user: { id: 'AAAA', name: 'filler', displayName: 'filler' },
    pubKeyCredParams: [{ alg: -7, type: 'public-key' }],
  });
  return authenticator.credentials[0]!.publicKey;
}
