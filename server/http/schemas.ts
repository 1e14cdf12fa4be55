// Request bodies, as the contract (docs/api.md) defines them. Unknown fields
// are ignored; anything of the wrong shape is 400 invalid_request. These schemas
// also feed the OpenAPI document, so the reference and the checks cannot drift.
import type { AuthenticatorAttachment } from '@simplewebauthn/server';
import { z } from 'zod';
import { registeredTransports } from '../ceremonies/transports.js';
import type { EventPosition } from '../db/audit-events.js';
import { webhookEventTypes } from '../webhooks/events.js';
import { prepareNickname } from './nickname.js';

// Text we store: well-formed Unicode without NUL (PostgreSQL refuses both).
const text = () => z.string().refine((value) => value.isWellFormed() && !value.includes('\0'), 'must be valid text');

const base64url = z
  .string()
  .max(16_384)
  .regex(/^[A-Za-z0-9_-]*={0,2}$/, 'expected base64url');
// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets; no mailbox has a longer one.
const email = text()
  .trim()
  .max(254)
  .pipe(z.email())
  .refine((value) => Buffer.byteLength(value.slice(0, value.lastIndexOf('@')), 'utf8') <= 64, 'the part before @ must be at most 64 bytes')
  .transform((value) => value.toLowerCase());
// Names people read: the PRECIS Nickname profile (nickname.ts), then 1 to `max` characters.
const label = (max: number) =>
  text()
    .transform((value, ctx) => {
      const prepared = prepareNickname(value);
      if ('name' in prepared) return prepared.name;
      ctx.addIssue({ code: 'custom', message: prepared.problem });
      return z.NEVER;
    })
    .pipe(z.string().min(1).max(max));
// Unknown transports are dropped without failing the ceremony (transports.ts).
const transports = z.array(z.string()).max(16).transform(registeredTransports);
// The same for authenticatorAttachment: a value newer than these types passes through.
const attachment = z
  .string()
  .max(32)
  .transform((value) => value as AuthenticatorAttachment);
const extensionResults = z.record(z.string(), z.unknown());

// Challenge ids are UUIDs; anything else can only be unknown.
const challengeId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'expected a challenge id');

export const StartRegistration = z.object({
  email: email.optional(),
  displayName: label(64).optional(),
  // An enrolment ticket from the admin API: a registration for its user, without signing in.
  ticket: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/, 'expected an enrolment ticket')
    .optional(),
});

export const RegistrationResponse = z.object({
  id: base64url.min(1),
  rawId: base64url.min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: base64url,
    attestationObject: base64url,
    authenticatorData: base64url.optional(),
    transports: transports.optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: base64url.optional(),
  }),
  authenticatorAttachment: attachment.optional(),
  clientExtensionResults: extensionResults,
});

export const FinishRegistration = z.object({
  challengeId,
  registration: RegistrationResponse,
  name: label(64).optional(),
});

export const StartSignIn = z.object({ email: email.optional() });

export const AuthenticationResponse = z.object({
  id: base64url.min(1),
  rawId: base64url.min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: base64url,
    authenticatorData: base64url,
    signature: base64url,
    userHandle: base64url.optional(),
  }),
  authenticatorAttachment: attachment.optional(),
  clientExtensionResults: extensionResults,
});

export const FinishSignIn = z.object({
  challengeId,
  authentication: AuthenticationResponse,
});

export const RenameCredential = z.object({ name: label(64) });

export const Introspect = z.object({ token: z.string().min(1).max(8192) });

// A code as people type it: spaces and dashes between the digits are ignored.
const code = z
  .string()
  .max(32)
  .transform((value) => value.replace(/[\s-]/g, ''))
  .pipe(z.string().regex(/^\d{6}$/, 'expected the 6-digit code from the email'));

export const ProveEmail = z.object({ code });

export const StartRecovery = z.object({ email });

export const ProveRecovery = z.object({ recoveryId: z.uuid({ error: 'expected a recovery id' }), code });

export const CredentialId = z.string().regex(/^[0-9a-f]{2,2046}$/, 'expected a hex credential id');

export const SessionId = z.uuid({ error: 'expected a session id' });

/** Where a page of audit events ends, opaque to clients: the last event's position. */
/** A page's `next`: where the following page starts (time, then id, newest first). */
export const encodeEventCursor = (position: EventPosition) => Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');

export const EventCursor = z
  .string()
  .max(200)
  .transform((cursor, ctx): EventPosition => {
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    } catch {
      decoded = undefined;
    }
    const position = z.tuple([z.iso.datetime(), z.uuid()]).safeParse(decoded);
    if (!position.success) {
      ctx.addIssue({ code: 'custom', message: 'expected the `next` cursor of an earlier page' });
      return z.NEVER;
    }
    return { at: position.data[0], id: position.data[1] };
  });

export const ListEvents = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  before: EventCursor.optional(),
});

// The site's own id for a user: printable, without spaces at either end.
const externalId = text()
  .min(1)
  .max(255)
  .refine((value) => value.trim() === value && !/[\p{Cc}]/u.test(value), 'no control characters, no spaces at either end');

export const CreateUser = z.object({
  email,
  displayName: label(64).optional(),
  externalId: externalId.optional(),
  emailVerified: z.boolean().optional(),
});

export const UpdateUser = z.object({
  displayName: label(64).optional(),
  externalId: externalId.nullable().optional(),
  emailVerified: z.boolean().optional(),
});

export const ListUsers = z.object({
  email: email.optional(),
  externalId: externalId.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: EventCursor.optional(),
});

export const UserId = z.uuid({ error: 'expected a user id' });

// 60 seconds to 7 days; 15 minutes unless asked.
export const CreateEnrollment = z.object({
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(900),
});

// Tickets are 43 base64url characters (256 random bits); accepted up to 128, anything else is not one.
export const Ticket = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'expected an enrolment ticket');

export const ListAdminEvents = ListEvents.extend({
  userId: z.uuid().optional(),
  // Text, as everything compared with a column: PostgreSQL refuses a NUL in a parameter (a 500).
  type: text().max(64).optional(),
});

export const CreateWebhook = z.object({
  url: z.string().max(2048),
  events: z.array(z.enum(webhookEventTypes)).max(webhookEventTypes.length).optional(),
});

export const WebhookId = z.uuid({ error: 'expected a webhook id' });

export const DeliveryId = z.uuid({ error: 'expected a delivery id' });

export const ListDeliveries = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) });
