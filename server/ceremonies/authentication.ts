// Sign-in: by email or usernameless; every passkey here is discoverable (residentKey
// required), so the browser always offers the person's own passkeys. Invariants:
// - A start does no account lookup: `allowCredentials` is empty for every email,
//   known or not, and the challenge row keeps the (normalised) email. Known and
//   unknown emails get the same answer from the same work and the same one write,
//   and nothing any user registers can shape what another email gets.
// - The account is bound at the finish: with an email, the passkey's account must
//   have that email (so an unknown email's challenge never finishes); usernameless,
//   the user handle names the account and must match the passkey's.
// - Every failure is the same 401 authentication_failed; the reason goes to the log,
//   and the audit trail gets only a fixed code (SignInFailure), never client text.
// - A failure is recorded off the answer's path: the 401 never waits for the audit
//   write, and a failed write is logged.
// - A counter that does not increase (when either side is non-zero) fails, and is
//   recorded as `counter.regressed` in the account's audit trail (a cloned authenticator?).
// - A passkey whose backup eligibility (BE) differs from its registration's fails.
// - The challenge is used up first (see finishWithChallenge); storing the new
//   counter, backup state and lastUsedAt, and creating the session happen in one transaction.
import {
  generateAuthenticationOptions,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { Deps, RequestContext } from '../deps.js';
import { insertAuditEvent, insertUnsignedFailedSignIn } from '../db/audit-events.js';
import { findCredentialWithUser, recordCredentialUse } from '../db/credentials.js';
import { insertSession } from '../db/sessions.js';
import { AppError } from '../errors.js';
import { mintSessionToken } from '../tokens/session-tokens.js';
import { AssertionFailed, type AssertionFailure, type VerifiedAssertion } from './assertion.js';
import { ChallengeRejected, finishWithChallenge, saveChallenge } from './challenges.js';
import { credentialIdToHex } from './credential-json.js';
import type { StartedCeremony } from './registration.js';

export async function startSignIn(
  deps: Deps,
  input: { email?: string },
): Promise<StartedCeremony<PublicKeyCredentialRequestOptionsJSON>> {
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

export async function finishSignIn(
  deps: Deps,
  input: { challengeId: string; authentication: AuthenticationResponseJSON },
  context: RequestContext = {},
): Promise<FinishedSignIn> {
  const { config } = deps;
  const response = input.authentication;
  // Once the passkey is known, a failure is worth a line in its owner's audit trail.
  // `signed`: the assertion was signed by the passkey, so the failure is not just anyone's.
  let known: FailedPasskey | undefined;
  const finish = finishWithChallenge(deps, input.challengeId, 'authentication', async (challenge) => {
    // The id the browser reports and the raw id are the same bytes.
    if (response.id !== response.rawId) throw new SignInFailed('verification_failed', 'id and rawId differ');
    const credential = await findCredentialWithUser(deps.db, credentialIdToHex(response.id));
    if (!credential) throw new SignInFailed('unknown_credential', 'unknown credential');
    // A sign-in started for an account (by its email, or its id) is finished by that
    // account's passkey only; a passkey of another account fails here, unrecorded.
    if (challenge.email !== null && challenge.email !== credential.email) {
      throw new SignInFailed('wrong_account', 'credential belongs to another account than the email');
    }
    if (challenge.user_id !== null && challenge.user_id !== credential.user_id) {
      throw new SignInFailed('wrong_account', 'credential belongs to another account');
    }
    const seen = (known = { userId: credential.user_id, credentialId: credential.id, signed: false as boolean });
    const user = { id: credential.user_id, email: credential.email };
    // Usernameless sign-in trusts the user handle to name the account: it must match.
    const userHandle = response.response.userHandle;
    const usernameless = challenge.email === null && challenge.user_id === null;
    if (usernameless && !userHandle) throw new SignInFailed('user_handle_missing', 'no user handle in a usernameless sign-in');
    if (userHandle && userHandle !== credential.user_handle) throw new SignInFailed('user_handle_mismatch', 'user handle does not match the credential');

    // Every check of @simplewebauthn/server's verifyAuthenticationResponse, with the
    // credential's public key parsed once (see assertion.ts).
    let verified: VerifiedAssertion;
    try {
      verified = deps.assertionVerifier.verify(response, credential.public_key, {
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
    seen.signed = true;
    const { newCounter, credentialBackedUp } = verified;
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
    if ((newCounter > 0 || storedCounter > 0) && newCounter <= storedCounter) {
      throw new SignInFailed('counter_regressed', `counter did not increase: stored ${storedCounter}, received ${newCounter}`);
    }
    const minted = await mintSessionToken(deps, user, credential.id, context);
    await deps.db.transaction().execute(async (trx) => {
      const usedAt = deps.now().toISOString();
      const recorded = await recordCredentialUse(trx, {
        id: credential.id,
        expectedCounter: storedCounter,
        counter: newCounter,
        backedUp: credentialBackedUp,
        usedAt,
      });
      if (!recorded) throw new SignInFailed('counter_conflict', 'counter changed by a concurrent sign-in');
      await insertSession(trx, minted.session);
      await insertAuditEvent(trx, { user_id: user.id, type: 'passkey.used', credential_id: credential.id, ip: context.ip ?? null, created_at: usedAt });
    });
    return { userId: user.id, token: minted.token, expiresAt: minted.expiresAt };
  });
  return finish.catch((error: unknown) => {
    const failure = error instanceof ChallengeRejected ? new SignInFailed('challenge_rejected', error.message) : error;
    if (known && failure instanceof SignInFailed) recordFailedSignIn(deps, known, failure.failure, context);
    throw failure;
  });
}

interface FailedPasskey {
  userId: string;
  credentialId: string;
  signed: boolean;
}

/**
 * Writes a failed sign-in to the passkey owner's trail without holding up the answer:
 * the caller does not wait, and a write that fails is logged, never thrown.
 */
function recordFailedSignIn(deps: Deps, passkey: FailedPasskey, failure: SignInFailure, context: RequestContext): void {
  const event = {
    user_id: passkey.userId,
    credential_id: passkey.credentialId,
    detail: failure,
    ip: context.ip ?? null,
    created_at: deps.now().toISOString(),
  };
  // Failures signed by the passkey (a regressed counter, a changed backup
  // eligibility) are always recorded; anyone can make the unsigned kind.
  const type = failure === 'counter_regressed' ? 'counter.regressed' : 'sign_in.failed';
  const write = async () => {
    if (passkey.signed) return insertAuditEvent(deps.db, { ...event, type });
    const recorded = await insertUnsignedFailedSignIn(deps.db, { ...event, type });
    if (!recorded) deps.log.info({ userId: passkey.userId, failure }, 'failed sign-in left out of the audit trail: the hourly cap is reached');
  };
  write().catch((auditError: unknown) => deps.log.warn({ err: auditError }, 'could not record a failed sign-in'));
}
