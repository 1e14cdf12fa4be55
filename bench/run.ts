// `npm run bench`: start the compiled service as it runs in production (SQLite by
// default), register a working set of users with software authenticators (plus
// filler accounts written straight into the database, for the table-size runs),
// then drive full ceremonies (start + finish, as a browser would) from this
// separate process over keep-alive HTTP, after a warm-up. Every figure is measured
// --repeat times and printed as median (min–max). In the same run it measures the
// floor (bench/floor.ts) and prints throughput as a fraction of it, and, for
// sign-in, the HTTP floor (bench/bare-http.ts): what the same two requests cost a
// server that does nothing else, with bare node:http and with bare Express. With
// --peer it then drives a peer, Better Auth's passkey plugin (bench/peer/), the
// same way, on the same core, with the same number of users and filler accounts.
// With --webhook the service also sends a webhook for every sign-in (passkey.used) to a
// receiver in this process (bench/webhook-receiver.ts), registered before the runs.
//
//   npm run bench -- [--db sqlite|postgres] [--instances 1,2] [--mode signin|signup]
//     [--concurrency 32] [--duration 10] [--warmup 3] [--repeat 3]
//     [--users 1000] [--filler 0,1000000] [--pin] [--soak 600] [--peer] [--webhook]
//     [--node-args="--cpu-prof"] [--env="SQLITE_SYNCHRONOUS=NORMAL ..."]
//
// --pin runs the service on CPU 0 and this driver on CPU 1 (taskset), so figures are
// comparable from run to run. --soak S drives load for S seconds and prints the
// service's RSS after 1 minute and at the end (a leak shows as growth).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freshPostgresSchema } from '../tests/helpers/database.js';
import { measureFloor } from './floor.js';
import { createClient } from './http.js';
import { installPeer, peerCeremony, peerScript, peerSignUp, seedPeerFiller } from './peer.js';
import { registerUsers, seedFiller, signUp, type User } from './population.js';
import { cpuSeconds, memoryMb, startInstance, stopInstance, storageBytes, type Instance } from './service.js';
import { startBenchReceiver } from './webhook-receiver.js';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    instances: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'signin' },
    concurrency: { type: 'string', default: '32' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '3' },
    users: { type: 'string', default: '1000' },
    filler: { type: 'string', default: '0' },
    pin: { type: 'boolean', default: false },
    soak: { type: 'string', default: '0' },
    peer: { type: 'boolean', default: false },
    webhook: { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
    env: { type: 'string', default: '' },
  },
});

// Pinned: run this driver on CPU 1 (re-executing under taskset), the service on CPU 0.
if (args.pin && !process.env.BENCH_PINNED) {
  const result = spawnSync('taskset', ['-c', '1', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: '1' },
  });
  process.exit(result.status ?? 1);
}

const concurrency = Number(args.concurrency);
const http = createClient(concurrency * 2);
// --webhook: the endpoint every run's service sends to, registered through the admin API.
const adminKey = 'bench-admin-key-0123456789';
const receiver = args.webhook ? await startBenchReceiver() : undefined;

let signUps = 0;
type Ceremony = (instances: Instance[], mine: User[], round: number) => Promise<boolean>;

/** One ceremony; with several instances it starts on one and finishes on the next. */
async function ceremony(instances: Instance[], mine: User[], round: number): Promise<boolean> {
  const start = instances[round % instances.length]!;
  const finish = instances[(round + 1) % instances.length]!;
  if (args.mode === 'signup') {
    await signUp(http, start, `bench-${process.pid}-${signUps++}@example.com`);
    return true;
  }
  const user = mine[round % mine.length]!;
  const begun = await http.call(start.url, 'POST', '/v1/tokens', { email: user.email });
  const authentication = await user.authenticator.getAssertion(begun.body.options);
  const done = await http.call(finish.url, 'PUT', '/v1/tokens', { challengeId: begun.body.challengeId, authentication });
  return done.status === 200;
}

