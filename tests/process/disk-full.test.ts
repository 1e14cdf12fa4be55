// A disk that fills up under the real service (a file SQLite database in WAL mode,
// group commit): the write that does not fit answers 503, not 500, reads go on,
// and every sign-up that was answered 201 is in the file afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { expect, it } from 'vitest';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { startProcess } from '../helpers/process.js';

async function call(url: string, method: string, path: string, body?: unknown) {
  const response = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as any };
}

it('a full disk -> 503 service_unavailable, reads go on; nothing answered is lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-full-'));
  const file = join(dir, 'passkeys.db');
  // The migrations leave about 500 KiB of WAL: room for some dozens of sign-ups.
  const service = await startProcess({ DATABASE_URL: file, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'silent' }, { fileSizeLimitKiB: 1536 });
  try {
    const answered: string[] = [];
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 500 && !refused; i++) {
      const start = await call(service.url, 'POST', '/v1/challenges', { email: `full-${i}@example.com` });
      if (start.status !== 200) {
        refused = start;
        break;
      }
      const registration = await new SoftAuthenticator().createCredential(start.body.options);
      const finish = await call(service.url, 'PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
      if (finish.status === 201) answered.push(finish.body.userId);
      else refused = finish;
    }
    expect(answered.length).toBeGreaterThan(0);
    expect(refused).toMatchObject({ status: 503, type: expect.stringContaining('application/problem+json'), body: { code: 'service_unavailable' } });
    expect((await call(service.url, 'GET', '/readyz')).status).toBe(200);
    expect((await call(service.url, 'GET', '/.well-known/jwks.json')).status).toBe(200);
    await service.stop();

    const db = new SQLite(file);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const users = db.prepare('select id from users').pluck().all() as string[];
    expect(users.sort()).toEqual(answered.sort());
    expect(db.prepare('select count(*) from credentials').pluck().get()).toBe(answered.length);
    db.close();
  } finally {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
