// Queries compiled once. A prepared query is built once per dialect with a placeholder
// for each argument, compiled, then run with the arguments bound in their places: the
// same SQL, parameters and results as building it afresh, without Kysely's per-call build.
// A prepared insert names each column (a placeholder has no keys to spread), so its values
// must satisfy EveryColumn<Table>: a column the table gains and the insert forgets fails tsc.
import type { Compilable, CompiledQuery, DialectAdapter, QueryResult } from 'kysely';
import type { Db } from './schema.js';

/** Every column of a row, none optional: `values({ ... } satisfies EveryColumn<SessionsTable>)`. */
export type EveryColumn<Row> = { [Column in keyof Row]-?: Row[Column] };

// Kysely passes values through to the compiled parameters untouched, so each stand-in can be found there again.
class Placeholder {
  constructor(readonly name: string) {}
}

/**
 * `build` makes the query from `args`, each of which it may only use as a value
 * (a placeholder stands in for it); the result runs it with real arguments.
 */
export function prepare<Args extends object, Row>(build: (db: Db, args: Args) => Compilable<Row>): (db: Db, args: Args) => Promise<QueryResult<Row>> {
  // Per dialect: the SQL differs.
  const compiled = new WeakMap<DialectAdapter, CompiledQuery<Row>>();
  const placeholders = new Proxy({} as Args, { get: (_target, name) => new Placeholder(String(name)) });
  return (db, args) => {
    const adapter = db.getExecutor().adapter;
    let query = compiled.get(adapter);
    if (!query) compiled.set(adapter, (query = build(db, placeholders).compile()));
    const parameters = query.parameters.map((value) => (value instanceof Placeholder ? (args as Record<string, unknown>)[value.name] : value));
    return db.executeQuery<Row>({ ...query, parameters });
  };
}
