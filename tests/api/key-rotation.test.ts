// Signing-key rotation: a new key is published at once and signs only after
// KEY_PUBLISH_SECONDS; tokens signed by the old key still verify; a later rotation
// retires a key once no token it signed can be alive. `npm run rotate-keys` runs it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../../server/db/connect.js';
import { KEY_PUBLISH_SECONDS, reloadSigningKeys, rotateSigningKeys } from '../../server/tokens/signing-keys.js';
import { bearer, signIn, signUp, SoftAuthenticator, startService, type TestService } from '../helpers/service.js';

let service: TestService;
let phone: SoftAuthenticator;
beforeEach(async () => {
  service = await startService();
  phone = new SoftAuthenticator();
});
afterEach(() => service.close());

const sessionTtl = 3600; // the default SESSION_TTL_SECONDS
const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const published = async () => ((await service.request('GET', '/.well-known/jwks.json')).body.keys as { kid: string }[]).map((key) => key.kid);
const rotate = async () => {
  const rotated = await rotateSigningKeys(service.deps.db, service.clock.now, sessionTtl);
  await reloadSigningKeys(service.deps); // what every instance does on its timer
  return rotated;
};
const signInToken = async () => (await signIn(service, phone, 'alice@example.com')).body.token as string;

describe('signing-key rotation', () => {
  it('publishes the new key at once, signs with it only after KEY_PUBLISH_SECONDS, and old tokens still verify', async () => {
    const { token: before } = await signUp(service, phone, 'alice@example.com');
    const first = kidOf(before);
    const { kid: second, signsFrom, retired } = await rotate();
    expect(retired).toEqual([]);
    expect(signsFrom).toEqual(new Date(service.clock.now.getTime() + KEY_PUBLISH_SECONDS * 1000));
    expect(await published()).toEqual([second, first]);
    expect(kidOf(await signInToken())).toBe(first);

    service.clock.advance(KEY_PUBLISH_SECONDS);
    await reloadSigningKeys(service.deps);
    const after = await signInToken();
    expect(kidOf(after)).toBe(second);
    for (const token of [before, after]) expect((await service.request('GET', '/v1/me', undefined, bearer(token))).status).toBe(200);
  });

  it('retires a key once a newer one has signed for longer than a session lives', async () => {
    const { token: old } = await signUp(service, phone, 'alice@example.com');
    const first = kidOf(old);
    const { kid: second } = await rotate();
    service.clock.advance(KEY_PUBLISH_SECONDS + sessionTtl - 1);
    // The second key has signed for just under a session's life: a token of the first may live.
    const third = await rotate();
    expect(third.retired).toEqual([]);
    service.clock.advance(1);
    const { kid: fourth, retired } = await rotate();
    expect(retired).toEqual([first]);
    expect(await published()).toEqual([fourth, third.kid, second]);
  });
});

describe('npm run rotate-keys', () => {
  it('adds the next key to the database it is configured with, and says when it signs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotate-keys-'));
    try {
      const url = join(dir, 'db.sqlite');
      const env = { PATH: process.env.PATH, DATABASE_URL: url, LOG_LEVEL: 'silent' };
      const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', 'server/rotate-keys.ts'], { env });
      const { stdout } = await run();
      expect(stdout).toMatch(/^new signing key \S+: published now, signs from \d{4}-\d\d-\d\dT.*\nretired: none\n$/);
      const db = openDatabase({ url });
      await migrate(db);
      const keys = await db.selectFrom('signing_keys').select(['generation']).orderBy('generation').execute();
      await db.destroy();
      expect(keys).toEqual([{ generation: 1 }, { generation: 2 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