async function drive(instances: Instance[], users: User[], seconds: number, one: Ceremony = ceremony) {
  // Each client owns its users, so no two ceremonies of one passkey overlap.
  const owned = Array.from({ length: concurrency }, (_, client) => users.filter((_, i) => i % concurrency === client));
  const cpuBefore = instances.map((instance) => cpuSeconds(instance.child.pid!));
  const writtenBefore = instances.map((instance) => storageBytes(instance.child.pid!));
  const driverBefore = process.cpuUsage();
  const latencies: number[] = [];
  let errors = 0;
  const began = performance.now();
  const until = began + seconds * 1000;
  await Promise.all(
    owned.map(async (mine) => {
      for (let round = 0; performance.now() < until; round++) {
        const start = performance.now();
        const ok = await one(instances, mine, round).catch(() => false);
        if (ok) latencies.push(performance.now() - start);
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - began) / 1000;
  const cpu = instances.reduce((sum, instance, i) => sum + cpuSeconds(instance.child.pid!) - cpuBefore[i]!, 0);
  const written = instances.reduce((sum, instance, i) => sum + storageBytes(instance.child.pid!) - writtenBefore[i]!, 0);
  const driver = process.cpuUsage(driverBefore);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    ceremonies: latencies.length,
    perSecond: latencies.length / elapsed,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    errors,
    cpuMsPerCeremony: (cpu * 1000) / Math.max(1, latencies.length),
    driverCpuMsPerCeremony: (driver.user + driver.system) / 1000 / Math.max(1, latencies.length),
    storageKbPerCeremony: written / 1024 / Math.max(1, latencies.length),
  };
}

type Round = Awaited<ReturnType<typeof drive>>;

/** --repeat measured runs of `duration` seconds; a getter for one figure of every run. */
async function measure(instances: Instance[], users: User[], one: Ceremony = ceremony) {
  const rounds: Round[] = [];
  for (let r = 0; r < Number(args.repeat); r++) rounds.push(await drive(instances, users, Number(args.duration), one));
  return (key: keyof Round) => rounds.map((round) => round[key]);
}

/** The figures every run prints, for `who` ("service" or "peer"); `database`: which one it writes to. */
function figures(pick: Awaited<ReturnType<typeof measure>>, who: string, peakMb: number, database = args.db): string[] {
  return [
    `  ceremonies/s      ${summary(pick('perSecond'))}`,
    `  p50 / p90 / p99   ${summary(pick('p50'), 1)} / ${summary(pick('p90'), 1)} / ${summary(pick('p99'), 1)} ms`,
    `  errors            ${pick('errors').reduce((a, b) => a + b, 0)}`,
    `  ${`${who} CPU`.padEnd(18)}${summary(pick('cpuMsPerCeremony'), 2)} ms per ceremony (the load driver's: ${summary(pick('driverCpuMsPerCeremony'), 2)} ms)`,
    `  ${`${who} peak RSS`.padEnd(18)}${peakMb.toFixed(0)} MB`,
    `  ${`${who} writes`.padEnd(18)}${summary(pick('storageKbPerCeremony'))} KB to storage per ceremony${database === 'postgres' ? " (its own: PostgreSQL's are not counted)" : ' (the SQLite WAL and its checkpoints)'}`,
  ];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const summary = (values: number[], digits = 0) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

/**
 * The HTTP floor: the CPU that a ceremony's two requests cost a server that only
 * answers them, with the very bodies a real ceremony sends and receives (recorded
 * from `service`), pinned and driven like the service. Measured for node:http and
 * for Express 5 with express.json() (bench/bare-http.ts).
 */
async function measureHttpAlone(service: Instance, user: User) {
  const startBody = { email: user.email };
  const begun = await http.call(service.url, 'POST', '/v1/tokens', startBody);
  const finishBody = { challengeId: begun.body.challengeId, authentication: await user.authenticator.getAssertion(begun.body.options) };
  const done = await http.call(service.url, 'PUT', '/v1/tokens', finishBody);
  if (done.status !== 200) throw new Error(`recording a ceremony failed: ${done.status}`);
  const replies = JSON.stringify({ start: begun.body, finish: done.body });
  const bare: Ceremony = async ([server]) => {
    await http.call(server!.url, 'POST', '/v1/tokens', startBody);
    return (await http.call(server!.url, 'PUT', '/v1/tokens', finishBody)).status === 200;
  };
  const cpuMicros: Record<string, number[]> = {};
  for (const kind of ['node', 'express']) {
    const server = await startInstance(http, {
      databaseUrl: '',
      cpu: args.pin ? '0' : undefined,
      script: [...process.execArgv, 'bench/bare-http.ts'],
      env: { BARE: kind, BARE_REPLIES: replies },
    });
    try {
      await drive([server], [user], Number(args.warmup), bare);
      cpuMicros[kind] = [];
      for (let r = 0; r < Number(args.repeat); r++) cpuMicros[kind].push((await drive([server], [user], Number(args.duration), bare)).cpuMsPerCeremony * 1000);
    } finally {
      await stopInstance(server);
    }
  }
  return { node: cpuMicros.node!, express: cpuMicros.express! };
}
let httpAlone: Awaited<ReturnType<typeof measureHttpAlone>> | undefined;

/** The service's figures with one instance, per filler count, for the peer to be compared with. */
const serviceAt = new Map<number, { perSecond: number; cpuMsPerCeremony: number }>();

async function run(instanceCount: number, filler: number, floorPerSecond: number) {
  const tmp = mkdtempSync(join(tmpdir(), 'passkeys-bench-'));
  const schema = args.db === 'postgres' ? await freshPostgresSchema() : undefined;
  const databaseUrl = schema?.url ?? join(tmp, 'bench.db');
  const nodeArgs = args['node-args'].split(' ').filter(Boolean);
  const env = Object.fromEntries(
    args.env
      .split(' ')
      .filter(Boolean)
      .map((pair) => pair.split('=', 2) as [string, string]),
  );
  // The receiver is on 127.0.0.1: private addresses allowed whatever --env says of RP_ID.
  if (receiver) Object.assign(env, { ADMIN_API_KEYS: adminKey, WEBHOOK_ALLOW_PRIVATE_URLS: 'true' });
  const cpus = args.pin ? ['0', '0'] : [undefined, undefined];
  const instances: Instance[] = [];
  try {
    instances.push(await startInstance(http, { databaseUrl, cpu: cpus[0], nodeArgs, env }));
    const seeded = performance.now();
    await seedFiller(databaseUrl, filler);
    const seedSeconds = (performance.now() - seeded) / 1000;
    // Registered before the other instances start: each loads the endpoint as it starts.
    if (receiver) {
      const registered = await http.call(
        instances[0]!.url,
        'POST',
        '/v1/admin/webhooks',
        { url: receiver.url, events: ['passkey.used'] },
        { 'x-api-key': adminKey },
      );
      if (registered.status !== 201) throw new Error(`registering the webhook endpoint failed: ${registered.status} ${JSON.stringify(registered.body)}`);
    }
    for (let i = 1; i < instanceCount; i++) instances.push(await startInstance(http, { databaseUrl, cpu: cpus[i], nodeArgs, env }));
    const users = await registerUsers(Number(args.users), (email) => signUp(http, instances[0]!, email));
    await drive(instances, users, Number(args.warmup));
    if (args.mode === 'signin' && !httpAlone && Number(args.soak) === 0) {
      httpAlone = await measureHttpAlone(instances[0]!, users[0]!);
      console.log(
        `HTTP alone, the same two requests and replies, nothing else${args.pin ? ', pinned to CPU 0' : ''}: node:http ${summary(httpAlone.node)} µs, Express 5 + express.json ${summary(httpAlone.express)} µs CPU per ceremony`,
      );
    }

    const title = `${args.mode} on ${args.db}${args.env ? ` (${args.env})` : ''}${receiver ? ', a webhook per sign-in' : ''}${args['node-args'] ? ` (node ${args['node-args']})` : ''}, ${instanceCount} instance(s)${args.pin ? ' pinned to CPU 0' : ''}, ${concurrency} clients, ${users.length} active users + ${filler} filler (seeded in ${seedSeconds.toFixed(0)} s)`;
    if (Number(args.soak) > 0) {
      const pid = instances[0]!.child.pid!;
      const first = await drive(instances, users, 60);
      const afterOneMinute = memoryMb(pid).now;
      const rest = await drive(instances, users, Number(args.soak) - 60);
      console.log(
        `${title}, soak ${args.soak} s:\n  RSS after 1 min ${afterOneMinute.toFixed(1)} MB, at the end ${memoryMb(pid).now.toFixed(1)} MB, peak ${memoryMb(pid).peak.toFixed(1)} MB\n  ceremonies/s ${first.perSecond.toFixed(0)} then ${rest.perSecond.toFixed(0)}, errors ${first.errors + rest.errors}`,
      );
      return;
    }
    const receivedBefore = receiver?.received ?? 0;
    const pick = await measure(instances, users);
    const received = (receiver?.received ?? 0) - receivedBefore;
    const peak = Math.max(...instances.map((instance) => memoryMb(instance.child.pid!).peak));
    if (instanceCount === 1) serviceAt.set(filler, { perSecond: median(pick('perSecond')), cpuMsPerCeremony: median(pick('cpuMsPerCeremony')) });
    const beyond = median(pick('cpuMsPerCeremony')) * 1000 - 1e6 / floorPerSecond;
    const expressAlone = median(httpAlone?.express ?? [0]);
    console.log(
      [
        `${title}, ${args.repeat} × ${args.duration} s:`,
        ...figures(pick, 'service', peak),
        ...(receiver
          ? [
              `  webhooks          ${received} received during the measured runs (${(received / (Number(args.repeat) * Number(args.duration))).toFixed(0)}/s), for ${pick('ceremonies').reduce((a, b) => a + b, 0)} ceremonies`,
            ]
          : []),
        ...(args.mode === 'signin'
          ? [
              `  of the floor      ${((100 * median(pick('perSecond'))) / floorPerSecond).toFixed(0)}% (per core: ${((100 * median(pick('perSecond'))) / floorPerSecond / instanceCount).toFixed(0)}%)`,
              `  beyond the floor  ${beyond.toFixed(0)} µs CPU per ceremony: Express alone ${expressAlone.toFixed(0)}, the rest ${(beyond - expressAlone).toFixed(0)} (middleware, validation, glue, logs, GC)`,
              `  ceiling           the floor + Express alone = ${(1e6 / floorPerSecond + expressAlone).toFixed(0)} µs -> ${(1e6 / (1e6 / floorPerSecond + expressAlone)).toFixed(0)} ceremonies/s per core`,
            ]
          : []),
      ].join('\n'),
    );
  } finally {
    await Promise.all(instances.map(stopInstance));
    await schema?.drop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The peer (bench/peer.ts): started, populated and driven as the service is, on SQLite. */
async function runPeer(filler: number) {
  installPeer();
  const tmp = mkdtempSync(join(tmpdir(), 'passkeys-bench-peer-'));
  const databaseUrl = join(tmp, 'peer.db');
  const nodeArgs = args['node-args'].split(' ').filter(Boolean);
  const peer = await startInstance(http, { databaseUrl, cpu: args.pin ? '0' : undefined, nodeArgs, script: peerScript });
  try {
    seedPeerFiller(databaseUrl, filler);
    const users = await registerUsers(Number(args.users), (email) => peerSignUp(http, peer, email));
    const one: Ceremony =
      args.mode === 'signup'
        ? async ([instance]) => (await peerSignUp(http, instance!, `bench-${process.pid}-${signUps++}@example.com`), true)
        : peerCeremony(http);
    await drive([peer], users, Number(args.warmup), one);
    const pick = await measure([peer], users, one);
    const service = serviceAt.get(filler);
    const versus = service
      ? [
          `  the service       ${(service.perSecond / median(pick('perSecond'))).toFixed(2)} × the peer's ceremonies/s, at ${(service.cpuMsPerCeremony / median(pick('cpuMsPerCeremony'))).toFixed(2)} × its CPU per ceremony`,
        ]
      : [];
    console.log(
      [
        `peer: Better Auth + passkey plugin (bench/peer/), ${args.mode} on SQLite${args.pin ? ' pinned to CPU 0' : ''}, ${concurrency} clients, ${users.length} active users + ${filler} filler, ${args.repeat} × ${args.duration} s:`,
        ...figures(pick, 'peer', memoryMb(peer.child.pid!).peak, 'sqlite'),
        ...versus,
      ].join('\n'),
    );
  } finally {
    await stopInstance(peer);
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The floor on the service's core: pinned, in a process of its own on CPU 0 (the driver runs on CPU 1). */
async function floorOnServiceCore(): Promise<Awaited<ReturnType<typeof measureFloor>>> {
  if (!args.pin) return measureFloor();
  const result = spawnSync('taskset', ['-c', '0', process.execPath, ...process.execArgv, 'bench/floor.ts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`measuring the floor failed (exit ${result.status})`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

const floor = await floorOnServiceCore();
console.log(
  `floor, CPU ${args.pin ? "on CPU 0 (the service's)" : 'on one core'}, in-process: assertion verify ${(floor.verify * 1e6).toFixed(0)} µs + JWT ${(floor.sign * 1e6).toFixed(0)} µs + SQLite statements ${(floor.database * 1e6).toFixed(0)} µs = ${(floor.total * 1e6).toFixed(0)} µs -> ${floor.perSecond.toFixed(0)} ceremonies/s`,
);
const fillers = args.filler.split(',').map(Number);
for (const filler of fillers) {
  for (const count of args.instances.split(',').map(Number)) await run(count, filler, floor.perSecond);
}
if (args.peer) for (const filler of fillers) await runPeer(filler);
// Machines drift: the same floor measured again shows by how much during this run.
const floorAfter = await floorOnServiceCore();
console.log(`floor again at the end: ${(floorAfter.total * 1e6).toFixed(0)} µs (${(floor.total * 1e6).toFixed(0)} at the start)`);
http.close();
await receiver?.close();
