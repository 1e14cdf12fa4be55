import { prepare, type EveryColumn } from './prepared.js';
import type { ChallengesTable, Db } from './schema.js';

// Prepared (compiled once, see prepared.ts): both run once per ceremony.
const insert = prepare((db, c: ChallengesTable) =>
  db.insertInto('challenges').values({
    id: c.id,
    kind: c.kind,
    challenge: c.challenge,
    user_id: c.user_id,
    email: c.email,
    display_name: c.display_name,
    user_handle: c.user_handle,
    session_jti: c.session_jti,
    via: c.via,
    expires_at: c.expires_at,
    created_at: c.created_at,
  } satisfies EveryColumn<ChallengesTable>),
);
const consume = prepare((db, { id }: { id: string }) => db.deleteFrom('challenges').where('id', '=', id).returningAll());

export async function insertChallenge(db: Db, challenge: ChallengesTable): Promise<void> {
  await insert(db, challenge);
}

// Single use by construction: one DELETE ... RETURNING. Of N concurrent callers
// exactly one gets the row back; the others get undefined.
export async function consumeChallenge(db: Db, id: string) {
  return (await consume(db, { id })).rows[0];
}
