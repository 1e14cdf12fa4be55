// Sign-in, by email or usernameless. Invariants: a start reveals nothing about the email
// (see "What a sign-in start reveals"); the challenge is used up first; a passkey signs in
// only to the account its start named, or usernameless to the one its user handle names;
// its counter must increase and its backup eligibility stay as registered; every failure is
// one 401 authentication_failed, its reason logged and a fixed code written to the passkey
// owner's trail off the answer's path; counter, session and audit event commit together.
import { generateAuthenticationOptions, type AuthenticationResponseJSON, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Deps, RequestContext } from '../deps.js';
import { auditEnvelope, insertAuditEvent, insertUnsignedFailedSignIn } from '../db/audit-events.js';
import { findCredentialWithUser, recordCredentialUse } from '../db/credentials.js';
import type { CredentialsTable, UsersTable } from '../db/schema.js';
import { insertSession } from '../db/sessions.js';
import { AppError } from '../errors.js';
import { mintSessionToken } from '../tokens/session-tokens.js';
import { notifyWebhooks, queueWebhookEvent } from '../webhooks/events.js';
import { AssertionFailed, type AssertionFailure, type VerifiedAssertion } from './assertion.js';
import { saveChallenge, takeChallenge, type SignInChallenge } from './challenges.js';
import { credentialIdToHex } from './credential-json.js';
import type { StartedCeremony } from './registration.js';

// --- What a sign-in start reveals ------------------------------------------------------
// Nothing about the email. Every passkey here is discoverable (residentKey required), so
// the browser offers the person's own passkeys unasked: the start looks no account up, and
// every email, known or not, gets the same options (an empty allowCredentials) from the
// same work and the same one write, the challenge keeping the email. The account is bound
// at the finish instead (requireStartedAccount), so an unknown email's challenge never finishes.

export async function startSignIn(deps: Deps, input: { email?: string }): Promise<StartedCeremony<PublicKeyCredentialRequestOptionsJSON>> {
  const { config } = deps;
  const options = await generateAuthenticationOptions({
    rpID: config.rpId,
    allowCredentials: [],
    userVerification: config.userVerification,
    timeout: config.challengeTtlSeconds * 1000,
  });
  const challengeId = await saveChallenge(deps, { kind: 'authentication', challenge: options.challenge, email: input.email ?? null });
  return { challengeId, options };
}

/** A passkey of another account than the one the start named fails, and is not recorded. */
function requireStartedAccount(challenge: SignInChallenge, credential: Pick<PasskeyWithUser, 'email' | 'user_id'>): void {
  if (challenge.email !== null && challenge.email !== credential.email) {
    throw new SignInFailed('wrong_account', 'credential belongs to another account than the email');
  }
  if (challenge.userId !== null && challenge.userId !== credential.user_id) {
    throw new SignInFailed('wrong_account', 'credential belongs to another account');
  }
}

// --- The finish ------------------------------------------------------------------------

export interface FinishedSignIn {
  userId: string;
  token: string;
  expiresAt: string;
}

/**
 * Why a sign-in failed, as the audit trail stores it: a closed set of fixed codes,
 * each named where the failure is raised, so nothing a client sent reaches the trail.
 */
export type SignInFailure =
  | 'challenge_rejected'
  | 'unknown_credential'
  | 'wrong_account'
  | 'user_handle_missing'
  | 'user_handle_mismatch'
  | AssertionFailure
  | 'verification_failed'
  | 'backup_eligibility_changed'
  | 'counter_regressed'
  | 'counter_conflict';

/** A sign-in failure: 401 authentication_failed to the client, `message` to the log, `failure` to the trail. */
class SignInFailed extends AppError {
  constructor(
    readonly failure: SignInFailure,
    message: string,
    cause?: unknown,
  ) {
    super('authentication_failed', 'Sign-in failed', { reason: `${failure}: ${message}`, cause });
  }
}

type PasskeyWithUser = CredentialsTable & Pick<UsersTable, 'email' | 'user_handle' | 'email_verified_at' | 'external_id'>;

/** The passkey a failure is recorded against; `signed`: the assertion verified, so not just anyone failed. */
interface FailedPasskey {
  userId: string;
  credentialId: string;
  signed: boolean;
}

const challengeRejected = (_problem: unknown, reason: string) => new SignInFailed('challenge_rejected', reason);

export async function finishSignIn(
  deps: Deps,
  input: { challengeId: string; authentication: AuthenticationResponseJSON },
  context: RequestContext = {},
): Promise<FinishedSignIn> {
  const response = input.authentication;
  // Once the passkey is known, a failure is worth a line in its owner's audit trail.
  let passkey: FailedPasskey | undefined;
  try {
    const challenge = await takeChallenge(deps, input.challengeId, 'authentication', challengeRejected);
    // The id the browser reports and the raw id are the same bytes.
    if (response.id !== response.rawId) throw new SignInFailed('verification_failed', 'id and rawId differ');
    const credential = await findCredentialWithUser(deps.db, credentialIdToHex(response.id));
    if (!credential) throw new SignInFailed('unknown_credential', 'unknown credential');
    requireStartedAccount(challenge, credential);
    passkey = { userId: credential.user_id, credentialId: credential.id, signed: false };
    requireUserHandle(challenge, credential, response);
    const verified = verifySignedAssertion(deps, challenge, credential, response);
    passkey.signed = true;
    requireSameAuthenticator(credential, verified);
    return await openSession(deps, credential, verified, context);
  } catch (error) {
    if (passkey && error instanceof SignInFailed) recordFailedSignIn(deps, passkey, error.failure, context);
    throw error;
  }
}

