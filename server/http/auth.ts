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

/** Checks a header against the configured keys (`prefix` is stripped first, e.g. "Bearer "). */
export function apiKeyChecker(apiKeys: string[], header = 'x-api-key', prefix = '') {
  const digests = apiKeys.map(sha256);
  return (req: Request): void => {
    const value = req.get(header) ?? '';
    const presented = sha256(value.startsWith(prefix) ? value.slice(prefix.length) : '');
    let valid = false;
    for (const digest of digests) valid = timingSafeEqual(presented, digest) || valid;
    if (!valid) throw new AppError('unauthorized', `A valid ${header} header is required`);
  };
}
