// Bearer tokens for the signed-in user's endpoints, and API keys for backends.
// API keys are compared in constant time: both sides are hashed to 32 bytes and
// every configured key is compared, so neither the key nor its length leaks.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { verifySessionToken, type SessionClaims } from '../tokens/session-tokens.js';

export function bearerToken(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (!match) throw new AppError('unauthorized', 'Expected "Authorization: Bearer <token>"');
  return match[1];
}

export async function requireSession(deps: Deps, req: Request): Promise<SessionClaims> {
  const token = bearerToken(req);
  if (!token) throw new AppError('unauthorized', 'Sign in first: this needs "Authorization: Bearer <token>"');
  return verifySessionToken(deps, token);
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** A key's name in audit events and logs: a prefix of its SHA-256, never the key. */
export const keyFingerprint = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 12);

/**
 * Checks a header against the configured keys (`prefix` is stripped first, e.g.
 * "Bearer "); returns the fingerprint of the key that matched.
 */
export function apiKeyChecker(apiKeys: string[], header = 'x-api-key', prefix = '') {
  const digests = apiKeys.map(sha256);
  const fingerprints = apiKeys.map(keyFingerprint);
  return (req: Request): string => {
    const value = req.get(header) ?? '';
    const presented = sha256(value.startsWith(prefix) ? value.slice(prefix.length) : '');
    let matched = -1;
    digests.forEach((digest, i) => {
      if (timingSafeEqual(presented, digest)) matched = i;
    });
    if (matched < 0) throw new AppError('unauthorized', `A valid ${header} header is required`);
    return fingerprints[matched]!;
  };
}
