// Runs the service: environment -> config, open the database, migrate, load
// keys, listen; on SIGTERM/SIGINT stop accepting, let requests finish, close the
// database. Everything else is built by createApp.
import { existsSync } from 'node:fs';
import { createApp } from './app.js';
import { openDeps } from './bootstrap.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

if (existsSync('.env')) process.loadEnvFile('.env');

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`Invalid configuration: ${error.message}`);
  process.exit(1);
}

const log = createLogger(config.logLevel);
const deps = await openDeps(config, log);
const server = createApp(deps).listen(config.port, config.host, () => {
  log.info({ port: config.port, rpId: config.rpId, origins: config.origins }, `listening on ${config.origins[0]}`);
});

let stopping = false;
function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  server.close(() => {
    void deps.db.destroy().then(() => process.exit(0));
  });
  server.closeIdleConnections();
  setTimeout(() => process.exit(1), 10_000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
