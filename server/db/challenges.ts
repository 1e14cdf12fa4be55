import type { ChallengesTable, Db } from './schema.js';

export async function insertChallenge(db: Db, challenge: ChallengesTable): Promise<void> {
  await db.insertInto('challenges').values(challenge).execute();
}

// Single use by construction: one DELETE ... RETURNING. Of N concurrent callers
// exactly one gets the row back; the others get undefined.
export function consumeChallenge(db: Db, id: string) {
  return db.deleteFrom('challenges').where('id', '=', id).returningAll().executeTakeFirst();
}
