// Session tokens. A session is a row keyed by the token's `jti`; the token is a JWT
// of explicit type `session+jwt` (header `typ`, RFC 8725 §3.11, and `kid`) with iss,
// aud, sub, email, email_verified, external_id (when the site set one), auth_time, iat, exp, jti, so other backends verify it offline
// against the JWKS. Offline verification cannot see revocation: `verifySessionToken`
// (every bearer endpoint and introspection) also requires the session row to exist,
// belong to `sub`, and not be revoked. `auth_time` is when the person last proved a
// passkey in that session: account changes ask for it to be recent (requireRecentAuth).
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { storedIp, type Deps, type RequestContext } from '../deps.js';
import { auditEnvelope, insertAuditEvent } from '../db/audit-events.js';
import { findSession, revokeSession } from '../db/sessions.js';
import type { SessionsTable } from '../db/schema.js';
import { AppError } from '../errors.js';
import { notifyWebhooks, queueWebhookEvents, sessionsRevoked } from '../webhooks/events.js';
import { tokenAlgorithm } from './signing-keys.js';

export interface MintedToken {
  token: string;
  expiresAt: string;
  session: SessionsTable; // to be inserted by the caller, in its transaction
}

/** The `typ` header of every session token: a token of another type never passes as one. */
export const sessionTokenType = 'session+jwt';

export interface SessionClaims {
  sub: string;
  email: string;
  /** Whether the account's email had been proven when the token was minted. */
  email_verified: boolean;
  /** The site's own id for the user (admin API), when it has one. */
  external_id?: string;
  auth_time: number;
  iat: number;
  exp: number;
  jti: string;
  iss: string;
  aud: string;
}

export interface TokenSubject {
  id: string;
  email: string;
  emailVerified: boolean;
  externalId: string | null;
}

/**
 * A new session for a person who has just proved a passkey (`credentialId`): its
 * auth_time is now, unless `authTime` carries an earlier proof over (a session
 * replaced by one that says more, such as email_verified).
 */
export async function mintSessionToken(
  deps: Deps,
  user: TokenSubject,
  credentialId: string | null,
  context: RequestContext = {},
  authTime?: Date,
): Promise<MintedToken> {
  const now = deps.now();
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + deps.config.sessionTtlSeconds;
  const jti = randomUUID();
  const proven = authTime ?? now;
  const claims = { email: user.email, email_verified: user.emailVerified, ...(user.externalId !== null && { external_id: user.externalId }) };
  const token = await new SignJWT({ ...claims, auth_time: Math.floor(proven.getTime() / 1000) })
    .setProtectedHeader({ alg: tokenAlgorithm, kid: deps.keys.kid, typ: sessionTokenType })
    .setIssuer(deps.config.tokenIssuer)
    .setAudience(deps.config.tokenAudience)
    .setSubject(user.id)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(deps.keys.privateKey);
  const expiresAt = new Date(exp * 1000).toISOString();
  return {
    token,
    expiresAt,
    session: {
      jti,
      user_id: user.id,
      credential_id: credentialId,
      created_at: now.toISOString(),
      expires_at: expiresAt,
      revoked_at: null,
      auth_time: proven.toISOString(),
      ip: storedIp(context.ip),
    },
  };
}

export async function verifySessionToken(deps: Deps, token: string): Promise<SessionClaims> {
  const { config } = deps;
  const claims = await jwtVerify(token, deps.keys.keySet, {
    algorithms: [tokenAlgorithm],
    typ: sessionTokenType,
    issuer: config.tokenIssuer,
    audience: config.tokenAudience,
    currentDate: deps.now(),
    requiredClaims: ['sub', 'jti', 'iat', 'exp', 'auth_time'],
  }).then(
    ({ payload }) => payload,
    (error: unknown) => {
      throw new AppError('unauthorized', 'The token is missing, invalid or expired', { cause: error });
    },
  );
  const session = await findSession(deps.db, claims.jti!);
  // The row is the source of truth for revocation (and disappears with its user).
  if (!session || session.user_id !== claims.sub || session.revoked_at !== null) {
    throw new AppError('unauthorized', 'The token is missing, invalid or expired', { reason: 'session revoked or unknown' });
  }
  return claims as unknown as SessionClaims;
}

/**
 * Changing how an account signs in (adding or deleting a passkey) needs a passkey
 * proven in this session at most REAUTH_MAX_AGE_SECONDS ago: a token that leaked
 * (to a site's backend, to a script on the page) is not enough to take the account.
 */
export function requireRecentAuth(deps: Deps, claims: Pick<SessionClaims, 'auth_time'>): void {
  const age = deps.now().getTime() / 1000 - claims.auth_time;
  if (!(age <= deps.config.reauthMaxAgeSeconds)) {
    throw new AppError('reauthentication_required', 'Confirm it is you: sign in again with a passkey, then retry', {
      reason: `auth_time ${Math.round(age)} s ago`,
    });
  }
}

export async function revokeSessionToken(deps: Deps, claims: SessionClaims, context: RequestContext = {}): Promise<void> {
  const now = deps.now().toISOString();
  const hooks = await deps.db.transaction().execute(async (trx) => {
    await revokeSession(trx, claims.jti, now);
    await insertAuditEvent(trx, { ...auditEnvelope(claims.sub, context, now), type: 'session.revoked', detail: claims.jti });
    return queueWebhookEvents(trx, deps, sessionsRevoked(claims.sub, [claims.jti]));
  });
  notifyWebhooks(deps, hooks);
}

export type Introspection = ({ active: true } & SessionClaims) | { active: false };

export async function introspectToken(deps: Deps, token: string): Promise<Introspection> {
  try {
    const claims = await verifySessionToken(deps, token);
    const { sub, email, auth_time, exp, iat, jti, iss, aud } = claims;
    // A token minted before the claim existed vouches for nothing.
    const externalId = claims.external_id === undefined ? {} : { external_id: claims.external_id };
    return { active: true, sub, email, email_verified: claims.email_verified === true, ...externalId, auth_time, exp, iat, jti, iss, aud };
  } catch (error) {
    if (error instanceof AppError && error.code === 'unauthorized') return { active: false };
    throw error;
  }
}
