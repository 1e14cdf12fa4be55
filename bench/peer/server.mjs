// The peer that `npm run bench -- --peer` measures beside the service: Better Auth
// (a widely used TypeScript auth library) with its passkey plugin, which also runs
// on @simplewebauthn/server, on SQLite through better-sqlite3 and Kysely, behind
// Express 5 as Better Auth's documentation mounts it. Configured like the service
// where the two can be compared: rate limits off, telemetry off, a WAL database
// whose every commit is durable before the answer (synchronous=FULL).
//
// Sign-up is passkey-first (no session, no password): the account is created
// once the passkey is verified. Sign-in is the discoverable-credential flow:
//   GET  /api/auth/passkey/generate-authenticate-options   -> options + challenge cookie
//   POST /api/auth/passkey/verify-authentication {response} -> session + session cookie
//
// Plain JavaScript: its dependencies are installed on demand (bench/peer/package.json),
// so the project's type check never sees them. Express and better-sqlite3 are the
// project's own.
import { randomBytes, randomUUID } from 'node:crypto';
import { passkey } from '@better-auth/passkey';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import Database from 'better-sqlite3';
import express from 'express';

const origin = process.env.ORIGINS ?? 'http://localhost:3000';
const database = new Database(process.env.DATABASE_URL);
database.pragma('journal_mode = WAL');
database.pragma('synchronous = FULL');

const auth = betterAuth({
  baseURL: origin,
  secret: randomBytes(32).toString('hex'),
  database,
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  plugins: [
    passkey({
      rpName: 'bench peer',
      registration: {
        requireSession: false,
        resolveUser: ({ context }) => ({ id: randomUUID(), name: context }),
        afterVerification: async ({ ctx, user }) => {
          const created = await ctx.context.internalAdapter.createUser({ email: user.name, name: user.name, emailVerified: false });
          return { userId: created.id };
        },
      },
    }),
  ],
});
await (await getMigrations(auth.options)).runMigrations();

const app = express();
app.disable('x-powered-by');
app.all('/api/auth/*splat', toNodeHandler(auth));
app.get('/readyz', (_req, res) => void res.json({ status: 'ok' }));
app.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
// Exit cleanly on SIGTERM, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
