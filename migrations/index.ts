// The migrations in order, imported statically so they run the same from
// TypeScript sources and from the compiled build. Never edit a migration that
// has shipped: add a new file and a new line here.
import type { Migration } from 'kysely';
import * as m0001 from './0001_create_users.js';
import * as m0002 from './0002_create_credentials.js';
import * as m0003 from './0003_create_challenges.js';
import * as m0004 from './0004_create_sessions.js';
import * as m0005 from './0005_create_keys.js';
import * as m0006 from './0006_create_audit_events.js';
import * as m0007 from './0007_add_session_credential.js';
import * as m0008 from './0008_session_auth_time.js';
import * as m0009 from './0009_email_ownership.js';
import * as m0010 from './0010_admin.js';
import * as m0011 from './0011_webhooks.js';

export const migrations: Record<string, Migration> = {
  '0001_create_users': m0001,
  '0002_create_credentials': m0002,
  '0003_create_challenges': m0003,
  '0004_create_sessions': m0004,
  '0005_create_keys': m0005,
  '0006_create_audit_events': m0006,
  '0007_add_session_credential': m0007,
  '0008_session_auth_time': m0008,
  '0009_email_ownership': m0009,
  '0010_admin': m0010,
  '0011_webhooks': m0011,
};
