// Session tokens. A session is a row keyed by the token's `jti`; the token is an
// ES256 JWT (header `kid`) with iss, aud, sub, email, iat, exp, jti, so other
// backends can verify it offline against the JWKS. Offline verification cannot
// see revocation: `verifySessionToken` (used by /v1/me and introspection) also
// requires the session row to exist, belong to `sub`, and not be revoked.
// Verification pins the algorithm, issuer and audience; time comes from deps.now.
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Deps, RequestContext } from '../deps.js';
import { insertAuditEvent } from '../db/audit-events.js';
import { findSession, revokeSession } from '../db/sessions.js';
import type { SessionsTable } from '../db/schema.js';
import { AppError } from '../errors.js';
import { tokenAlgorithm } from './signing-keys.js';

export interface MintedToken {
  token: string;
  expiresAt: string;
  session: SessionsTable; // to be inserted by the caller, in its transaction
}

export interface SessionClaims {
  sub: string;
  email: string;
  iat: number;
  exp: number;
  jti: string;
  iss: string;
  aud: string;
}

export async function mintSessionToken(deps: Deps, user: { id: string; email: string }, credentialId: string): Promise<MintedToken> {
  const now = deps.now();
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + deps.config.sessionTtlSeconds;
  const jti = randomUUID();
  const token = await new SignJWT({ email: user.email })
    .setProtectedHeader({ alg: tokenAlgorithm, kid: deps.keys.kid, typ: 'JWT' })
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
    session: { jti, user_id: user.id, credential_id: credentialId, created_at: now.toISOString(), expires_at: expiresAt, revoked_at: null },
  };
}

export async function verifySessionToken(deps: Deps, token: string): Promise<SessionClaims> {
  const { config } = deps;
  const claims = await jwtVerify(token, deps.keys.keySet, {
    algorithms: [tokenAlgorithm],
    issuer: config.tokenIssuer,
    audience: config.tokenAudience,
    currentDate: deps.now(),
    requiredClaims: ['sub', 'jti', 'iat', 'exp'],
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

export async function revokeSessionToken(deps: Deps, claims: SessionClaims, context: RequestContext = {}): Promise<void> {
  const now = deps.now().toISOString();
  await deps.db.transaction().execute(async (trx) => {
    await revokeSession(trx, claims.jti, now);
    await insertAuditEvent(trx, { user_id: claims.sub, type: 'session.revoked', detail: claims.jti, ip: context.ip ?? null, created_at: now });
  });
}

export type Introspection = ({ active: true } & SessionClaims) | { active: false };

export async function introspectToken(deps: Deps, token: string): Promise<Introspection> {
  try {
    const claims = await verifySessionToken(deps, token);
    const { sub, email, exp, iat, jti, iss, aud } = claims;
    return { active: true, sub, email, exp, iat, jti, iss, aud };
  } catch (error) {
    if (error instanceof AppError && error.code === 'unauthorized') return { active: false };
    throw error;
  }
}
