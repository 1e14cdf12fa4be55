// The peer for `npm run bench -- --peer`: Better Auth with its passkey plugin
// (bench/peer/server.mjs), installed on demand from bench/peer/package-lock.json,
// its users registered through its own API with the same software authenticators,
// its sign-in ceremonies driven like the service's; filler accounts for the
// table-size runs are written straight into its database, as for the service.
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { SoftAuthenticator } from '../tests/helpers/authenticator.js';
import type { createClient, Reply } from './http.js';
import type { User } from './population.js';
import { origin, type Instance } from './service.js';

export const peerScript = ['bench/peer/server.mjs'];
const api = '/api/auth/passkey';

/** Installs the peer's pinned dependencies into bench/peer/node_modules, again whenever its lockfile changed. */
export function installPeer(): void {
  const installed = 'bench/peer/node_modules/.package-lock.json'; // npm writes it after every install
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync('bench/peer/package-lock.json').mtimeMs) return;
  const npm = spawnSync('npm', ['ci', '--prefix', 'bench/peer', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (npm.status !== 0) throw new Error(`installing the peer failed (npm exit ${npm.status})`);
}

/** The challenge cookie a start request set, as a request's Cookie header. */
function cookieFrom(reply: Reply): Record<string, string> {
  const cookies = (reply.headers['set-cookie'] ?? []).map((cookie) => cookie.split(';', 1)[0]);
  return { cookie: cookies.join('; '), origin };
}

export async function peerSignUp(http: ReturnType<typeof createClient>, instance: Instance, email: string): Promise<User> {
  const authenticator = new SoftAuthenticator({ origin });
  const start = await http.call(instance.url, 'GET', `${api}/generate-register-options?context=${encodeURIComponent(email)}`);
  const registration = await authenticator.createCredential(start.body);
  const finish = await http.call(instance.url, 'POST', `${api}/verify-registration`, { response: registration }, cookieFrom(start));
  if (finish.status !== 200) throw new Error(`peer sign-up failed: ${finish.status} ${JSON.stringify(finish.body)}`);
  return { email, authenticator };
}

/** Adds `count` accounts with one passkey each to the peer's database (its schema: bench/peer/server.mjs migrates it). */
export function seedPeerFiller(databaseUrl: string, count: number): void {
  if (count <= 0) return;
  const db = new SQLite(databaseUrl);
  try {
    db.pragma('journal_mode = WAL');
    const now = new Date().toISOString();
    const publicKey = randomBytes(77).toString('base64'); // never read: filler accounts do not sign in
    const user = db.prepare('insert into "user" (id, name, email, emailVerified, createdAt, updatedAt) values (?, ?, ?, 0, ?, ?)');
    const passkey = db.prepare(
      `insert into passkey (id, name, publicKey, userId, credentialID, counter, deviceType, backedUp, transports, createdAt, aaguid) values (?, null, ?, ?, ?, 0, 'singleDevice', 0, 'internal', ?, '00000000-0000-0000-0000-000000000000')`,
    );
    const batch = db.transaction((start: number, end: number) => {
      for (let i = start; i < end; i++) {
        const id = randomUUID();
        user.run(id, `filler${i}@example.com`, `filler${i}@example.com`, now, now);
        passkey.run(randomUUID(), publicKey, id, randomBytes(32).toString('base64url'), now);
      }
    });
    for (let start = 0; start < count; start += 1000) batch(start, Math.min(count, start + 1000));
  } finally {
    db.close();
  }
}

/** One sign-in ceremony against the peer: options, the authenticator's assertion, verification. */
export function peerCeremony(http: ReturnType<typeof createClient>) {
  return async ([peer]: Instance[], mine: User[], round: number): Promise<boolean> => {
    const user = mine[round % mine.length]!;
    const begun = await http.call(peer!.url, 'GET', `${api}/generate-authenticate-options`);
    const authentication = await user.authenticator.getAssertion(begun.body);
    const done = await http.call(peer!.url, 'POST', `${api}/verify-authentication`, { response: authentication }, cookieFrom(begun));
    return done.status === 200;
  };
}
