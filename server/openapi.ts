// The API reference as an OpenAPI 3.1 document, served at GET /openapi.json.
// Request bodies come from the same zod schemas that validate requests; a test
// checks every documented operation against the running app and the responses
// against the documented schemas, so this file cannot quietly drift.
import { z } from 'zod';
import type { Config } from './config.js';
import * as body from './http/schemas.js';
import { demoFiles } from './routes/web.js';

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const content = (schema: object, type = 'application/json') => ({ content: { [type]: { schema } } });
const ok = (description: string, schema: object) => ({ description, ...content(schema) });
const problem = (description: string) => ({ description, ...content(ref('Problem'), 'application/problem+json') });
const requestBody = (schema: z.ZodType) => ({ required: true, ...content(json(schema)) });
const bearer = [{ bearer: [] }];
const admin = [{ adminKey: [] }];
const userIdParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const webhookIdParameter = userIdParameter;
// A file for browsers: revalidated with its ETag (304 when unchanged).
const page = (summary: string, type: string) => ({
  summary,
  responses: {
    200: { description: summary, content: { [type]: { schema: { type: 'string' } } } },
    304: { description: 'Not modified (If-None-Match matched the ETag)' },
  },
});

const started = (options: string) => ({
  type: 'object',
  required: ['challengeId', 'options'],
  properties: { challengeId: { type: 'string' }, options: ref(options) },
});
const signedIn = {
  type: 'object',
  required: ['userId', 'token', 'expiresAt'],
  properties: { userId: { type: 'string' }, token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
};

const schemas = {
  Problem: {
    type: 'object',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string', description: 'Stable snake_case machine code' },
    },
  },
  Credential: {
    type: 'object',
    required: ['id', 'name', 'createdAt', 'lastUsedAt', 'deviceType', 'backedUp', 'transports', 'aaguid'],
    properties: {
      id: { type: 'string', pattern: '^[0-9a-f]+$', description: 'Credential id, hex' },
      name: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
      deviceType: { enum: ['singleDevice', 'multiDevice'] },
      backedUp: { type: 'boolean' },
      transports: { type: 'array', items: { type: 'string' } },
      aaguid: { type: 'string' },
    },
  },
  Session: {
    type: 'object',
    required: ['id', 'createdAt', 'expiresAt', 'authTime', 'credentialId', 'ip', 'current'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      createdAt: { type: 'string', format: 'date-time' },
      expiresAt: { type: 'string', format: 'date-time' },
      authTime: { type: 'string', format: 'date-time', description: 'when a passkey was last proven in this session' },
      credentialId: { type: ['string', 'null'], description: 'the passkey that opened it, hex' },
      ip: { type: ['string', 'null'] },
      current: { type: 'boolean', description: 'whether this is the session of the token that asked' },
    },
  },
  User: {
    type: 'object',
    required: ['id', 'email', 'emailVerified', 'displayName', 'externalId', 'createdAt', 'credentialCount'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      email: { type: 'string' },
      emailVerified: { type: 'boolean' },
      displayName: { type: 'string' },
      externalId: { type: ['string', 'null'], description: "the site's own id for the user; tokens carry it as external_id" },
      createdAt: { type: 'string', format: 'date-time' },
      credentialCount: { type: 'integer' },
    },
  },
  CreationOptions: {
    type: 'object',
    description: 'PublicKeyCredentialCreationOptionsJSON, as @simplewebauthn/browser startRegistration({ optionsJSON }) takes it',
    required: ['rp', 'user', 'challenge', 'pubKeyCredParams'],
  },
  RequestOptions: {
    type: 'object',
    description: 'PublicKeyCredentialRequestOptionsJSON, as @simplewebauthn/browser startAuthentication({ optionsJSON }) takes it',
    required: ['challenge'],
  },
};

