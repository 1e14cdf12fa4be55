// Email ownership: the service vouches for an email (email_verified) only once a code
// sent to it came back, and a person who lost every passkey gets back in through it.
// Invariants (docs/security-model.md):
// - Every email a request promises is queued in the outbox in that request's
//   transaction (sign-up, a new code, recovery, a passkey added), and sent after it commits.
// - Recovery starts the same way for every email: one code row (user_id null without an
//   account) and one email queued (a code to an account's address; to any other, a note
//   that there is no account and no code), so neither the answer nor the rows tell them apart.
// - A recovery code works only with the recoveryId its request returned (the code's hash
//   is keyed by that id), and proving it verifies the email.
// - Pre-hijack eviction: when recovery proves an email that was never proven before, every
//   passkey and session of the account is removed in the same transaction: someone who
//   never proved the email made them.
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { Deps, RequestContext } from '../deps.js';
import { auditEnvelope, insertAuditEvent } from '../db/audit-events.js';
import { insertChallenge } from '../db/challenges.js';
import { insertOutboxMessage } from '../db/outbox.js';
import type { Db, UsersTable } from '../db/schema.js';
import { findSession, insertSession, revokeSession } from '../db/sessions.js';
import { findUserByEmail, findUserById, lockUser, requireUser } from '../db/users.js';
import { AppError } from '../errors.js';
import { newChallenge } from '../ceremonies/challenges.js';
import { creationOptions, type StartedCeremony } from '../ceremonies/registration.js';
import { mintSessionToken, type SessionClaims } from '../tokens/session-tokens.js';
import { notifyWebhooks, queueWebhookEvents, sessionsRevoked } from '../webhooks/events.js';
import { checkCode, consumeCode, invalidCode, issueCode } from './codes.js';
import type { Email } from './mailer.js';
import { noAccountEmail, passkeyAddedEmail, recoveryEmail, verificationEmail, type PasskeyAddedHow } from './messages.js';

type EmailDeps = Pick<Deps, 'config' | 'serverSecret' | 'now'>;

/** Queues an email in the caller's transaction; tell deps.outbox once it commits. */
export async function queueEmail(trx: Db, deps: Pick<Deps, 'now'>, email: Email): Promise<void> {
  await insertOutboxMessage(trx, 'email', email, deps.now().toISOString());
}

/** A new verification code for the account's email, queued in the caller's transaction (sign-up, a new code). */
export async function queueVerification(trx: Db, deps: EmailDeps, user: Pick<UsersTable, 'id' | 'email'>): Promise<void> {
  const { code } = await issueCode(trx, deps, { purpose: 'verify', userId: user.id, email: user.email });
  await queueEmail(trx, deps, verificationEmail(user.email, deps.config.rpName, code, deps.config.email.codeTtlSeconds));
}

/** Tells the account's email that a passkey was added, in the caller's transaction. */
export async function queuePasskeyAdded(trx: Db, deps: EmailDeps, email: string, context: RequestContext, how: PasskeyAddedHow): Promise<void> {
  await queueEmail(trx, deps, passkeyAddedEmail(email, deps.config.rpName, { at: deps.now(), ip: context.ip ?? null, how }));
}

const alreadyVerified = () => new AppError('already_verified', 'This email address is verified already');

/** POST /v1/email-verification: a new code (the previous one dies). */
export async function resendVerification(deps: Deps, session: SessionClaims, spendBudget: (email: string) => Promise<void>): Promise<void> {
  const user = await requireUser(deps.db, session.sub);
  if (user.email_verified_at) throw alreadyVerified();
  await spendBudget(user.email);
  await deps.db.transaction().execute((trx) => queueVerification(trx, deps, user));
  deps.outbox.queued('email');
}

/**
 * PUT /v1/email-verification: the code proves the email. The caller's session is
 * replaced by one whose token says email_verified: true (same passkey proof, same auth_time).
 */
