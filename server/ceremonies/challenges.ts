// Challenges are database rows, so any instance can finish a ceremony another
// started (on PostgreSQL written without waiting for the server's disk: losing one
// in a power cut only fails its ceremony; see withRelaxedDurability). A challenge is
// bound to its kind and, where known, to its user (a sign-in by email: to that email); it expires after
// CHALLENGE_TTL_SECONDS; it is used up by the first finish that presents it, before
// anything else is done, whether that finish then succeeds or fails (see
// consumeChallenge: DELETE ... RETURNING).
import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.js';
import { consumeChallenge, insertChallenge } from '../db/challenges.js';
import { withRelaxedDurability } from '../db/connect.js';
import type { ChallengeKind, ChallengesTable } from '../db/schema.js';

export type Challenge = ChallengesTable;

type ChallengeFields = Pick<Challenge, 'kind' | 'challenge'> &
  Partial<Pick<Challenge, 'user_id' | 'email' | 'display_name' | 'user_handle' | 'session_jti'>>;

function newChallenge(deps: Deps, fields: ChallengeFields): Challenge {
  const now = deps.now();
  return {
    id: randomUUID(),
    user_id: null,
    email: null,
    display_name: null,
    user_handle: null,
    session_jti: null,
    ...fields,
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + deps.config.challengeTtlSeconds * 1000).toISOString(),
  };
}

export async function saveChallenge(deps: Deps, fields: ChallengeFields): Promise<string> {
  const challenge = newChallenge(deps, fields);
  await withRelaxedDurability(deps.db, (trx) => insertChallenge(trx, challenge));
  return challenge.id;
}

export type ChallengeProblem = 'unknown' | 'wrong_kind' | 'expired';

export class ChallengeRejected extends Error {
  constructor(readonly problem: ChallengeProblem) {
    super(`challenge ${problem.replace('_', ' ')}`);
  }
}

/**
 * Uses up the challenge `id` and runs `finish` with it, if it is of the given
 * kind and has not expired. Of several finishes presenting one challenge, exactly
 * one gets it; it is gone whatever happens next.
 */
export async function finishWithChallenge<T>(
  deps: Deps,
  id: string,
  kind: ChallengeKind,
  finish: (challenge: Challenge) => Promise<T>,
): Promise<T> {
  const challenge = await consumeChallenge(deps.db, id);
  if (!challenge) throw new ChallengeRejected('unknown');
  // A sign-in challenge never finishes a registration, nor the reverse.
  if (challenge.kind !== kind) throw new ChallengeRejected('wrong_kind');
  if (challenge.expires_at <= deps.now().toISOString()) throw new ChallengeRejected('expired');
  return finish(challenge);
}