// Every /v1 operation may also answer these; and one with a body, those of body parsing.
const common = {
  408: problem('request_timeout: the request did not arrive within HEADERS_TIMEOUT_SECONDS / REQUEST_TIMEOUT_SECONDS'),
  429: problem('rate_limited, with Retry-After'),
  431: problem('headers_too_large: the request headers are over the limit'),
  503: problem('service_unavailable: the database is unreachable'),
};
const withBody = {
  413: problem('payload_too_large: the body is over 64 kB'),
  415: problem('unsupported_media_type: the body is not application/json'),
};

function withCommonResponses<T extends Record<string, Record<string, unknown>>>(paths: T): T {
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const operation of Object.values(item)) {
      const { responses, requestBody } = operation as { responses?: Record<string, unknown>; requestBody?: unknown };
      if (responses) Object.assign(responses, common, requestBody ? withBody : {});
    }
  }
  return paths;
}

export function openApiDocument(config: Pick<Config, 'rpName' | 'publicUrl'>) {
  return {
    openapi: '3.1.0',
    info: {
      title: `${config.rpName} API`,
      version: '1',
      description: 'Passkey (WebAuthn) sign-up and sign-in, and session tokens other backends can verify.',
    },
    servers: [{ url: config.publicUrl }],
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'a key of API_KEYS or ADMIN_API_KEYS' },
        adminKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'a key of ADMIN_API_KEYS' },
      },
    },
    paths: withCommonResponses({
      '/v1/challenges': {
        post: {
          summary:
            'Start registration: sign up by email, add a passkey to the signed-in account (bearer token whose passkey proof is at most REAUTH_MAX_AGE_SECONDS old), or enrol with a ticket from the admin API ({ ticket }, no sign-in)',
          security: [{}, ...bearer],
          requestBody: requestBody(body.StartRegistration),
          responses: {
            200: ok('Creation options', started('CreationOptions')),
            400: problem('invalid_request, or invalid_ticket (a used, expired or unknown enrolment ticket)'),
            401: problem('unauthorized (a bearer token was sent and is not valid)'),
            403: problem('reauthentication_required: sign in again, then retry with the new token'),
            409: problem('account_exists'),
          },
        },
        put: {
          summary:
            'Finish registration; a sign-up, a recovery or an enrolment signs the person in. Adding a passkey needs the bearer token that started it, still live and recent, and answers with that same token (no new session)',
          security: [{}, ...bearer],
          requestBody: requestBody(body.FinishRegistration),
          responses: {
            201: ok('The passkey is stored', {
              ...signedIn,
              required: [...signedIn.required, 'credential'],
              properties: { ...signedIn.properties, credential: ref('Credential') },
            }),
            400: problem('registration_failed (also for a passkey registered already), unknown_challenge or invalid_request'),
            401: problem('unauthorized: adding a passkey without the token that started it, or after its session ended'),
            403: problem('reauthentication_required'),
            409: problem('account_exists'),
            410: problem('challenge_expired'),
          },
        },
      },
      '/v1/tokens': {
        post: {
          summary: 'Start sign-in, by email or usernameless (no email)',
          requestBody: requestBody(body.StartSignIn),
          responses: { 200: ok('Request options', started('RequestOptions')), 400: problem('invalid_request') },
        },
        put: {
          summary: 'Finish sign-in and get a session token',
          requestBody: requestBody(body.FinishSignIn),
          responses: {
            200: ok('Signed in', signedIn),
            400: problem('invalid_request'),
            401: problem('authentication_failed, for every verification failure'),
          },
        },
      },
      '/v1/email-verification': {
        post: {
          summary: "Send a new code to the signed-in account's email (the previous code dies)",
          security: bearer,
          responses: {
            202: ok('A code is on its way', { type: 'object' }),
            401: problem('unauthorized'),
            409: problem('already_verified'),
            429: problem('rate_limited: RATE_LIMIT_EMAILS_PER_ADDRESS emails per address and hour'),
          },
        },
        put: {
          summary: "Prove the email with the code sent to it; answers a new token (email_verified: true) that replaces the caller's",
          security: bearer,
          requestBody: requestBody(body.ProveEmail),
          responses: {
            200: ok('Verified, and signed in with the new token', signedIn),
            400: problem('invalid_code (wrong, used, expired, or its 5 tries spent) or invalid_request'),
            401: problem('unauthorized'),
            409: problem('already_verified'),
          },
        },
      },
      '/v1/recovery': {
        post: {
          summary: 'Start recovery: a code goes to the email if it has an account; the answer is the same either way',
          requestBody: requestBody(body.StartRecovery),
          responses: {
            202: ok('The recovery id the code works with', { type: 'object', required: ['recoveryId'], properties: { recoveryId: { type: 'string' } } }),
            400: problem('invalid_request'),
            404: problem('recovery_disabled (EMAIL_RECOVERY=false)'),
            429: problem('rate_limited'),
          },
        },
        put: {
          summary:
            'Prove the code of a recovery: answers a registration challenge for the account, finished by PUT /v1/challenges (which signs in). An email never proven before loses every passkey and session first',
          requestBody: requestBody(body.ProveRecovery),
          responses: {
            200: ok('Creation options', started('CreationOptions')),
            400: problem('invalid_code (wrong, used, expired, another recovery id, or 5 tries spent) or invalid_request'),
            404: problem('recovery_disabled'),
          },
        },
      },
      '/v1/features': {
        get: {
          summary: 'What this service offers a page: email recovery, and whether emails are printed in its log (development)',
          responses: {
            200: ok('Features', {
              type: 'object',
              required: ['recovery', 'emailsInLog'],
              properties: { recovery: { type: 'boolean' }, emailsInLog: { type: 'boolean' } },
            }),
          },
        },
      },
      '/v1/admin/users': {
        post: {
          summary: 'Create a user (no passkey yet: mint an enrolment ticket next); emailVerified: true when the backend vouches for the email',
          security: admin,
          requestBody: requestBody(body.CreateUser),
          responses: {
            201: ok('The user', ref('User')),
            400: problem('invalid_request'),
            401: problem('unauthorized: no admin key'),
            409: problem('account_exists or external_id_exists'),
          },
        },
        get: {
          summary: 'Users, newest first, by email or externalId if given; pass `next` back as `cursor`',
          security: admin,
          parameters: [
            { name: 'email', in: 'query', schema: { type: 'string' } },
            { name: 'externalId', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            200: ok('A page of users', {
              type: 'object',
              required: ['users', 'next'],
              properties: { users: { type: 'array', items: ref('User') }, next: { type: ['string', 'null'] } },
            }),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
          },
        },
      },
      '/v1/admin/users/{id}': {
        parameters: [userIdParameter],
        get: { summary: 'One user', security: admin, responses: { 200: ok('The user', ref('User')), 401: problem('unauthorized'), 404: problem('not_found') } },
        patch: {
          summary: 'Change the display name, externalId (null removes it) or emailVerified',
          security: admin,
          requestBody: requestBody(body.UpdateUser),
          responses: {
            200: ok('The user', ref('User')),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
            404: problem('not_found'),
            409: problem('external_id_exists'),
          },
        },
        delete: {
          summary: 'Delete the user and every row about them (passkeys, sessions, challenges, codes, tickets, their audit trail); their tokens fail at once',
          security: admin,
          responses: { 204: { description: 'Deleted' }, 401: problem('unauthorized'), 404: problem('not_found') },
        },
      },
      '/v1/admin/users/{id}/credentials': {
        parameters: [userIdParameter],
        get: {
          summary: "The user's passkeys",
          security: admin,
          responses: {
            200: ok('Passkeys', { type: 'object', required: ['credentials'], properties: { credentials: { type: 'array', items: ref('Credential') } } }),
            401: problem('unauthorized'),
            404: problem('not_found'),
          },
        },
      },
      '/v1/admin/users/{id}/credentials/{credentialId}': {
        parameters: [userIdParameter, { name: 'credentialId', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]+$' } }],
        delete: {
          summary: 'Remove a passkey (the last one too); the sessions it opened end',
          security: admin,
          responses: { 204: { description: 'Removed' }, 400: problem('invalid_request'), 401: problem('unauthorized'), 404: problem('not_found') },
        },
      },
      '/v1/admin/users/{id}/sessions': {
        parameters: [userIdParameter],
        delete: {
          summary: 'End every session of the user: their tokens fail /v1/me and introspection at once',
          security: admin,
          responses: { 204: { description: 'Ended' }, 401: problem('unauthorized'), 404: problem('not_found') },
        },
      },
      '/v1/admin/users/{id}/enrollments': {
        parameters: [userIdParameter],
        post: {
          summary:
            'A single-use enrolment ticket: a browser adds a passkey to the user with POST /v1/challenges { ticket } and PUT /v1/challenges, and is signed in',
          security: admin,
          requestBody: requestBody(body.CreateEnrollment),
          responses: {
            201: ok('The ticket (shown once) and when it expires', {
              type: 'object',
              required: ['ticket', 'expiresAt'],
              properties: { ticket: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
            }),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
            404: problem('not_found'),
          },
        },
      },
      '/v1/admin/webhooks': {
        post: {
          summary: 'Register a webhook endpoint (https to a public address, unless WEBHOOK_ALLOW_PRIVATE_URLS); its secret is shown only here',
          security: admin,
          requestBody: requestBody(body.CreateWebhook),
          responses: {
            201: ok('The endpoint and its secret', {
              type: 'object',
              required: ['id', 'url', 'events', 'secret', 'createdAt'],
              properties: {
                id: { type: 'string', format: 'uuid' },
                url: { type: 'string' },
                events: { type: 'array', items: { type: 'string' }, description: 'empty: every type' },
                secret: { type: 'string', description: 'whsec_…, for the standardwebhooks libraries' },
                createdAt: { type: 'string', format: 'date-time' },
              },
            }),
            400: problem('invalid_request, or invalid_webhook_url (not https, or no public address)'),
            401: problem('unauthorized'),
          },
        },
        get: {
          summary: 'The webhook endpoints, without their secrets',
          security: admin,
          responses: {
            200: ok('Endpoints', { type: 'object', required: ['webhooks'], properties: { webhooks: { type: 'array', items: { type: 'object' } } } }),
            401: problem('unauthorized'),
          },
        },
      },
      '/v1/admin/webhooks/{id}': {
        parameters: [webhookIdParameter],
        delete: {
          summary: 'Delete an endpoint and the deliveries it has not had yet',
          security: admin,
          responses: { 204: { description: 'Deleted' }, 400: problem('invalid_request'), 401: problem('unauthorized'), 404: problem('not_found') },
        },
      },
      '/v1/admin/webhooks/{id}/secret': {
        parameters: [webhookIdParameter],
        post: {
          summary: 'Rotate the secret: the new one (shown only here) signs from now on, the old one signs beside it for 24 hours',
          security: admin,
          responses: {
            201: ok('The new secret', {
              type: 'object',
              required: ['secret', 'previousSecretValidUntil'],
              properties: { secret: { type: 'string' }, previousSecretValidUntil: { type: 'string', format: 'date-time' } },
            }),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
            404: problem('not_found'),
          },
        },
      },
      '/v1/admin/webhooks/{id}/deliveries': {
        parameters: [webhookIdParameter],
        get: {
          summary: "The endpoint's latest deliveries, newest first",
          security: admin,
          parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } }],
          responses: {
            200: ok('Deliveries', {
              type: 'object',
              required: ['deliveries'],
              properties: {
                deliveries: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['id', 'eventId', 'type', 'status', 'attempts', 'lastError', 'nextAttemptAt', 'createdAt'],
                    properties: {
                      id: { type: 'string' },
                      eventId: { type: 'string', description: 'the webhook-id header' },
                      type: { type: 'string' },
                      status: { enum: ['pending', 'sent', 'failed'] },
                      attempts: { type: 'integer' },
                      lastError: { type: ['string', 'null'] },
                      nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
                      createdAt: { type: 'string', format: 'date-time' },
                    },
                  },
                },
              },
            }),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
            404: problem('not_found'),
          },
        },
      },
      '/v1/admin/webhooks/{id}/deliveries/{deliveryId}/retry': {
        parameters: [webhookIdParameter, { name: 'deliveryId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        post: {
          summary: 'Send a failed delivery again, with a fresh 24-hour retry window',
          security: admin,
          responses: {
            202: ok('Queued again', { type: 'object' }),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
            404: problem('not_found: no failed delivery with this id'),
          },
        },
      },
      '/v1/admin/events': {
        get: {
          summary: "Every user's audit events, newest first; `actor` names the admin key that acted",
          security: admin,
          parameters: [
            { name: 'userId', in: 'query', schema: { type: 'string', format: 'uuid' } },
            { name: 'type', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
            { name: 'before', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            200: ok('A page of events', {
              type: 'object',
              required: ['events', 'next'],
              properties: { events: { type: 'array', items: { type: 'object' } }, next: { type: ['string', 'null'] } },
            }),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
          },
        },
      },
      '/v1/tokens/introspect': {
        post: {
          summary: 'RFC 7662 style token introspection, for backends',
          security: [{ apiKey: [] }],
          requestBody: requestBody(body.Introspect),
          responses: {
            200: ok('Whether the token is active, and its claims if so', {
              type: 'object',
              required: ['active'],
              properties: {
                active: { type: 'boolean' },
                sub: { type: 'string' },
                email: { type: 'string' },
                email_verified: { type: 'boolean', description: 'whether the email had been proven when the token was minted' },
                external_id: { type: 'string', description: "the site's own id for the user, when it set one" },
                auth_time: { type: 'integer', description: 'when the person last proved a passkey in this session (seconds since the epoch)' },
                exp: { type: 'integer' },
                iat: { type: 'integer' },
                jti: { type: 'string' },
                iss: { type: 'string' },
                aud: { type: 'string' },
              },
            }),
            400: problem('invalid_request'),
            401: problem('unauthorized: missing or wrong API key'),
          },
        },
      },
      '/v1/me': {
        get: {
          summary: 'The signed-in user',
          security: bearer,
          responses: {
            200: ok('Profile', {
              type: 'object',
              required: ['userId', 'email', 'emailVerified', 'displayName', 'createdAt'],
              properties: {
                userId: { type: 'string' },
                email: { type: 'string' },
                emailVerified: { type: 'boolean', description: 'whether a code sent to the email came back' },
                displayName: { type: 'string' },
                createdAt: { type: 'string', format: 'date-time' },
              },
            }),
            401: problem('unauthorized'),
          },
        },
      },
      '/v1/credentials': {
        get: {
          summary: "The signed-in user's passkeys",
          security: bearer,
          responses: {
            200: ok('Passkeys', {
              type: 'object',
              required: ['credentials'],
              properties: { credentials: { type: 'array', items: ref('Credential') } },
            }),
            401: problem('unauthorized'),
          },
        },
      },
      '/v1/credentials/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]+$' } }],
        patch: {
          summary: 'Rename a passkey',
          security: bearer,
          requestBody: requestBody(body.RenameCredential),
          responses: {
            200: ok('The renamed passkey', ref('Credential')),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
            404: problem('not_found'),
          },
        },
        delete: {
          summary: 'Delete a passkey (never the last one); needs a recent passkey proof, and ends the sessions it opened',
          security: bearer,
          responses: {
            204: { description: 'Deleted' },
            400: problem('invalid_request'),
            401: problem('unauthorized'),
            403: problem('reauthentication_required'),
            404: problem('not_found'),
            409: problem('last_credential'),
          },
        },
      },
      '/v1/events': {
        get: {
          summary: "The signed-in user's audit events, newest first, a page at a time",
          security: bearer,
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
            { name: 'before', in: 'query', description: 'the `next` of the previous page', schema: { type: 'string' } },
          ],
          responses: {
            200: ok('Audit events', {
              type: 'object',
              required: ['events', 'next'],
              properties: {
                next: { type: ['string', 'null'], description: 'pass as `before` for the next (older) page; null on the last page' },
                events: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['type', 'at', 'credentialId', 'detail', 'ip'],
                    properties: {
                      type: {
                        enum: [
                          'account.created',
                          'passkey.created',
                          'passkey.used',
                          'passkey.renamed',
                          'passkey.deleted',
                          'sign_in.failed',
                          'counter.regressed',
                          'session.revoked',
                        ],
                      },
                      at: { type: 'string', format: 'date-time' },
                      credentialId: { type: ['string', 'null'] },
                      detail: { type: ['string', 'null'] },
                      ip: { type: ['string', 'null'] },
                    },
                  },
                },
              },
            }),
            400: problem('invalid_request'),
            401: problem('unauthorized'),
          },
        },
      },
      '/v1/sessions': {
        get: {
          summary: "The account's live sessions, newest first",
          security: bearer,
          responses: {
            200: ok('Sessions', {
              type: 'object',
              required: ['sessions'],
              properties: { sessions: { type: 'array', items: ref('Session') } },
            }),
            401: problem('unauthorized'),
          },
        },
        delete: {
          summary: "Sign out everywhere else: end every session of the account but the caller's",
          security: bearer,
          responses: { 204: { description: 'Ended' }, 401: problem('unauthorized') },
        },
      },
      '/v1/sessions/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        delete: {
          summary: 'End one session of the account',
          security: bearer,
          responses: { 204: { description: 'Ended' }, 400: problem('invalid_request'), 401: problem('unauthorized'), 404: problem('not_found') },
        },
      },
      '/v1/sessions/current': {
        delete: {
          summary: 'Sign out: revoke the presented token',
          security: bearer,
          responses: { 204: { description: 'Revoked' }, 401: problem('unauthorized') },
        },
      },
      '/.well-known/jwks.json': {
        get: {
          summary: 'Public keys that verify session tokens',
          responses: { 200: ok('JWKS', { type: 'object', required: ['keys'], properties: { keys: { type: 'array' } } }) },
        },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { 200: ok('Serving', { type: 'object' }) } } },
      '/readyz': {
        get: {
          summary: 'Readiness: the database answers',
          responses: { 200: ok('Ready', { type: 'object' }), 503: problem('service_unavailable') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics: needs `Authorization: Bearer $METRICS_TOKEN`; without METRICS_TOKEN, served only on the METRICS_PORT listener',
          responses: {
            200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
            401: problem('unauthorized (METRICS_TOKEN set, token missing or wrong)'),
            404: problem('not_found: no METRICS_TOKEN (on the METRICS_PORT listener: the request names a proxy)'),
          },
        },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: ok('OpenAPI 3.1', { type: 'object' }) } } },
      '/': { get: page('The demo page', 'text/html') },
      '/embed.js': { get: page('The embeddable sign-up/sign-in form: one classic script, for pages on the configured origins', 'text/javascript') },
      '/vendor/simplewebauthn-browser.js': { get: page('@simplewebauthn/browser, as the demo page loads it', 'text/javascript') },
      '/vendor/alpine-csp.js': { get: page('Alpine.js (CSP build), as the demo page loads it', 'text/javascript') },
      ...Object.fromEntries(demoFiles.map(([file, type]) => [`/${file}`, { get: page(`web/${file}, for the demo page`, type.split(';')[0]!) }])),
    }),
  };
}
