// The floor: what one sign-in ceremony cannot avoid, measured in this process on
// one core, with no HTTP: verifying the assertion (@simplewebauthn/server), signing
// the session JWT (jose, ES256), and the database statements of a ceremony run as
// prepared statements on a SQLite file with the service's pragmas (synchronous=FULL:
// each commit waits for its fsync). Their sum is the least time a ceremony can cost
// on one core; 1 / sum is the most ceremonies per second that core can do.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAuthenticationOptions, verifyAuthenticationResponse } from '@simplewebauthn/server';
import SQLite from 'better-sqlite3';
import { generateKeyPair, SignJWT } from 'jose';
import { migrate, openDatabase } from '../server/db/connect.js';
import { SoftAuthenticator } from '../tests/helpers/authenticator.js';
import { origin } from './service.js';

// Wall-clock seconds per operation, one at a time: on an idle core that is the CPU
// cost plus what the operation must wait for (an fsync at commit).
async function timePerOp(iterations: number, op: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(200, iterations); i++) await op(i); // warm-up
  const began = performance.now();
  for (let i = 0; i < iterations; i++) await op(i);
  return (performance.now() - began) / 1000 / iterations;
}

async function verifySeconds(iterations: number) {
  const authenticator = new SoftAuthenticator({ origin });
  const creation = { challenge: 'AAAA', rp: { id: 'localhost', name: 'bench' }, user: { id: 'AAAA', name: 'u', displayName: 'u' }, pubKeyCredParams: [{ alg: -7 as const, type: 'public-key' as const }] };
  await authenticator.createCredential(creation);
  const credential = authenticator.credentials[0]!;
  const options = await generateAuthenticationOptions({ rpID: 'localhost', userVerification: 'required' });
  const response = await authenticator.getAssertion(options);
  return timePerOp(iterations, () =>
    verifyAuthenticationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: origin,
      expectedRPID: 'localhost',
      requireUserVerification: true,
      credential: { id: credential.id, publicKey: credential.publicKey, counter: 0 },
    }),
  );
}

async function signSeconds(iterations: number) {
  const { privateKey } = await generateKeyPair('ES256');
  return timePerOp(iterations, () =>
    new SignJWT({ email: 'user@example.com' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer(origin)
      .setAudience('localhost')
      .setSubject(randomUUID())
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti(randomUUID())
      .sign(privateKey),
  );
}

async function databaseSeconds(iterations: number) {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-floor-'));
  const file = join(dir, 'floor.db');
  try {
    const kysely = openDatabase({ url: file });
    await migrate(kysely);
    await kysely.destroy();
    const db = new SQLite(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const userId = randomUUID();
    const credentialId = randomBytes(32).toString('hex');
    const now = new Date().toISOString();
    db.prepare('insert into users (id, email, display_name, user_handle, created_at) values (?, ?, ?, ?, ?)').run(userId, 'user@example.com', '', 'handle', now);
    db.prepare(
      "insert into credentials (id, user_id, public_key, counter, device_type, backed_up, transports, aaguid, name, created_at) values (?, ?, 'a5', 0, 'singleDevice', 0, '[]', 'x', 'Passkey', ?)",
    ).run(credentialId, userId, now);
    const statements = {
      userByEmail: db.prepare('select * from users where email = ?'),
      credentialsByUser: db.prepare('select * from credentials where user_id = ?'),
      insertChallenge: db.prepare("insert into challenges (id, kind, challenge, user_id, expires_at, created_at) values (?, 'authentication', 'c', ?, ?, ?)"),
      challenge: db.prepare('select * from challenges where id = ?'),
      credential: db.prepare('select * from credentials where id = ?'),
      userById: db.prepare('select * from users where id = ?'),
      consume: db.prepare('delete from challenges where id = ? returning *'),
      use: db.prepare('update credentials set counter = ?, backed_up = 0, last_used_at = ? where id = ? and counter = ?'),
      session: db.prepare('insert into sessions (jti, user_id, credential_id, created_at, expires_at) values (?, ?, ?, ?, ?)'),
      audit: db.prepare("insert into audit_events (id, user_id, type, credential_id, created_at) values (?, ?, 'passkey.used', ?, ?)"),
    };
    // As in the service: the challenge is written without waiting for the disk.
    const start = (id: string) => {
      db.pragma('synchronous = NORMAL');
      statements.insertChallenge.run(id, userId, now, now);
      db.pragma('synchronous = FULL');
    };
    const finish = db.transaction((id: string, counter: number) => {
      statements.consume.get(id);
      statements.use.run(counter, now, credentialId, counter - 1);
      statements.session.run(randomUUID(), userId, credentialId, now, now);
      statements.audit.run(randomUUID(), userId, credentialId, now);
    });
    return await timePerOp(iterations, (i) => {
      const id = randomUUID();
      statements.userByEmail.get('user@example.com');
      statements.credentialsByUser.all(userId);
      start(id);
      statements.challenge.get(id);
      statements.credential.get(credentialId);
      statements.userById.get(userId);
      finish(id, i + 1);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureFloor(iterations = 2000) {
  const verify = await verifySeconds(iterations);
  const sign = await signSeconds(iterations);
  // The database part mutates a counter: number it past the warm-up.
  const database = await databaseSeconds(iterations);
  const total = verify + sign + database;
  return { verify, sign, database, total, perSecond: 1 / total };
}
