// Two projects: everything on SQLite, and the database and API suites again,
// unchanged, on PostgreSQL (plus the tests that run several instances). With
// CI=true PostgreSQL is mandatory; elsewhere its project is left out, with a
// warning, when nothing listens at TEST_DATABASE_URL.
import { connect } from 'node:net';
import { defineConfig } from 'vitest/config';

const postgresUrl = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');

function reachable(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 5432), timeout: 1000 });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket
      .once('connect', () => done(true))
      .once('error', () => done(false))
      .once('timeout', () => done(false));
  });
}

const withPostgres = process.env.CI === 'true' || (await reachable(postgresUrl));
if (!withPostgres) {
  console.warn(`PostgreSQL is not reachable at ${postgresUrl.host}: its test project is skipped (CI=true makes it mandatory).`);
}

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true as const,
        test: {
          name: 'sqlite',
          include: ['tests/unit/**/*.test.ts', 'tests/db/**/*.test.ts', 'tests/api/**/*.test.ts', 'tests/process/**/*.test.ts'],
          env: { TEST_DB: 'sqlite' },
        },
      },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['tests/db/**/*.test.ts', 'tests/api/**/*.test.ts', 'tests/cluster/**/*.test.ts'],
                env: { TEST_DB: 'postgres' },
              },
            },
          ]
        : []),
    ],
  },
});
