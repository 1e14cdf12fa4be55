// The README's npm scripts, run as a user runs them. Both build dist/ in the
// checkout (prestart, and the bench's own build), so they live in one file and
// run one after the other.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from '../helpers/process.js';

it('`npm start` builds and serves; SIGTERM to npm reaches the service, which shuts down (no orphan)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-npm-start-'));
  const port = await freePort();
  const npm = spawn('npm', ['start'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: join(dir, 'passkeys.db'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout.on('data', (chunk) => (output += chunk));
  npm.stderr.on('data', (chunk) => (output += chunk));
  const npmExited = new Promise<number | null>((resolve) => npm.once('exit', resolve));
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  let servicePid: number | undefined;
  try {
    // The build comes first (prestart): allow for it.
    await expect
      .poll(
        () =>
          fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.status,
            () => 0,
          ),
        { timeout: 60_000, interval: 250 },
      )
      .toBe(200);
    servicePid = Number(/"pid":(\d+)/.exec(output)?.[1]);
    expect(servicePid).toBeGreaterThan(0);

    npm.kill('SIGTERM');
    await npmExited;
    await expect.poll(() => alive(servicePid!), { timeout: 15_000, interval: 100 }).toBe(false);
    expect(output).toContain('shutting down');
  } finally {
    npm.kill('SIGKILL');
    if (servicePid && alive(servicePid)) process.kill(servicePid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);

/** Runs `command` to its end; its exit code and everything it printed. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, BENCH_PINNED: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

// The V8 flags the README gives for a smaller peak RSS (Operating it, Memory).
const leanMemoryFlags = '--max-semi-space-size=4 --heap-growing-percent=50';

// Not a timed test: a second of load from a few clients, so that the benchmark keeps
// working as the service changes. Its figures are not looked at, only that it
// prints them all and that no ceremony failed.
it('`npm run bench` drives sign-in (one and two instances, with filler accounts) and sign-up, and prints every figure', async () => {
  const short = ['--duration', '1', '--warmup', '1', '--repeat', '1', '--users', '8', '--concurrency', '4'];
  const signIn = await run('npm', ['run', 'bench', '--', ...short, '--instances', '1,2', '--filler', '0,100']);
  expect(signIn.code, signIn.output).toBe(0);
  expect(signIn.output).toMatch(/^floor, CPU on one core, in-process: assertion verify \d+ µs \+ JWT \d+ µs \+ SQLite statements \d+ µs = \d+ µs/m);
  expect(signIn.output).toMatch(/^HTTP alone, .*: node:http \d+ \(\d+–\d+\) µs, Express 5 \+ express\.json \d+ \(\d+–\d+\) µs/m);
  const runs = [...signIn.output.matchAll(/^signin on sqlite, (\d) instance\(s\), 4 clients, 8 active users \+ (\d+) filler/gm)].map((m) => `${m[1]}:${m[2]}`);
  expect(runs).toEqual(['1:0', '2:0', '1:100', '2:100']);
  for (const figure of [
    'ceremonies/s',
    'p50 / p90 / p99',
    'service CPU',
    'service peak RSS',
    'service writes',
    'of the floor',
    'beyond the floor',
    'ceiling',
  ]) {
    expect(signIn.output.split(`  ${figure} `).length - 1, figure).toBe(4);
  }
  expect(signIn.output.match(/^ {2}errors +(\d+)$/gm)).toEqual(Array(4).fill('  errors            0'));
  expect(signIn.output).toMatch(/^floor again at the end: \d+ µs/m);

  // With those flags: node still accepts them (one is a V8 flag Node does not
  // document), and the service works under them.
  const signUp = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...short, '--mode', 'signup', `--node-args=${leanMemoryFlags}`]);
  expect(signUp.code, signUp.output).toBe(0);
  expect(signUp.output).toContain(`\nsignup on sqlite (node ${leanMemoryFlags}), 1 instance(s), 4 clients`);
  expect(signUp.output.match(/^ {2}errors +(\d+)$/gm)).toEqual(['  errors            0']);
  // The flags do reach node: one it does not know stops the service from starting.
  const badFlag = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...short, '--mode', 'signup', '--node-args=--no-such-v8-flag']);
  expect(badFlag.code).not.toBe(0);
  expect(badFlag.output).toContain('--no-such-v8-flag');
}, 240_000);
