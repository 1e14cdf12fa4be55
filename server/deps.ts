// Everything a request needs, passed explicitly: no module-level singletons.
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { AssertionVerifier } from './ceremonies/assertion.js';
import type { Config } from './config.js';
import type { OutboxSignal } from './outbox.js';
import type { WebhookSubscriptions } from './webhooks/events.js';
import type { SharedCounters } from './redis.js';
import type { Db } from './db/schema.js';
import type { SigningKeys } from './tokens/signing-keys.js';

/** Who is asking, as far as the audit trail cares. */
export interface RequestContext {
  ip?: string | undefined;
}

/** The client's address as stored: an IP address or nothing, never other text. */
export const storedIp = (ip: string | undefined): string | null => (ip && isIP(ip) ? ip : null);

export interface Deps {
  config: Config;
  db: Db;
  keys: SigningKeys;
  /** Keys the HMACs that must not be reversible to an email (see secrets.ts). */
  serverSecret: Uint8Array;
  /** Verifies sign-in assertions, with its own key cache. */
  assertionVerifier: AssertionVerifier;
  now: () => Date;
  log: Logger;
  /** Told after a transaction that queued a delivery commits, so a worker sends it at once. */
  outbox: OutboxSignal;
  /** Which webhook endpoints want which event types, kept in memory. */
  webhooks: WebhookSubscriptions;
  /** Shared rate-limit counters, when REDIS_URL is set. */
  redis?: SharedCounters | undefined;
}
