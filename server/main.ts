// Runs the service: environment -> config, open the database, migrate, load
// keys, listen, sweep expired rows and reload the signing keys on timers. On SIGTERM/SIGINT: stop accepting,
// let in-flight requests finish (up to SHUTDOWN_TIMEOUT_SECONDS), then close the
// database and Redis.
import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { closeDeps, openDeps } from './bootstrap.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { Deps } from './deps.js';
import { createServer } from './http/server.js';
import { createLogger } from './logger.js';
import { startSweeping } from './sweep.js';
import { startReloadingKeys } from './tokens/signing-keys.js';

if (existsSync('.env')) process.loadEnvFile('.env');

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`Invalid configuration: ${error.message}`);
  process.exit(1);
}

const log = createLogger(config.logLevel);
let deps: Deps;
try {
  deps = await openDeps(config, log);
} catch (error) {
  // The database cannot be opened or migrated: one line, as for a bad setting.
  console.error(`Could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
const stopSweeping = startSweeping(deps);
const stopReloadingKeys = startReloadingKeys(deps);
const app = createApp(deps);
// Answers written while the service stops say `Connection: close`, so that no client
// or proxy sends another request on a connection about to be closed (it would get a
// reset, and a POST or PUT is not retried). Hooked where every answer writes its
// head (Express's response prototype for this app), it covers the requests in flight
// when the signal comes and any that arrive after. An answer whose head went out
// before keeps its connection until the reaper in shutdown() closes it.
let stopping = false;
const writeHead = app.response.writeHead;
app.response.writeHead = function (this: ServerResponse, ...args: unknown[]) {
  if (stopping) this.setHeader('Connection', 'close');
  return writeHead.apply(this, args as Parameters<typeof writeHead>);
} as typeof writeHead;

const server = createServer(app);
// Port taken, or not ours to bind: a supervisor must see a failure, not a clean exit.
const couldNotListen = (error: Error) => {
  log.fatal({ err: error }, `could not listen on ${config.host}:${config.port}`);
  void closeDeps(deps).finally(() => process.exit(1));
};
server.once('error', couldNotListen);
server.listen(config.port, config.host, () => {
  // Once listening, an error (accepting a connection with no file descriptor left, say)
  // is logged and the server goes on serving.
  server.off('error', couldNotListen).on('error', (error) => log.error({ err: error }, 'server error'));
  const { port } = server.address() as AddressInfo; // PORT=0 picks one
  log.info({ host: config.host, port, rpId: config.rpId, origins: config.origins }, `listening on ${config.host}:${port}, for ${config.origins.join(', ')}`);
});

function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down: finishing in-flight requests');
  stopSweeping();
  stopReloadingKeys();
  // Whatever hangs (a database that stopped answering), the process ends.
  setTimeout(() => {
    log.error('shutdown: the database or Redis did not close in time; exiting');
    process.exit(1);
  }, (config.shutdownTimeoutSeconds + 10) * 1000).unref();
  const deadline = setTimeout(() => {
    log.warn('shutdown deadline reached: closing remaining connections');
    server.closeAllConnections();
  }, config.shutdownTimeoutSeconds * 1000);
  deadline.unref();
  // Keep-alive connections go as soon as their last request is answered.
  const reaper = setInterval(() => server.closeIdleConnections(), 100);
  server.close(() => {
    clearTimeout(deadline);
    clearInterval(reaper);
    void closeDeps(deps).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
