// Row types, as stored. Portable between SQLite and PostgreSQL: text ids, hex
// strings, ISO-8601 UTC times as text, booleans as 0/1 integers, a bigint counter.
import type { Kysely } from 'kysely';

export interface UsersTable {
  id: string;
  email: string; // normalised: trimmed, lower-case
  display_name: string;
  user_handle: string; // base64url WebAuthn user.id: random, never the email
  created_at: string;
}

export interface CredentialsTable {
  id: string; // hex credential id, unique across all users
  user_id: string;
  public_key: string; // hex COSE public key
  counter: number;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: number;
  transports: string; // JSON array of AuthenticatorTransport
  aaguid: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export type ChallengeKind = 'registration' | 'authentication';

export interface ChallengesTable {
  id: string;
  kind: ChallengeKind;
  challenge: string; // base64url, what the authenticator signs
  user_id: string | null; // the account, when known (adding a passkey, sign-in by email)
  email: string | null; // sign-up only: the account to create
  display_name: string | null;
  user_handle: string | null; // sign-up only: the new account's user handle
  session_jti: string | null; // adding a passkey: the session that started it
  expires_at: string;
  created_at: string;
}

export interface SessionsTable {
  jti: string;
  user_id: string;
  credential_id: string | null; // the passkey that opened it
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  auth_time: string; // when the person last proved a passkey in this session
  ip: string | null; // where it was opened from
}

export interface SigningKeysTable {
  kid: string;
  generation: number; // unique: concurrent first starts race on generation 1 and one wins
  algorithm: string;
  private_jwk: string;
  public_jwk: string;
  created_at: string;
}

export interface ServerSecretsTable {
  name: string;
  value: string;
  created_at: string;
}

export type AuditEventType =
  | 'account.created'
  | 'passkey.created'
  | 'passkey.used'
  | 'passkey.renamed'
  | 'passkey.deleted'
  | 'sign_in.failed'
  | 'counter.regressed' // a possible cloned authenticator
  | 'session.revoked';

export interface AuditEventsTable {
  id: string;
  user_id: string;
  type: AuditEventType;
  credential_id: string | null;
  detail: string | null;
  ip: string | null;
  created_at: string;
}

export interface Database {
  users: UsersTable;
  credentials: CredentialsTable;
  challenges: ChallengesTable;
  sessions: SessionsTable;
  signing_keys: SigningKeysTable;
  server_secrets: ServerSecretsTable;
  audit_events: AuditEventsTable;
}

export type Db = Kysely<Database>;