export async function verifyEmail(deps: Deps, session: SessionClaims, code: string, context: RequestContext) {
  const user = await requireUser(deps.db, session.sub);
  // Once proven, there is nothing left to prove: any code is invalid_code (a used one, most likely).
  if (user.email_verified_at) throw invalidCode('the email is verified already');
  const row = await checkCode(deps, { userId: user.id }, 'verify', code);
  const old = (await findSession(deps.db, session.jti)) ?? { credential_id: null };
  const minted = await mintSessionToken(
    deps,
    { id: user.id, email: user.email, emailVerified: true, externalId: user.external_id },
    old.credential_id,
    context,
    new Date(session.auth_time * 1000),
  );
  const now = deps.now().toISOString();
  const hooks = await deps.db.transaction().execute(async (trx) => {
    await consumeCode(trx, row.id);
    await trx.updateTable('users').set({ email_verified_at: now }).where('id', '=', user.id).execute();
    await insertSession(trx, minted.session);
    await revokeSession(trx, session.jti, now);
    const event = auditEnvelope(user.id, context, now);
    await insertAuditEvent(trx, { ...event, type: 'email.verified' });
    await insertAuditEvent(trx, { ...event, type: 'session.revoked', detail: session.jti });
    return queueWebhookEvents(trx, deps, [{ type: 'user.email_verified', data: { userId: user.id } }, ...sessionsRevoked(user.id, [session.jti])]);
  });
  notifyWebhooks(deps, hooks);
  return { userId: user.id, token: minted.token, expiresAt: minted.expiresAt };
}

const recoveryDisabled = () => new AppError('recovery_disabled', 'Email recovery is turned off on this service');

/** POST /v1/recovery: the same work, rows and answer for every email. */
export async function startRecovery(deps: Deps, email: string, spendBudget: (email: string) => Promise<void>): Promise<{ recoveryId: string }> {
  if (!deps.config.email.recovery) throw recoveryDisabled();
  await spendBudget(email);
  const user = await findUserByEmail(deps.db, email);
  const { rpName, email: settings } = deps.config;
  const recoveryId = await deps.db.transaction().execute(async (trx) => {
    const { id, code } = await issueCode(trx, deps, { purpose: 'recover', userId: user?.id ?? null, email });
    await queueEmail(trx, deps, user ? recoveryEmail(email, rpName, code, settings.codeTtlSeconds) : noAccountEmail(email, rpName));
    return id;
  });
  deps.outbox.queued('email');
  return { recoveryId };
}

/**
 * PUT /v1/recovery: the code proves the email; answers a registration challenge for the
 * account, finished by PUT /v1/challenges like any other. See the eviction rule above.
 */
export async function proveRecovery(
  deps: Deps,
  input: { recoveryId: string; code: string },
  context: RequestContext,
): Promise<StartedCeremony<PublicKeyCredentialCreationOptionsJSON>> {
  if (!deps.config.email.recovery) throw recoveryDisabled();
  const row = await checkCode(deps, { id: input.recoveryId }, 'recover', input.code);
  // A code for an email without an account is never sent, so it cannot be right; kept for shape.
  if (!row.user_id) throw invalidCode('recovery of an email without an account');
  const userId = row.user_id;
  const now = deps.now().toISOString();
  const { started, hooks } = await deps.db.transaction().execute(async (trx) => {
    await consumeCode(trx, row.id);
    await lockUser(trx, userId);
    const user = await findUserById(trx, userId);
    if (!user) throw invalidCode('the account was deleted');
    const event = auditEnvelope(userId, context, now);
    let hooks = 0;
    if (!user.email_verified_at) {
      const passkeys = await trx.deleteFrom('credentials').where('user_id', '=', userId).returning('id').execute();
      const sessions = await trx.deleteFrom('sessions').where('user_id', '=', userId).returning(['jti', 'revoked_at', 'expires_at']).execute();
      await trx.deleteFrom('challenges').where('user_id', '=', userId).execute();
      await insertAuditEvent(trx, {
        ...event,
        type: 'account.reclaimed',
        detail: `removed ${passkeys.length} passkeys and ${sessions.length} sessions made before the email was proven`,
      });
      await trx.updateTable('users').set({ email_verified_at: now }).where('id', '=', userId).execute();
      await insertAuditEvent(trx, { ...event, type: 'email.verified' });
      const live = sessions.filter((session) => session.revoked_at === null && session.expires_at > now).map((session) => session.jti);
      hooks = await queueWebhookEvents(trx, deps, [
        ...passkeys.map((passkey) => ({ type: 'passkey.deleted' as const, data: { userId, credentialId: passkey.id } })),
        ...sessionsRevoked(userId, live),
        { type: 'user.email_verified', data: { userId } },
      ]);
    }
    // The email is proven now: a pending verification code has nothing left to prove.
    await trx.deleteFrom('email_codes').where('user_id', '=', userId).execute();
    const existing = await trx.selectFrom('credentials').select(['id', 'transports']).where('user_id', '=', userId).execute();
    const options = await creationOptions(deps, { email: user.email, displayName: user.display_name, userHandle: user.user_handle }, existing);
    const challenge = newChallenge(deps, { kind: 'registration', challenge: options.challenge, user_id: userId, via: 'recovery' });
    await insertChallenge(trx, challenge);
    return { started: { challengeId: challenge.id, options }, hooks };
  });
  notifyWebhooks(deps, hooks);
  return started;
}
