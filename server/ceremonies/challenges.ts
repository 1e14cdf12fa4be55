// Challenges are database rows, so any instance can finish a ceremony another started.
// Invariants: a challenge is bound to its kind and, where known, to its account (a sign-in
// by email: to that email; adding a passkey: to the account and the session that started it;
// a recovery or an enrolment ticket: to the account it was granted for);
// it expires after CHALLENGE_TTL_SECONDS; the first finish that presents it uses it up
// (DELETE ... RETURNING) before anything else is done, whether that finish then succeeds or
// fails. A finish gets it as a typed value (TakenChallenge) or its ceremony's error.
import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.js';
import { consumeChallenge, insertChallenge } from '../db/challenges.js';
import { withRelaxedDurability } from '../db/connect.js';
import type { ChallengeKind, ChallengesTable } from '../db/schema.js';

type ChallengeFields = Pick<ChallengesTable, 'kind' | 'challenge'> &
  Partial<Pick<ChallengesTable, 'user_id' | 'email' | 'display_name' | 'user_handle' | 'session_jti' | 'via'>>;

/** A challenge row, for a caller that writes it in a transaction of its own (saveChallenge writes its own). */
export function newChallenge(deps: Pick<Deps, 'now' | 'config'>, fields: ChallengeFields): ChallengesTable {
  const now = deps.now();
  return {
    id: randomUUID(),
    user_id: null,
    email: null,
    display_name: null,
    user_handle: null,
    session_jti: null,
    via: null,
    ...fields,
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + deps.config.challengeTtlSeconds * 1000).toISOString(),
  };
}

// Written without waiting for the disk where the engine allows it: a challenge lost in a
// power cut only fails its own ceremony.
export async function saveChallenge(deps: Deps, fields: ChallengeFields): Promise<string> {
  const challenge = newChallenge(deps, fields);
  await withRelaxedDurability(deps.db, (trx) => insertChallenge(trx, challenge));
  return challenge.id;
}

/** A sign-up's challenge: the new account it will create. */
export interface SignUpChallenge {
  kind: 'sign-up';
  challenge: string;
  email: string;
  displayName: string;
  userHandle: string;
}

/** Adding a passkey to an account: only the session that started it may finish it. */
export interface AddPasskeyChallenge {
  kind: 'add-passkey';
  challenge: string;
  userId: string;
  sessionJti: string | null;
}

/**
 * A new passkey for an existing account that no session asked for: granted by a recovery
 * code (the email was just proven) or an enrolment ticket (from the admin API). It signs
 * the person in.
 */
export interface GrantedChallenge {
  kind: 'recovery' | 'enrolment';
  challenge: string;
  userId: string;
}

/** A sign-in's challenge: the account it must end in, when the start named one. */
export interface SignInChallenge {
  kind: 'sign-in';
  challenge: string;
  email: string | null;
  userId: string | null;
}

export type TakenChallenge<K extends ChallengeKind = ChallengeKind> = K extends 'registration'
  ? SignUpChallenge | AddPasskeyChallenge | GrantedChallenge
  : SignInChallenge;

/** Why a challenge cannot finish a ceremony. */
export type ChallengeProblem = 'unknown' | 'wrong_kind' | 'expired';

/**
 * Uses up the challenge `id` and returns it, typed by what it started; throws the
 * ceremony's `rejected(problem, reason)` when there is no such challenge, it is of another
 * kind, or it has expired. Of several finishes presenting one challenge, exactly one gets it.
 */
export async function takeChallenge<K extends ChallengeKind>(
  deps: Deps,
  id: string,
  kind: K,
  rejected: (problem: ChallengeProblem, reason: string) => Error,
): Promise<TakenChallenge<K>> {
  const row = await consumeChallenge(deps.db, id);
  if (!row) throw rejected('unknown', 'challenge unknown');
  // A sign-in challenge never finishes a registration, nor the reverse.
  if (row.kind !== kind) throw rejected('wrong_kind', 'challenge wrong kind');
  if (row.expires_at <= deps.now().toISOString()) throw rejected('expired', 'challenge expired');
  return toTaken(row) as TakenChallenge<K>;
}

function toTaken(row: ChallengesTable): TakenChallenge {
  if (row.kind === 'authentication') return { kind: 'sign-in', challenge: row.challenge, email: row.email, userId: row.user_id };
  if (row.user_id !== null && row.via !== null) {
    return { kind: row.via === 'recovery' ? 'recovery' : 'enrolment', challenge: row.challenge, userId: row.user_id };
  }
  if (row.user_id !== null) return { kind: 'add-passkey', challenge: row.challenge, userId: row.user_id, sessionJti: row.session_jti };
  // A sign-up row always carries its email and user handle (startSignUp writes both).
  const email = row.email!;
  return { kind: 'sign-up', challenge: row.challenge, email, displayName: row.display_name ?? email, userHandle: row.user_handle! };
}
