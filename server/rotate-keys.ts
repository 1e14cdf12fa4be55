// `npm run rotate-keys`: add the next token signing key, and retire the keys no live
// token can have been signed with (see tokens/signing-keys.ts). Running instances
// pick the new key up by themselves; it signs once it has been published long enough.
import { existsSync } from 'node:fs';
import { loadConfig } from './config.js';
import { migrate, openDatabase } from './db/connect.js';
import { rotateSigningKeys } from './tokens/signing-keys.js';

if (existsSync('.env')) process.loadEnvFile('.env');
const config = loadConfig(process.env);
const db = openDatabase({ url: config.databaseUrl, poolSize: 1 });
try {
  await migrate(db);
  const { kid, signsFrom, retired } = await rotateSigningKeys(db, new Date(), config.sessionTtlSeconds);
  console.log(`new signing key ${kid}: published now, signs from ${signsFrom.toISOString()}`);
  console.log(retired.length ? `retired: ${retired.join(', ')}` : 'retired: none');
} finally {
  await db.destroy();
}
