// `npm run bench`: start the compiled service as it runs in production, register
// a population of users, then drive full ceremonies (start + finish, as a browser
// would) from this separate process over keep-alive HTTP, and print throughput
// and latency. Each figure is measured several times: median and range.
//
//   npm run bench -- [--db sqlite|postgres] [--instances 1,2] [--mode signin|signup]
//                    [--concurrency 32] [--duration 10] [--warmup 3] [--users 1000] [--repeat 3]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SoftAuthenticator } from '../tests/helpers/authenticator.js';
import { freshPostgresSchema } from '../tests/helpers/database.js';
import { freePort } from '../tests/helpers/process.js';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    instances: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'signin' },
    concurrency: { type: 'string', default: '32' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    users: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '3' },
  },
});
const concurrency = Number(args.concurrency);
const origin = 'http://localhost:3000';
const agent = new Agent({ keepAlive: true, maxSockets: concurrency * 2 });

function call(base: URL, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { agent, host: base.hostname, port: base.port, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface Instance {
  url: URL;
  child: ChildProcess;
}

async function startInstance(databaseUrl: string): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/server/main.js'], {
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', ORIGINS: origin, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = new URL(`http://127.0.0.1:${port}`);
  for (let i = 0; i < 300; i++) {
    if (await call(url, 'GET', '/readyz').then((r) => r.status === 200, () => false)) return { url, child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('service did not start');
}

interface User {
  email: string;
  authenticator: SoftAuthenticator;
}

async function signUp(instance: Instance, email: string): Promise<User> {
  const authenticator = new SoftAuthenticator({ origin });
  const start = await call(instance.url, 'POST', '/v1/challenges', { email });
  const registration = await authenticator.createCredential(start.body.options);
  const finish = await call(instance.url, 'PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
  if (finish.status !== 201) throw new Error(`sign-up failed: ${finish.status} ${JSON.stringify(finish.body)}`);
  return { email, authenticator };
}

async function signIn(start: Instance, finish: Instance, user: User): Promise<boolean> {
  const begun = await call(start.url, 'POST', '/v1/tokens', { email: user.email });
  const authentication = await user.authenticator.getAssertion(begun.body.options);
  const done = await call(finish.url, 'PUT', '/v1/tokens', { challengeId: begun.body.challengeId, authentication });
  return done.status === 200;
}

let signUps = 0;
/** One ceremony; a ceremony starts on one instance and finishes on the next. */
function ceremony(instances: Instance[], mine: User[], round: number): Promise<boolean> {
  const start = instances[round % instances.length]!;
  const finish = instances[(round + 1) % instances.length]!;
  if (args.mode === 'signup') return signUp(start, `bench-${process.pid}-${signUps++}@example.com`).then(() => true);
  return signIn(start, finish, mine[round % mine.length]!);
}

async function drive(instances: Instance[], users: User[], seconds: number) {
  // Each worker owns its users, so no two ceremonies of one passkey overlap.
  const owned = Array.from({ length: concurrency }, (_, worker) => users.filter((_, i) => i % concurrency === worker));
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let round = 0; performance.now() < until; round++) {
        const began = performance.now();
        const ok = await ceremony(instances, owned[worker]!, round).catch(() => false);
        if (ok) latencies.push(performance.now() - began);
        else errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { perSecond: latencies.length / seconds, p50: at(0.5), p90: at(0.9), p99: at(0.99), errors };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const summary = (values: number[], digits = 0) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

async function run(instanceCount: number) {
  const tmp = mkdtempSync(join(tmpdir(), 'passkeys-bench-'));
  const schema = args.db === 'postgres' ? await freshPostgresSchema() : undefined;
  const databaseUrl = schema?.url ?? join(tmp, 'bench.db');
  const instances = await Promise.all(Array.from({ length: instanceCount }, () => startInstance(databaseUrl)));
  try {
    const users: User[] = [];
    for (let i = 0; i < Number(args.users); i += 50) {
      users.push(...(await Promise.all(Array.from({ length: Math.min(50, Number(args.users) - i) }, (_, j) => signUp(instances[0]!, `user${i + j}@example.com`)))));
    }
    await drive(instances, users, Number(args.warmup));
    const rounds: Awaited<ReturnType<typeof drive>>[] = [];
    for (let r = 0; r < Number(args.repeat); r++) rounds.push(await drive(instances, users, Number(args.duration)));
    const pick = (key: keyof (typeof rounds)[number]) => rounds.map((round) => round[key]);
    console.log(
      [
        `${args.mode} on ${args.db}, ${instanceCount} instance(s), ${concurrency} clients, ${args.users} users, ${args.repeat} × ${args.duration} s:`,
        `  ceremonies/s  ${summary(pick('perSecond'))}`,
        `  p50 ms        ${summary(pick('p50'), 1)}`,
        `  p90 ms        ${summary(pick('p90'), 1)}`,
        `  p99 ms        ${summary(pick('p99'), 1)}`,
        `  errors        ${pick('errors').reduce((a, b) => a + b, 0)}`,
      ].join('\n'),
    );
  } finally {
    for (const instance of instances) instance.child.kill('SIGTERM');
    await Promise.all(instances.map((instance) => new Promise((resolve) => instance.child.once('exit', resolve))));
    await schema?.drop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

for (const count of args.instances.split(',').map(Number)) await run(count);
agent.destroy();
