// Runs the service: environment -> config, open the database, migrate, load
// keys, listen, send queued emails, sweep expired rows and reload the signing keys and
// the webhook endpoints on timers. On SIGTERM/SIGINT: stop accepting, let in-flight
// requests finish (up to SHUTDOWN_TIMEOUT_SECONDS), let emails being sent finish, then
// close the database and Redis.
import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, createMetricsApp } from './app.js';
import { closeDeps, openDeps } from './bootstrap.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { Deps } from './deps.js';
import { createMetrics } from './http/metrics.js';
import { createServer } from './http/server.js';
import { createLogger } from './logger.js';
import { startDelivery } from './delivery.js';
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
const stopRefreshingWebhooks = deps.webhooks.keepFresh((error) => log.warn({ err: error }, 'could not reload the webhook endpoints'));
const metrics = createMetrics(deps);
const delivery = startDelivery(deps, { onResult: metrics.outboxResult, onWebhookAttempt: metrics.webhookAttempt });
if (config.email.delivery === 'log') {
  log.warn("emails are printed in the service's log, not sent (no SMTP_URL): set SMTP_URL to send them");
}
const app = createApp(deps, metrics);
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

const server = createServer(app, config.connections);
// METRICS_PORT: GET /metrics alone, on a listener of its own (see http/metrics.ts).
const metricsServer = config.metricsListener && createServer(createMetricsApp(deps, metrics), config.connections);
const listening: Promise<void>[] = [];
function listen(target: typeof server, name: string, port: number, host: string) {
  listening.push(
    new Promise((resolve) => {
      // Port taken, or not ours to bind: a supervisor must see a failure, not a clean exit.
      const couldNotListen = (error: Error) => {
        log.fatal({ err: error }, `could not listen on ${host}:${port}`);
        void closeDeps(deps).finally(() => process.exit(1));
      };
      target.once('error', couldNotListen);
      target.listen(port, host, () => {
        // Once listening, an error (accepting a connection with no file descriptor left, say)
        // is logged and the server goes on serving.
        target.off('error', couldNotListen).on('error', (error) => log.error({ err: error, listener: name }, 'server error'));
        resolve();
      });
    }),
  );
}
if (metricsServer && config.metricsListener) listen(metricsServer, 'metrics', config.metricsListener.port, config.metricsListener.host);
listen(server, 'service', config.port, config.host);
void Promise.all(listening).then(() => {
  const { port } = server.address() as AddressInfo; // PORT=0 picks one
  const metricsAt = config.metricsListener && `${config.metricsListener.host}:${config.metricsListener.port}`;
  log.info(
    { host: config.host, port, rpId: config.rpId, origins: config.origins, metrics: metricsAt },
    `listening on ${config.host}:${port}, for ${config.origins.join(', ')}${metricsAt ? `; metrics on ${metricsAt}` : ''}`,
  );
});

function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down: finishing in-flight requests');
  stopSweeping();
  stopReloadingKeys();
  stopRefreshingWebhooks();
  // Scrapes need no draining.
  metricsServer?.close();
  metricsServer?.closeAllConnections();
  // Whatever hangs (a database that stopped answering), the process ends.
  setTimeout(
    () => {
      log.error('shutdown: the database or Redis did not close in time; exiting');
      process.exit(1);
    },
    (config.shutdownTimeoutSeconds + 10) * 1000,
  ).unref();
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
    void delivery
      .stop()
      .then(() => closeDeps(deps))
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
