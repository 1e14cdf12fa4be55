// Two service processes on one SQLite file (WAL mode), as `npm run bench --
// --instances 2` runs them: concurrent sign-ups and sign-ins through both wait
// for each other's locks and all succeed, and each sees what the other wrote.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { startProcess, type ServiceProcess } from '../helpers/process.js';

async function call(service: ServiceProcess, method: string, path: string, body: unknown) {
  const response = await fetch(service.url + path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as any };
}

it('two processes on one SQLite file: concurrent ceremonies through both all succeed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-two-'));
  const env = { DATABASE_URL: join(dir, 'passkeys.db'), RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'silent' };
  const first = await startProcess(env);
  const second = await startProcess(env);
  try {
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const [here, there] = i % 2 ? [first, second] : [second, first];
        const authenticator = new SoftAuthenticator();
        const email = `user-${i}@example.com`;
        const start = await call(here, 'POST', '/v1/challenges', { email });
        const finish = await call(there, 'PUT', '/v1/challenges', {
          challengeId: start.body.challengeId,
          registration: await authenticator.createCredential(start.body.options),
        });
        statuses.push(finish.status);
        if (finish.status !== 201) return;
        for (let round = 0; round < 3; round++) {
          const signIn = await call(there, 'POST', '/v1/tokens', { email });
          const done = await call(here, 'PUT', '/v1/tokens', {
            challengeId: signIn.body.challengeId,
            authentication: await authenticator.getAssertion(signIn.body.options),
          });
          statuses.push(done.status);
        }
      }),
    );
    expect(statuses.filter((status) => status !== 201 && status !== 200)).toEqual([]);
  } finally {
    await first.stop();
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
