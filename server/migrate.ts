// `npm run migrate`: apply pending migrations and exit.
import { existsSync } from 'node:fs';
import { loadConfig } from './config.js';
import { migrate, openDatabase } from './db/connect.js';

if (existsSync('.env')) process.loadEnvFile('.env');
const config = loadConfig(process.env);
const db = openDatabase({ url: config.databaseUrl, poolSize: 1 });
const applied = await migrate(db);
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
await db.destroy();
