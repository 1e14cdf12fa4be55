// Registration: sign-up (a new account, by email) or adding a passkey to the
// signed-in account. Invariants:
// - The WebAuthn user handle is random, made once per account, never the email.
// - Sign-up for an email that has an account is 409 account_exists and stores
//   nothing. Only a signed-in user whose passkey proof is recent (requireRecentAuth)
//   can add a passkey to an account; its finish needs the very token that started it,
//   still live and still recent (a sign-out in between stops it), answers with that
//   token and never opens another session.
// - A credential id that is registered already, to any account, fails (400
//   registration_failed) and stores nothing.
// - The credential's public key is one of the three the service offers, with its alg,
//   kty and curve agreeing, and imports (public-key.ts); any other fails the ceremony.
// - crossOrigin and topOrigin follow the rule sign-in follows (cross-origin.ts): no
//   cross-origin registration unless TOP_ORIGINS names the pages that may frame it.
// - One user-verification policy (config.userVerification) for options and
//   verification alike.
// - The challenge is used up first, whatever follows (challenges.ts); the account, the
//   credential, the session and the audit events are written in one transaction.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { decodeClientDataJSON, isoBase64URL, isoUint8Array } from '@simplewebauthn/server/helpers';
import type { Deps, RequestContext } from '../deps.js';
import { auditEnvelope, insertAuditEvent } from '../db/audit-events.js';
import { findCredentialById, insertCredential, listCredentialsByUser } from '../db/credentials.js';
import { isUniqueViolation } from '../db/errors.js';
import { holdLiveSession, insertSession } from '../db/sessions.js';
import { accountExists, findUserByEmail, findUserById, insertUser, lockUser, requireUser } from '../db/users.js';
import type { CredentialsTable, Db, UsersTable } from '../db/schema.js';
import { AppError } from '../errors.js';
import { mintSessionToken, requireRecentAuth, verifySessionToken, type SessionClaims, type TokenSubject } from '../tokens/session-tokens.js';
import { queuePasskeyAdded, queueVerification } from '../email/ownership.js';
import { notifyWebhooks, queueWebhookEvents } from '../webhooks/events.js';
import { nameForAaguid } from './authenticator-names.js';
import { saveChallenge, takeChallenge, type ChallengeProblem, type SignUpChallenge, type TakenChallenge } from './challenges.js';
import { checkCrossOrigin } from './cross-origin.js';
import { credentialIdToHex, toCredentialJSON, toDescriptor, type CredentialJSON } from './credential-json.js';
import { importRegistrationPublicKey } from './public-key.js';
import { storedTransports } from './transports.js';

// EdDSA, ES256, RS256: the same list in the options and in verification.
export const supportedAlgorithmIDs = [-8, -7, -257];

export interface StartRegistrationInput {
  email?: string;
  displayName?: string;
}

export interface StartedCeremony<Options> {
  challengeId: string;
  options: Options;
}

export async function creationOptions(
  deps: Deps,
  user: { email: string; displayName: string; userHandle: string },
  existing: Pick<CredentialsTable, 'id' | 'transports'>[],
) {
  const { config } = deps;
  return generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    userName: user.email,
    userDisplayName: user.displayName,
    userID: isoBase64URL.toBuffer(user.userHandle),
    timeout: config.challengeTtlSeconds * 1000,
    attestationType: 'none',
    excludeCredentials: existing.map(toDescriptor),
    authenticatorSelection: { residentKey: 'required', userVerification: config.userVerification },
    supportedAlgorithmIDs,
  });
}

export async function startSignUp(
  deps: Deps,
  input: Required<Pick<StartRegistrationInput, 'email'>> & StartRegistrationInput,
): Promise<StartedCeremony<PublicKeyCredentialCreationOptionsJSON>> {
  if (await findUserByEmail(deps.db, input.email)) throw accountExists();
  const user = {
    email: input.email,
    displayName: input.displayName ?? input.email,
    userHandle: isoBase64URL.fromBuffer(randomBytes(32)),
  };
  const options = await creationOptions(deps, user, []);
  const challengeId = await saveChallenge(deps, {
    kind: 'registration',
    challenge: options.challenge,
    email: user.email,
    display_name: user.displayName,
    user_handle: user.userHandle,
  });
  return { challengeId, options };
}

