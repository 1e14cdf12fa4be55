// Everything a request needs, passed explicitly: no module-level singletons.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { SharedCounters } from './redis.js';
import type { Db } from './db/schema.js';
import type { SigningKeys } from './tokens/signing-keys.js';

/** Who is asking, as far as the audit trail cares. */
export interface RequestContext {
  ip?: string | undefined;
}

export interface Deps {
  config: Config;
  db: Db;
  keys: SigningKeys;
  /** A server secret for keyed hashes (HMAC) of emails; never leaves the database. */
  enumerationSecret: Uint8Array;
  now: () => Date;
  log: Logger;
  /** Shared rate-limit counters, when REDIS_URL is set. */
  redis?: SharedCounters | undefined;
}
