// Queries compiled once. Kysely builds and compiles a query on every call (immutable
// node trees, a visitor, a new SQL string): on the sign-in path that was a tenth of
// the CPU. A prepared query is built once per database with a placeholder for each
// argument, compiled, and then run with the arguments bound in their places: the
// same SQL, the same parameters, the same results as building it afresh.
import type { Compilable, CompiledQuery, DialectAdapter, QueryResult } from 'kysely';
import type { Db } from './schema.js';

// An argument's stand-in while the query is built: Kysely passes values through to
// the compiled parameters untouched, so each can be found there again.
class Placeholder {
  constructor(readonly name: string) {}
}

/**
 * `build` makes the query from `args`, each of which it may only use as a value
 * (a placeholder stands in for it); the result runs it with real arguments.
 */
export function prepare<Args extends object, Row>(
  build: (db: Db, args: Args) => Compilable<Row>,
): (db: Db, args: Args) => Promise<QueryResult<Row>> {
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
