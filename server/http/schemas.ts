// Request bodies, as the contract (../shared/API.md) defines them. Unknown fields
// are ignored; anything of the wrong shape is 400 invalid_request. These schemas
// also feed the OpenAPI document, so the reference and the checks cannot drift.
import { z } from 'zod';

// Text we store: well-formed Unicode without NUL (PostgreSQL refuses both).
const text = () => z.string().refine((value) => value.isWellFormed() && !value.includes('\0'), 'must be valid text');

const base64url = z.string().max(16_384).regex(/^[A-Za-z0-9_-]*={0,2}$/, 'expected base64url');
const email = text()
  .trim()
  .max(254)
  .pipe(z.email())
  .transform((value) => value.toLowerCase());
const label = (max: number) => text().trim().min(1).max(max);
const transports = z.array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])).max(8);
const extensionResults = z.record(z.string(), z.unknown());

// Challenge ids are UUIDs; anything else can only be unknown.
const challengeId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'expected a challenge id');

export const StartRegistration = z.object({
  email: email.optional(),
  displayName: label(64).optional(),
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
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
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
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: extensionResults,
});

export const FinishSignIn = z.object({
  challengeId,
  authentication: AuthenticationResponse,
});

export const RenameCredential = z.object({ name: label(64) });

export const Introspect = z.object({ token: z.string().min(1).max(8192) });

export const CredentialId = z.string().regex(/^[0-9a-f]{2,2046}$/, 'expected a hex credential id');
