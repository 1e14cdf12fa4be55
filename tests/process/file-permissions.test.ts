// The SQLite file holds the private signing keys and the server secret: a fresh
// start creates its folder for the service's user alone (0700) and the database,
// with its -wal and -shm files, readable by that user only (0600), whatever the
// umask would have allowed.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startProcess } from '../helpers/process.js';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

it('a fresh start creates the data folder 0700 and the SQLite files 0600, under a umask of 022', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-modes-'));
  const data = join(dir, 'data');
  const service = await startProcess({ DATABASE_URL: join(data, 'passkeys.db'), LOG_LEVEL: 'silent' }, { umask: '022' });
  try {
    // A write, so that the WAL and its index are there for certain.
    expect((await fetch(`${service.url}/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    expect(readdirSync(data).sort()).toEqual(['passkeys.db', 'passkeys.db-shm', 'passkeys.db-wal']);
    expect(mode(data)).toBe('700');
    for (const file of readdirSync(data)) expect([file, mode(join(data, file))]).toEqual([file, '600']);
  } finally {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
