// Row types, as stored. Portable between SQLite and PostgreSQL: text ids, hex
// strings, ISO-8601 UTC times as text, booleans as 0/1 integers, a bigint counter.
import type { Kysely } from 'kysely';

export interface UsersTable {
  id: string;
  email: string; // normalised: trimmed, lower-case
  display_name: string;
  user_handle: string; // base64url WebAuthn user.id: random, never the email
  created_at: string;
  email_verified_at: string | null; // when a code sent to the email came back (or a backend vouched); null: never proven
  external_id: string | null; // the site's own id for this user (admin API), unique
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
  via: 'recovery' | 'ticket' | null; // a registration for an existing account granted by a proof or a ticket, not a session
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
  | 'session.revoked'
  | 'email.verified'
  | 'account.recovered' // a passkey added by email recovery
  | 'account.reclaimed' // recovery of an unproven email removed every passkey and session first
  | 'user.created' // by the admin API
  | 'user.updated'
  | 'user.deleted' // the one event kept of a deleted user
  | 'sessions.revoked' // every session of the user, by the admin API
  | 'enrollment.created';

/** A single-use ticket with which a browser adds a passkey to a user without signing in. */
export interface EnrollmentTicketsTable {
  ticket_hash: string; // SHA-256 of the ticket (256 random bits): the ticket itself is never stored
  user_id: string;
  created_by: string; // the admin key's fingerprint
  expires_at: string;
  created_at: string;
}

export type EmailCodePurpose = 'verify' | 'recover';

/** A one-time code sent by email; only its keyed hash is kept. */
export interface EmailCodesTable {
  id: string; // the recoveryId for a recovery; random either way
  purpose: EmailCodePurpose;
  user_id: string | null; // null: a recovery asked for an email without an account
  email_key: string; // HMAC of the email under the server secret: a new code for it kills the old
  code_hash: string; // HMAC of the id and the code under the server secret
  attempts: number; // tries spent, the right one included; dead at 5
  expires_at: string;
  created_at: string;
}

export type OutboxStatus = 'pending' | 'sent' | 'failed';

/** Something a committed change promised to deliver (an email), until it is delivered. */
export interface OutboxTable {
  id: string; // UUIDv7: older first
  topic: string; // which handler delivers it: 'email', 'webhook'
  key: string | null; // rows of one key go one at a time (a webhook endpoint's id); null: no such bound
  payload: string; // JSON for the handler; an email's is emptied once settled (it may hold a code)
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: string;
  lease_id: string | null; // the claim of the worker delivering it now
  lease_until: string | null; // after this, another worker may claim it
  last_error: string | null;
  created_at: string;
  done_at: string | null;
}

export interface AuditEventsTable {
  id: string;
  user_id: string;
  type: AuditEventType;
  credential_id: string | null;
  detail: string | null;
  ip: string | null;
  actor: string | null; // who acted when it was not the account holder: 'admin:<key fingerprint>'
  created_at: string;
}

/** A receiver of webhooks, registered through the admin API. */
export interface WebhookEndpointsTable {
  id: string;
  url: string;
  events: string; // JSON array of event types; empty: every type
  secret: string; // whsec_…: it must sign, so it is stored as it is
  previous_secret: string | null; // the secret a rotation replaced: it signs too until previous_secret_until
  previous_secret_until: string | null;
  created_by: string; // the admin key's fingerprint
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
  email_codes: EmailCodesTable;
  outbox: OutboxTable;
  enrollment_tickets: EnrollmentTicketsTable;
  webhook_endpoints: WebhookEndpointsTable;
}

export type Db = Kysely<Database>;
