// Graceful shutdown: on SIGTERM the service stops accepting connections, lets the
// request in flight finish (telling the client not to use its connection again),
// closes the database and exits 0.
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { startProcess } from '../helpers/process.js';

it('SIGTERM lets the in-flight request finish (its answer closes the keep-alive connection), refuses new ones, and exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-shutdown-'));
  try {
    const service = await startProcess({ DATABASE_URL: join(dir, 'passkeys.db') });
    const url = new URL(service.url);
    const exited = new Promise<number | null>((resolve) => service.child.once('exit', resolve));

    // A request whose body arrives slowly: half now, the rest after SIGTERM.
    // On a keep-alive connection, which the client would use again.
    const agent = new Agent({ keepAlive: true });
    const reply = new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
      const req = request(
        { agent, host: url.hostname, port: url.port, method: 'POST', path: '/v1/tokens', headers: { 'content-type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
        },
      );
      req.on('error', reject);
      req.write('{"email": "alice@');
      setTimeout(() => {
        service.child.kill('SIGTERM');
        setTimeout(() => req.end('example.com"}'), 300);
      }, 100);
    });

    const finished = await reply;
    expect(finished.status).toBe(200);
    expect(finished.connection).toBe('close');
    expect(JSON.parse(finished.body).challengeId).toEqual(expect.any(String));
    expect(await exited).toBe(0);
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('a port already in use: the service says so and exits 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-port-'));
  const taken = createServer().listen(0, '127.0.0.1');
  try {
    await new Promise((resolve) => taken.once('listening', resolve));
    const { port } = taken.address() as { port: number };
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: join(dir, 'passkeys.db'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toContain(`could not listen on 127.0.0.1:${port}`);
    expect(output).not.toContain('"msg":"listening');
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('PORT=0: the service listens on a free port and logs the one it got', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-port-0-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: join(dir, 'passkeys.db'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const listening = await new Promise<{ port: number; msg: string }>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
        const line = output.split('\n').find((l) => l.includes('"msg":"listening'));
        if (line) resolve(JSON.parse(line));
      });
      child.once('exit', () => reject(new Error(`exited before listening:\n${output}`)));
    });
    expect(listening.port).toBeGreaterThan(0);
    expect(listening.msg).toContain(`127.0.0.1:${listening.port}`);
    expect((await fetch(`http://127.0.0.1:${listening.port}/healthz`)).status).toBe(200);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
