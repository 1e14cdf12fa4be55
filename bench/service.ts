// The service under test: the compiled build, started as in production, optionally
// pinned to a CPU with taskset; its CPU time and peak memory read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../tests/helpers/process.js';
import type { createClient } from './http.js';

export interface Instance {
  url: URL;
  child: ChildProcess;
}

export const origin = 'http://localhost:3000';

export async function startInstance(
  http: ReturnType<typeof createClient>,
  options: { databaseUrl: string; cpu?: string | undefined; nodeArgs?: string[]; env?: Record<string, string>; script?: string[] },
): Promise<Instance> {
  const port = await freePort();
  const node = [process.execPath, ...(options.nodeArgs ?? []), ...(options.script ?? ['dist/server/main.js'])];
  const [command, ...args] = options.cpu ? ['taskset', '-c', options.cpu, ...node] : node;
  const child = spawn(command!, args, {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      ORIGINS: origin,
      DATABASE_URL: options.databaseUrl,
      RATE_LIMIT_ENABLED: 'false', // a load test from one IP would only measure the limiter
      ...options.env,
    },
    stdio: ['ignore', process.env.BENCH_SERVICE_STDOUT === 'inherit' ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = new URL(`http://127.0.0.1:${port}`);
  for (let i = 0; i < 600; i++) {
    if (
      await http.call(url, 'GET', '/readyz').then(
        (r) => r.status === 200,
        () => false,
      )
    )
      return { url, child };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('service did not start');
}

export async function stopInstance(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null) return;
  const exited = new Promise((resolve) => instance.child.once('exit', resolve));
  instance.child.kill('SIGTERM');
  await exited;
}

// taskset execs node, so the child's pid is node's own.
const ticksPerSecond = 100; // USER_HZ on Linux

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Bytes the process has sent to storage so far (its own writes: for SQLite, the WAL and the checkpoints). */
export function storageBytes(pid: number): number {
  return Number(/^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
}

/** Peak resident memory (VmHWM) and current (VmRSS), in MB. */
export function memoryMb(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}
