// The floor: the CPU cost of what one sign-in ceremony cannot avoid, measured in
// this process, one operation at a time, with no HTTP and no framework:
// - verifying the assertion, as the service does it (server/ceremonies/assertion.ts,
//   every check, the credential's key already parsed);
// - signing the session JWT (jose, ES256), as the service does it;
// - the ceremony's SQL as prepared statements on a SQLite file with the service's
//   pragmas and schema: the challenge written (with the email) and used up,
//   the credential with its account, then one transaction (counter, session,
//   audit event). The commits do not fsync here: the service's group commit shares
//   one WAL flush among the ceremonies in flight (its CPU is small, its wait is off
//   the event loop), so the floor leaves it out.
// CPU time is process.cpuUsage(): every thread, so WebCrypto's thread pool counts.
// Their sum is the least CPU a ceremony can cost; 1 / sum is the most ceremonies per
// second one core can do. Run as a script, it prints the floor as JSON (bench/run.ts
// runs it so on the service's own core).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateAuthenticationOptions } from '@simplewebauthn/server';
import SQLite from 'better-sqlite3';
import { generateKeyPair, SignJWT } from 'jose';
import { createAssertionVerifier } from '../server/ceremonies/assertion.js';
import { migrate, openDatabase } from '../server/db/connect.js';
import { SoftAuthenticator } from '../tests/helpers/authenticator.js';
import { origin } from './service.js';

/** CPU seconds per operation, one at a time, after a warm-up. */
async function cpuPerOp(iterations: number, op: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(500, iterations); i++) await op(i);
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await op(i);
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1e6 / iterations;
}

async function verifySeconds(iterations: number) {
  const authenticator = new SoftAuthenticator({ origin });
  const creation = {
    challenge: 'AAAA',
    rp: { id: 'localhost', name: 'bench' },
    user: { id: 'AAAA', name: 'u', displayName: 'u' },
    pubKeyCredParams: [{ alg: -7 as const, type: 'public-key' as const }],
  };
  await authenticator.createCredential(creation);
  const publicKeyHex = Buffer.from(authenticator.credentials[0]!.publicKey).toString('hex');
  const options = await generateAuthenticationOptions({ rpID: 'localhost', userVerification: 'required' });
  const response = await authenticator.getAssertion(options);
  const expected = { challenge: options.challenge, origins: [origin], topOrigins: [], rpId: 'localhost', requireUserVerification: true };
  const { verify } = createAssertionVerifier();
  return cpuPerOp(iterations, () => verify(response, publicKeyHex, expected));
}

async function signSeconds(iterations: number) {
  const { privateKey } = await generateKeyPair('ES256');
  return cpuPerOp(iterations, () =>
    new SignJWT({ email: 'user@example.com' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'JWT' })
      .setIssuer(origin)
      .setAudience('localhost')
      .setSubject(randomUUID())
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti(randomUUID())
      .sign(privateKey),
  );
}

async function databaseSeconds(iterations: number, accounts = 1000) {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-floor-'));
  const file = join(dir, 'floor.db');
  try {
    const kysely = openDatabase({ url: file });
    await migrate(kysely);
    await kysely.destroy();
    const db = new SQLite(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    const now = new Date().toISOString();
    const users = Array.from({ length: accounts }, (_, i) => ({
      id: randomUUID(),
      email: `user${i}@example.com`,
      credential: randomBytes(32).toString('hex'),
      counter: 0,
    }));
    const insertUser = db.prepare('insert into users (id, email, display_name, user_handle, created_at) values (?, ?, ?, ?, ?)');
    const insertCredential = db.prepare(
      "insert into credentials (id, user_id, public_key, counter, device_type, backed_up, transports, aaguid, name, created_at) values (?, ?, 'a5', 0, 'singleDevice', 0, '[]', 'x', 'Passkey', ?)",
    );
    db.transaction(() => {
      for (const user of users) {
        insertUser.run(user.id, user.email, '', randomUUID(), now);
        insertCredential.run(user.credential, user.id, now);
      }
    })();
    const statements = {
      insertChallenge: db.prepare(
        "insert into challenges (id, kind, challenge, user_id, email, display_name, user_handle, session_jti, created_at, expires_at) values (?, 'authentication', 'c', null, ?, null, null, null, ?, ?)",
      ),
      consume: db.prepare('delete from challenges where id = ? returning *'),
      credentialWithUser: db.prepare(
        'select credentials.*, users.email, users.user_handle from credentials inner join users on users.id = credentials.user_id where credentials.id = ?',
      ),
      use: db.prepare('update credentials set counter = ?, backed_up = 0, last_used_at = ? where id = ? and counter = ?'),
      session: db.prepare('insert into sessions (jti, user_id, credential_id, created_at, expires_at, revoked_at) values (?, ?, ?, ?, ?, null)'),
      audit: db.prepare(
        "insert into audit_events (id, credential_id, ip, user_id, type, created_at, detail) values (?, ?, '127.0.0.1', ?, 'passkey.used', ?, null)",
      ),
    };
    const finish = db.transaction((user: (typeof users)[number]) => {
      statements.use.run(user.counter + 1, now, user.credential, user.counter);
      user.counter++;
      statements.session.run(randomUUID(), user.id, user.credential, now, now);
      statements.audit.run(randomUUID(), user.credential, user.id, now);
    });
    return await cpuPerOp(iterations, (i) => {
      const user = users[(i * 7919) % users.length]!;
      const id = randomUUID();
      statements.insertChallenge.run(id, user.email, now, now);
      statements.consume.get(id);
      statements.credentialWithUser.get(user.credential);
      finish(user);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureFloor(iterations = 5000) {
  const verify = await verifySeconds(iterations);
  const sign = await signSeconds(iterations);
  const database = await databaseSeconds(iterations);
  const total = verify + sign + database;
  return { verify, sign, database, total, perSecond: 1 / total };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) console.log(JSON.stringify(await measureFloor()));
