// Everything a request needs, passed explicitly: no module-level singletons.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Db } from './db/schema.js';
import type { SigningKeys } from './tokens/signing-keys.js';

export interface Deps {
  config: Config;
  db: Db;
  keys: SigningKeys;
  /** HMAC key for the stand-in answers given for emails that have no account. */
  enumerationSecret: Uint8Array;
  now: () => Date;
  log: Logger;
}