export async function startAddPasskey(
  deps: Deps,
  session: Pick<SessionClaims, 'sub' | 'jti' | 'auth_time'>,
  input: StartRegistrationInput,
): Promise<StartedCeremony<PublicKeyCredentialCreationOptionsJSON>> {
  requireRecentAuth(deps, session);
  const user = await requireUser(deps.db, session.sub);
  if (input.email !== undefined && input.email !== user.email) {
    throw new AppError('invalid_request', 'email does not match the signed-in account');
  }
  const existing = await listCredentialsByUser(deps.db, user.id);
  const options = await creationOptions(deps, { email: user.email, displayName: user.display_name, userHandle: user.user_handle }, existing);
  const challengeId = await saveChallenge(deps, {
    kind: 'registration',
    challenge: options.challenge,
    user_id: user.id,
    session_jti: session.jti,
  });
  return { challengeId, options };
}

export interface FinishRegistrationInput {
  challengeId: string;
  registration: RegistrationResponseJSON;
  name?: string;
}

export interface FinishedRegistration {
  userId: string;
  credential: CredentialJSON;
  token: string;
  expiresAt: string;
}

function registrationFailed(reason: string, cause?: unknown) {
  return new AppError('registration_failed', 'The passkey could not be verified', { reason, cause });
}

// WebAuthn §7.1 step 26: a credential id registered already fails the ceremony
// (the contract's registration_failed), whichever account holds it.
const passkeyRegisteredAlready = (cause?: unknown) => new AppError('registration_failed', 'This passkey is registered already', { cause });

/** Verifies a registration response; returns the credential row to store (hex-encoded). */
export async function verifyNewCredential(
  deps: Pick<Deps, 'config' | 'now'>,
  registration: RegistrationResponseJSON,
  expectedChallenge: string,
  userId: string,
  name?: string,
): Promise<CredentialsTable> {
  const { config } = deps;
  const verification = await verifyRegistrationResponse({
    response: registration,
    expectedChallenge,
    expectedOrigin: config.origins,
    expectedRPID: config.rpId,
    requireUserVerification: config.userVerification === 'required',
    supportedAlgorithmIDs,
  }).catch((error: unknown) => {
    throw registrationFailed(error instanceof Error ? error.message : 'verification threw', error);
  });
  if (!verification.verified) throw registrationFailed('not verified');
  // simplewebauthn does not look at crossOrigin or topOrigin when registering.
  try {
    checkCrossOrigin(decodeClientDataJSON(registration.response.clientDataJSON), config.topOrigins);
  } catch (error) {
    throw registrationFailed(error instanceof Error ? error.message : 'cross-origin check threw', error);
  }
  const { credential, credentialDeviceType, credentialBackedUp, aaguid } = verification.registrationInfo;
  // The id the client names must be the one the authenticator attested.
  if (credential.id !== registration.id) throw registrationFailed('response id does not match the attested credential id');
  const id = credentialIdToHex(credential.id);
  // WebAuthn §7.1 step 26: credential ids are at most 1023 bytes.
  if (id.length > 2046) throw registrationFailed(`credential id of ${id.length / 2} bytes, expected at most 1023`);
  try {
    importRegistrationPublicKey(credential.publicKey);
  } catch (error) {
    throw registrationFailed(error instanceof Error ? error.message : 'public key refused', error);
  }
  return {
    id,
    user_id: userId,
    public_key: isoUint8Array.toHex(credential.publicKey),
    counter: credential.counter,
    device_type: credentialDeviceType,
    backed_up: credentialBackedUp ? 1 : 0,
    transports: storedTransports(registration.response.transports ?? []),
    aaguid,
    name: name ?? nameForAaguid(aaguid),
    created_at: deps.now().toISOString(),
    last_used_at: null,
  };
}

const newAccount = (challenge: SignUpChallenge, id: string, createdAt: string): UsersTable => ({
  id,
  email: challenge.email,
  display_name: challenge.displayName,
  user_handle: challenge.userHandle,
  created_at: createdAt,
  email_verified_at: null,
  external_id: null,
});

/** The challenge of a registration, or 410 challenge_expired / 400 unknown_challenge. */
const registrationChallengeRejected = (problem: ChallengeProblem, reason: string) =>
  problem === 'expired'
    ? new AppError('challenge_expired', 'The challenge expired: start again')
    : new AppError('unknown_challenge', 'Unknown or used challenge: start again', { reason });

/**
 * The session a finished registration answers with. A sign-up or a recovery opens a new
 * one. Adding a passkey answers with the token that started it, which must be sent again
 * and still be recent: a challenge id alone (it travels in the page) adds nothing.
 */
