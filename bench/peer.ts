// The peer for `npm run bench -- --peer`: Better Auth with its passkey plugin
// (bench/peer/server.mjs), installed on demand from bench/peer/package-lock.json,
// its users registered through its own API with the same software authenticators,
// its sign-in ceremonies driven like the service's.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SoftAuthenticator } from '../tests/helpers/authenticator.js';
import type { createClient, Reply } from './http.js';
import type { User } from './population.js';
import { origin, type Instance } from './service.js';

export const peerScript = ['bench/peer/server.mjs'];
const api = '/api/auth/passkey';

/** Installs the peer's pinned dependencies into bench/peer/node_modules, once. */
export function installPeer(): void {
  if (existsSync('bench/peer/node_modules')) return;
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
