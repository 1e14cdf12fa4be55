// The service as a real process (node + tsx on server/main.ts), for tests that
// need several instances or a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

async function waitUntilReady(url: string, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${output()}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`service at ${url} not ready after 30 s:\n${output()}`);
}

/**
 * `fileSizeLimitKiB` caps the size of every file the process writes (RLIMIT_FSIZE,
 * set by `ulimit -f` in 512-byte blocks): a disk that fills up. Node ignores
 * SIGXFSZ, so a write past it fails with EFBIG. `umask` (octal) is the one it starts with.
 */
export async function startProcess(
  env: Record<string, string>,
  { fileSizeLimitKiB, umask }: { fileSizeLimitKiB?: number; umask?: string } = {},
): Promise<ServiceProcess> {
  const port = await freePort();
  const args = ['--import', 'tsx', 'server/main.ts'];
  const setup = [...(fileSizeLimitKiB === undefined ? [] : [`ulimit -f ${fileSizeLimitKiB * 2}`]), ...(umask === undefined ? [] : [`umask ${umask}`])];
  const [command, argv] =
    setup.length === 0 ? [process.execPath, args] : ['/bin/sh', ['-c', `${setup.join(' && ')} && exec "$0" "$@"`, process.execPath, ...args]];
  const child = spawn(command, argv, {
    cwd: repo,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ORIGINS: 'http://localhost:3000', HOST: '127.0.0.1', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  const output = () => log;
  await waitUntilReady(url, child, output);
  return {
    url,
    child,
    output,
    stop(signal = 'SIGTERM') {
      // Exited already, or killed by a signal (exitCode stays null then).
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
}