async function sessionFor(
  deps: Deps,
  challenge: TakenChallenge<'registration'>,
  account: TokenSubject,
  credentialId: string,
  bearer: string | undefined,
  context: RequestContext,
) {
  if (challenge.kind !== 'add-passkey') return mintSessionToken(deps, account, credentialId, context);
  if (bearer === undefined) throw new AppError('unauthorized', 'Send the token that started adding this passkey');
  const claims = await verifySessionToken(deps, bearer);
  if (claims.jti !== challenge.sessionJti) throw new AppError('unauthorized', 'This token did not start adding this passkey');
  requireRecentAuth(deps, claims);
  return { token: bearer, expiresAt: new Date(claims.exp * 1000).toISOString(), session: undefined };
}

/** The account a registration ends in: the new one of a sign-up, else the existing one (read before the transaction). */
async function accountFor(deps: Deps, challenge: TakenChallenge<'registration'>) {
  if (challenge.kind === 'sign-up') return { id: randomUUID(), email: challenge.email, emailVerified: false, externalId: null };
  const user = await findUserById(deps.db, challenge.userId);
  // Deleted while the ceremony ran: nothing to add the passkey to.
  if (!user) throw new AppError('unknown_challenge', 'Unknown or used challenge: start again', { reason: 'the account was deleted' });
  return { id: user.id, email: user.email, emailVerified: user.email_verified_at !== null, externalId: user.external_id };
}

/** Checked and held in the transaction that adds the passkey: a sign-out or a deletion in between stops it. */
async function holdAccount(trx: Db, deps: Deps, challenge: TakenChallenge<'registration'>, userId: string) {
  if (challenge.kind === 'sign-up') return;
  if (challenge.kind === 'add-passkey') {
    if (!challenge.sessionJti || !(await holdLiveSession(trx, challenge.sessionJti, deps.now().toISOString()))) {
      throw new AppError('unauthorized', 'The session that started adding this passkey has ended: sign in again');
    }
    return;
  }
  await lockUser(trx, userId);
  if (!(await findUserById(trx, userId)))
    throw new AppError('unknown_challenge', 'Unknown or used challenge: start again', { reason: 'the account was deleted' });
}

export async function finishRegistration(
  deps: Deps,
  input: FinishRegistrationInput,
  context: RequestContext = {},
  bearer?: string,
): Promise<FinishedRegistration> {
  const challenge = await takeChallenge(deps, input.challengeId, 'registration', registrationChallengeRejected);
  const account = await accountFor(deps, challenge);
  const userId = account.id;
  const credential = await verifyNewCredential(deps, input.registration, challenge.challenge, userId, input.name);
  const signedIn = await sessionFor(deps, challenge, account, credential.id, bearer, context);

  const hooks = await deps.db
    .transaction()
    .execute(async (trx) => {
      if (challenge.kind === 'sign-up') {
        if (await findUserByEmail(trx, challenge.email)) throw accountExists();
        await insertUser(trx, newAccount(challenge, userId, credential.created_at));
      }
      await holdAccount(trx, deps, challenge, userId);
      if (await findCredentialById(trx, credential.id)) throw passkeyRegisteredAlready();
      await insertCredential(trx, credential);
      if (signedIn.session) await insertSession(trx, signedIn.session);
      const event = { ...auditEnvelope(userId, context, credential.created_at), credential_id: credential.id };
      if (challenge.kind === 'sign-up') await insertAuditEvent(trx, { ...event, type: 'account.created' });
      if (challenge.kind === 'recovery') await insertAuditEvent(trx, { ...event, type: 'account.recovered' });
      await insertAuditEvent(trx, { ...event, type: 'passkey.created', detail: credential.name });
      if (challenge.kind === 'sign-up') await queueVerification(trx, deps, { id: userId, email: account.email });
      else await queuePasskeyAdded(trx, deps, account.email, context, challenge.kind);
      const data = { userId, credentialId: credential.id };
      return queueWebhookEvents(trx, deps, [
        ...(challenge.kind === 'sign-up' ? [{ type: 'user.created' as const, data: { userId } }] : []),
        { type: 'passkey.created', data },
        ...(challenge.kind === 'recovery' ? [{ type: 'account.recovered' as const, data }] : []),
      ]);
    })
    .catch(async (error: unknown) => {
      // Two requests racing on one email or credential id: the loser sees the constraint.
      // Which one it was, the database now says (the winner has committed).
      if (isUniqueViolation(error)) {
        throw challenge.kind === 'sign-up' && !(await findCredentialById(deps.db, credential.id)) ? accountExists(error) : passkeyRegisteredAlready(error);
      }
      throw error;
    });
  deps.outbox.queued('email');
  notifyWebhooks(deps, hooks);

  return { userId, credential: toCredentialJSON(credential), token: signedIn.token, expiresAt: signedIn.expiresAt };
}
