// Sign-in: by email (allowCredentials = that account's passkeys) or usernameless
// (discoverable credentials; the account is found by credential id and its user
// handle must match). Invariants:
// - An email with no account gets an answer of the same status and shape; its
//   start writes a challenge and takes it back in one transaction (the same work
//   and wait for the disk, nothing left behind). Its allowCredentials copy the
//   passkeys of another account, picked by the email and a server secret (their
//   number, transports and id lengths), with ids derived from the email and the
//   secret: stable across calls, and as many as real accounts have, so their
//   number tells nothing.
// - Every failure is the same 401 authentication_failed; the reason goes to the log.
// - A counter that does not increase (when either side is non-zero) fails, and is
//   recorded as `counter.regressed` in the account's audit trail (a cloned authenticator?).
// - A passkey whose backup eligibility (BE) differs from its registration's fails.
// - The challenge is used up first (see finishWithChallenge); storing the new
//   counter, backup state and lastUsedAt, and creating the session happen in one transaction.
import { createHmac } from 'node:crypto';
import {
  generateAuthenticationOptions,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import type { Deps, RequestContext } from '../deps.js';
import { insertAuditEvent, insertUnsignedFailedSignIn } from '../db/audit-events.js';
import { findCredentialWithUser, listCredentialsForSignIn, recordCredentialUse } from '../db/credentials.js';
import type { CredentialsTable } from '../db/schema.js';
import { insertSession } from '../db/sessions.js';
import { AppError } from '../errors.js';
import { mintSessionToken } from '../tokens/session-tokens.js';
import { verifyAssertion, type VerifiedAssertion } from './assertion.js';
import { ChallengeRejected, finishWithChallenge, saveChallenge, standInChallengeId } from './challenges.js';
import { credentialIdToHex, toDescriptor } from './credential-json.js';
import type { StartedCeremony } from './registration.js';

// What an unknown email gets instead of real credentials: as many, with the same
// transports and id lengths, as the account it copies (`model`); never changes.
function standInCredentials(secret: Uint8Array, email: string, model: Pick<CredentialsTable, 'id' | 'transports'>[]) {
  return model.map((credential, i) => ({
    id: isoBase64URL.fromBuffer(derivedBytes(secret, `allowCredentials:${email}:${i}`, credential.id.length / 2)),
    transports: JSON.parse(credential.transports) as AuthenticatorTransport[],
  }));
}

// Where the account to copy is looked for: shaped like a user handle (base64url of 32 bytes).
const standInProbe = (secret: Uint8Array, email: string) => isoBase64URL.fromBuffer(derivedBytes(secret, `standInAccount:${email}`, 32));

function derivedBytes(secret: Uint8Array, label: string, length: number): Uint8Array<ArrayBuffer> {
  const blocks: Buffer[] = [];
  for (let block = 0; blocks.length * 64 < length; block++) blocks.push(createHmac('sha512', secret).update(`${label}:${block}`).digest());
  return Buffer.concat(blocks).subarray(0, length);
}

export async function startSignIn(
  deps: Deps,
  input: { email?: string },
): Promise<StartedCeremony<PublicKeyCredentialRequestOptionsJSON>> {
  const { config } = deps;
  const { email } = input;
  // One read for a known email and an unknown one alike, so both take about as long.
  const credentials = email === undefined ? [] : await listCredentialsForSignIn(deps.db, email, standInProbe(deps.enumerationSecret, email));
  // Every account has a passkey (the last one cannot be deleted): no rows of its own, no account.
  const userId = credentials[0]?.email === email ? credentials[0]?.user_id : undefined;
  const allowCredentials = userId || email === undefined ? credentials.map(toDescriptor) : standInCredentials(deps.enumerationSecret, email, credentials);
  const options = await generateAuthenticationOptions({
    rpID: config.rpId,
    allowCredentials,
    userVerification: config.userVerification,
    timeout: config.challengeTtlSeconds * 1000,
  });
  if (email !== undefined && !userId) {
    // Same shape, the same write taken back: the challenge id is random like any other and can never finish.
    return { challengeId: await standInChallengeId(deps, options.challenge), options };
  }
  const challengeId = await saveChallenge(deps, { kind: 'authentication', challenge: options.challenge, user_id: userId ?? null });
  return { challengeId, options };
}

export interface FinishedSignIn {
  userId: string;
  token: string;
  expiresAt: string;
}

function signInFailed(reason: string, cause?: unknown) {
  return new AppError('authentication_failed', 'Sign-in failed', { reason, cause });
}

class CounterRegressed extends AppError {
  constructor(stored: number, received: number) {
    super('authentication_failed', 'Sign-in failed', { reason: `counter did not increase: stored ${stored}, received ${received}` });
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
  let known: { userId: string; credentialId: string; signed: boolean } | undefined;
  const finish = finishWithChallenge(deps, input.challengeId, 'authentication', async (challenge) => {
    // The id the browser reports and the raw id are the same bytes.
    if (response.id !== response.rawId) throw signInFailed('id and rawId differ');
    const credential = await findCredentialWithUser(deps.db, credentialIdToHex(response.id));
    if (!credential) throw signInFailed('unknown credential');
    // A sign-in started for one account is finished by that account's passkey only.
    if (challenge.user_id !== null && challenge.user_id !== credential.user_id) {
      throw signInFailed('credential belongs to another account');
    }
    const seen = (known = { userId: credential.user_id, credentialId: credential.id, signed: false as boolean });
    const user = { id: credential.user_id, email: credential.email };
    // Usernameless sign-in trusts the user handle to name the account: it must match.
    const userHandle = response.response.userHandle;
    if (challenge.user_id === null && !userHandle) throw signInFailed('no user handle in a usernameless sign-in');
    if (userHandle && userHandle !== credential.user_handle) throw signInFailed('user handle does not match the credential');

    // Every check of @simplewebauthn/server's verifyAuthenticationResponse, with the
    // credential's public key parsed once (see assertion.ts).
    let verified: VerifiedAssertion;
    try {
      verified = verifyAssertion(response, credential.public_key, {
        challenge: challenge.challenge,
        origins: config.origins,
        topOrigins: config.topOrigins,
        rpId: config.rpId,
        requireUserVerification: config.userVerification === 'required',
      });
    } catch (error) {
      throw signInFailed(error instanceof Error ? error.message : 'verification threw', error);
    }
    seen.signed = true;
    const { newCounter, credentialBackedUp } = verified;
    // Backup eligibility is fixed when a passkey is made (WebAuthn §7.2): a change means
    // this is not the authenticator that registered it.
    if (verified.credentialDeviceType !== credential.device_type) {
      throw signInFailed(`backup eligibility changed: stored ${credential.device_type}, asserted ${verified.credentialDeviceType}`);
    }
    const storedCounter = Number(credential.counter);
    // A counter that does not increase means two copies of one key may exist.
    if ((newCounter > 0 || storedCounter > 0) && newCounter <= storedCounter) {
      throw new CounterRegressed(storedCounter, newCounter);
    }
    const minted = await mintSessionToken(deps, user, credential.id);
    await deps.db.transaction().execute(async (trx) => {
      const usedAt = deps.now().toISOString();
      const recorded = await recordCredentialUse(trx, {
        id: credential.id,
        expectedCounter: storedCounter,
        counter: newCounter,
        backedUp: credentialBackedUp,
        usedAt,
      });
      if (!recorded) throw signInFailed('counter changed by a concurrent sign-in');
      await insertSession(trx, minted.session);
      await insertAuditEvent(trx, { user_id: user.id, type: 'passkey.used', credential_id: credential.id, ip: context.ip ?? null, created_at: usedAt });
    });
    return { userId: user.id, token: minted.token, expiresAt: minted.expiresAt };
  });
  return finish.catch(async (error: unknown) => {
    const failure = error instanceof ChallengeRejected ? signInFailed(error.message) : error;
    if (known && failure instanceof AppError && failure.code === 'authentication_failed') {
      const event = {
        user_id: known.userId,
        credential_id: known.credentialId,
        detail: failure.message,
        ip: context.ip ?? null,
        created_at: deps.now().toISOString(),
      };
      // Failures signed by the passkey (a regressed counter, a changed backup
      // eligibility) are always recorded; anyone can make the unsigned kind.
      const type = failure instanceof CounterRegressed ? 'counter.regressed' : 'sign_in.failed';
      await (known.signed
        ? insertAuditEvent(deps.db, { ...event, type })
        : insertUnsignedFailedSignIn(deps.db, { ...event, type })
      ).catch((auditError: unknown) => deps.log.warn({ err: auditError }, 'could not record a failed sign-in'));
    }
    throw failure;
  });
}