// Usernameless sign-in trusts the user handle to name the account: it must match.
function requireUserHandle(challenge: SignInChallenge, credential: PasskeyWithUser, response: AuthenticationResponseJSON): void {
  const userHandle = response.response.userHandle;
  const usernameless = challenge.email === null && challenge.userId === null;
  if (usernameless && !userHandle) throw new SignInFailed('user_handle_missing', 'no user handle in a usernameless sign-in');
  if (userHandle && userHandle !== credential.user_handle) throw new SignInFailed('user_handle_mismatch', 'user handle does not match the credential');
}

function verifySignedAssertion(deps: Deps, challenge: SignInChallenge, credential: PasskeyWithUser, response: AuthenticationResponseJSON): VerifiedAssertion {
  const { config } = deps;
  try {
    return deps.assertionVerifier.verify(response, credential.public_key, {
      challenge: challenge.challenge,
      origins: config.origins,
      topOrigins: config.topOrigins,
      rpId: config.rpId,
      requireUserVerification: config.userVerification === 'required',
    });
  } catch (error) {
    const failure = error instanceof AssertionFailed ? error.reason : 'verification_failed';
    throw new SignInFailed(failure, error instanceof Error ? error.message : 'verification threw', error);
  }
}

function requireSameAuthenticator(credential: PasskeyWithUser, verified: VerifiedAssertion): void {
  // Backup eligibility is fixed when a passkey is made (WebAuthn §7.2): a change means
  // this is not the authenticator that registered it.
  if (verified.credentialDeviceType !== credential.device_type) {
    throw new SignInFailed(
      'backup_eligibility_changed',
      `backup eligibility changed: stored ${credential.device_type}, asserted ${verified.credentialDeviceType}`,
    );
  }
  const storedCounter = Number(credential.counter);
  // A counter that does not increase means two copies of one key may exist.
  if ((verified.newCounter > 0 || storedCounter > 0) && verified.newCounter <= storedCounter) {
    throw new SignInFailed('counter_regressed', `counter did not increase: stored ${storedCounter}, received ${verified.newCounter}`);
  }
}

/** Stores the new counter, backup state and last use, and opens the session: one transaction. */
async function openSession(deps: Deps, credential: PasskeyWithUser, verified: VerifiedAssertion, context: RequestContext): Promise<FinishedSignIn> {
  const userId = credential.user_id;
  const minted = await mintSessionToken(
    deps,
    { id: userId, email: credential.email, emailVerified: credential.email_verified_at !== null, externalId: credential.external_id },
    credential.id,
    context,
  );
  const hooks = await deps.db.transaction().execute(async (trx) => {
    const usedAt = deps.now().toISOString();
    const recorded = await recordCredentialUse(trx, {
      id: credential.id,
      expectedCounter: Number(credential.counter),
      counter: verified.newCounter,
      backedUp: verified.credentialBackedUp,
      usedAt,
    });
    if (!recorded) throw new SignInFailed('counter_conflict', 'counter changed by a concurrent sign-in');
    await insertSession(trx, minted.session);
    await insertAuditEvent(trx, { ...auditEnvelope(userId, context, usedAt), type: 'passkey.used', credential_id: credential.id });
    // Nothing when no endpoint wants passkey.used; else one insert.
    return queueWebhookEvent(trx, deps, 'passkey.used', { userId, credentialId: credential.id, sessionId: minted.session.jti });
  });
  notifyWebhooks(deps, hooks);
  return { userId, token: minted.token, expiresAt: minted.expiresAt };
}

/**
 * Writes a failed sign-in to the passkey owner's trail without holding up the answer:
 * the caller does not wait, and a write that fails is logged, never thrown.
 */
function recordFailedSignIn(deps: Deps, passkey: FailedPasskey, failure: SignInFailure, context: RequestContext): void {
  const event = { ...auditEnvelope(passkey.userId, context, deps.now().toISOString()), credential_id: passkey.credentialId, detail: failure };
  const type = failure === 'counter_regressed' ? 'counter.regressed' : 'sign_in.failed';
  const write = async () => {
    // Failures the passkey signed are always recorded; anyone can make the unsigned kind, which is capped.
    if (type === 'counter.regressed') {
      const hooks = await deps.db.transaction().execute(async (trx) => {
        await insertAuditEvent(trx, { ...event, type });
        return queueWebhookEvent(trx, deps, 'passkey.clone_warning', { userId: passkey.userId, credentialId: passkey.credentialId });
      });
      return notifyWebhooks(deps, hooks);
    }
    if (passkey.signed) return insertAuditEvent(deps.db, { ...event, type });
    const recorded = await insertUnsignedFailedSignIn(deps.db, { ...event, type });
    if (!recorded) deps.log.info({ userId: passkey.userId, failure }, 'failed sign-in left out of the audit trail: the hourly cap is reached');
  };
  write().catch((auditError: unknown) => deps.log.warn({ err: auditError }, 'could not record a failed sign-in'));
}
