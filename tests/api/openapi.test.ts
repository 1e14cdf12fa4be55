// GET /openapi.json against the running service: every documented operation is
// routed, every other method on a documented path is 405 with the right Allow, and
// real responses match the schemas the document gives for their status.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiKey, bearer, SoftAuthenticator, startService, type Reply, type TestService } from '../helpers/service.js';

type Schema = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Schema> };
}

const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// OPTIONS is answered by the CORS preflight handler on every path; fetch refuses TRACE.
const probedMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

let service: TestService;
let document: OpenApiDocument;
beforeEach(async () => {
  // With METRICS_TOKEN, GET /metrics is routed on the service port (without it, that answers 404).
  service = await startService({ METRICS_TOKEN: 'metrics-token-0123456789' });
  document = (await service.request('GET', '/openapi.json')).body;
});
afterEach(() => service.close());

/** [path, METHODS] for every documented path. */
const documentedPaths = () =>
  Object.entries(document.paths).map(
    ([path, item]) =>
      [
        path,
        Object.keys(item)
          .filter((key) => httpMethods.includes(key))
          .map((m) => m.toUpperCase()),
      ] as const,
  );
const fill = (path: string) => path.replace(/\{[^}]+\}/g, 'c0ffee');
const minimalBody = (method: string) => (['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined);

// --- A checker for the JSON Schema subset the document uses --------------------------------

const understood = new Set(['$ref', 'type', 'required', 'properties', 'items', 'enum', 'pattern', 'format', 'description']);
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function resolve(ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], document);
  if (!target) throw new Error(`$ref ${ref} points nowhere`);
  return target as Schema;
}

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    default:
      return typeof value === type; // string, boolean
  }
}

/** Every way `value` breaks `schema`, as "path: problem" lines; empty when it conforms. */
function violations(schema: Schema, value: unknown, at = '$'): string[] {
  const found = Object.keys(schema)
    .filter((keyword) => !understood.has(keyword))
    .map((keyword) => `${at}: the checker does not understand "${keyword}"; teach it before documenting with it`);
  if (typeof schema.$ref === 'string') found.push(...violations(resolve(schema.$ref), value, at));
  if (schema.type !== undefined) {
    const types = ([] as string[]).concat(schema.type as string | string[]);
    if (!types.some((type) => hasType(type, value))) return [...found, `${at}: expected ${types.join(' or ')}, got ${JSON.stringify(value)}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    found.push(`${at}: expected one of ${JSON.stringify(schema.enum)}, got ${JSON.stringify(value)}`);
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
    found.push(`${at}: "${value}" does not match ${schema.pattern}`);
  }
  if (typeof value === 'string' && schema.format === 'date-time' && !(dateTime.test(value) && !Number.isNaN(Date.parse(value)))) {
    found.push(`${at}: "${value}" is not a date-time`);
  }
  if (hasType('object', value)) {
    const object = value as Record<string, unknown>;
    for (const name of (schema.required as string[] | undefined) ?? []) {
      if (!(name in object)) found.push(`${at}: required "${name}" is missing`);
    }
    for (const [name, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
      if (name in object) found.push(...violations(sub, object[name], `${at}.${name}`));
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => found.push(...violations(schema.items as Schema, item, `${at}[${i}]`)));
  }
  return found;
}

/** What is wrong with `reply` as an answer to METHOD path, by the document; empty when nothing. */
function undocumented(method: string, path: string, reply: Reply): string[] {
  const operation = document.paths[path]?.[method.toLowerCase()] as Operation | undefined;
  if (!operation) return [`${method} ${path} is not documented`];
  const response = operation.responses[String(reply.status)];
  if (!response) return [`${method} ${path}: status ${reply.status} is not documented (body ${JSON.stringify(reply.body)})`];
  if (!response.content) return reply.body === '' ? [] : [`${method} ${path} ${reply.status}: documented without a body, got one`];
  const mediaType = (reply.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const documented = response.content[mediaType];
  if (!documented) return [`${method} ${path} ${reply.status}: content type "${mediaType}" is not documented`];
  return violations(documented.schema, reply.body).map((line) => `${method} ${path} ${reply.status} ${line}`);
}

// --- The document ------------------------------------------------------------------------

it('GET /openapi.json is an OpenAPI 3.1 document with paths', async () => {
  const reply = await service.request('GET', '/openapi.json');
  expect(reply.status).toBe(200);
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
  expect(reply.body.openapi).toMatch(/^3\.1\.\d+$/);
  expect(reply.body.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
  expect(Object.keys(reply.body.paths).length).toBeGreaterThan(0);
});

it('the document covers every endpoint of the contract', () => {
  const operations = documentedPaths().flatMap(([path, methods]) => methods.map((method) => `${method} ${path}`));
  expect(operations).toEqual(
    expect.arrayContaining([
      'POST /v1/challenges',
      'PUT /v1/challenges',
      'POST /v1/tokens',
      'PUT /v1/tokens',
      'POST /v1/tokens/introspect',
      'GET /v1/me',
      'GET /v1/credentials',
      'PATCH /v1/credentials/{id}',
      'DELETE /v1/credentials/{id}',
      'DELETE /v1/sessions/current',
      'GET /.well-known/jwks.json',
      'GET /healthz',
      'GET /readyz',
      'GET /',
      'GET /embed.js',
    ]),
  );
});

it("names the service's PUBLIC_URL as its server, not the first of ORIGINS", async () => {
  const other = await startService({
    RP_ID: 'example.com',
    EMAIL_DELIVERY: 'log',
    PUBLIC_URL: 'https://auth.example.com',
    ORIGINS: 'https://shop.example.com,https://auth.example.com',
  });
  try {
    expect((await other.request('GET', '/openapi.json')).body.servers).toEqual([{ url: 'https://auth.example.com' }]);
  } finally {
    await other.close();
  }
});

it('every documented operation is routed: none answers 404 or 405', async () => {
  const unrouted: string[] = [];
  for (const [path, methods] of documentedPaths()) {
    for (const method of methods) {
      const reply = await service.request(method, fill(path), minimalBody(method));
      if (reply.status === 404 || reply.status === 405) unrouted.push(`${method} ${path} -> ${reply.status}`);
    }
  }
  expect(unrouted).toEqual([]);
});

it('every undocumented method on a documented path answers 405 with Allow listing exactly the documented methods', async () => {
  const wrong: string[] = [];
  for (const [path, methods] of documentedPaths()) {
    const allowed = methods.includes('GET') ? [...methods, 'HEAD'] : methods;
    for (const method of probedMethods.filter((m) => !allowed.includes(m))) {
      const reply = await service.request(method, fill(path), minimalBody(method));
      const allow = (reply.headers.get('allow') ?? '')
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean);
      if (reply.status !== 405 || allow.sort().join() !== [...allowed].sort().join()) {
        wrong.push(`${method} ${path} -> ${reply.status}, Allow "${reply.headers.get('allow')}", expected "${allowed.join(', ')}"`);
      }
    }
  }
  expect(wrong).toEqual([]);
});

// --- Real responses against the documented schemas ------------------------------------------

describe('responses match the documented schemas', () => {
  it('every response of a full happy flow matches the schema documented for its status', async () => {
    const problems: string[] = [];
    const call = async (method: string, template: string, path: string, body?: unknown, headers?: Record<string, string>) => {
      const reply = await service.request(method, path, body, headers);
      problems.push(...undocumented(method, template, reply));
      return reply;
    };
    const authenticator = new SoftAuthenticator();
    const email = 'alice@example.com';

    const signUpStart = await call('POST', '/v1/challenges', '/v1/challenges', { email });
    const registration = await authenticator.createCredential(signUpStart.body.options);
    const signedUp = await call('PUT', '/v1/challenges', '/v1/challenges', { challengeId: signUpStart.body.challengeId, registration });
    const signInStart = await call('POST', '/v1/tokens', '/v1/tokens', { email });
    const authentication = await authenticator.getAssertion(signInStart.body.options);
    const signedIn = await call('PUT', '/v1/tokens', '/v1/tokens', { challengeId: signInStart.body.challengeId, authentication });
    const auth = bearer(signedIn.body.token);
    const me = await call('GET', '/v1/me', '/v1/me', undefined, auth);
    const list = await call('GET', '/v1/credentials', '/v1/credentials', undefined, auth);
    const id = signedUp.body.credential.id;
    const renamed = await call('PATCH', '/v1/credentials/{id}', `/v1/credentials/${id}`, { name: 'Laptop' }, auth);
    const introspected = await call('POST', '/v1/tokens/introspect', '/v1/tokens/introspect', { token: signedIn.body.token }, { 'x-api-key': apiKey });
    const jwks = await call('GET', '/.well-known/jwks.json', '/.well-known/jwks.json');
    const healthz = await call('GET', '/healthz', '/healthz');
    const readyz = await call('GET', '/readyz', '/readyz');
    const signedOut = await call('DELETE', '/v1/sessions/current', '/v1/sessions/current', undefined, auth);

    // The flow really was the happy one ...
    expect([signUpStart, signedUp, signInStart, signedIn, me, list, renamed, introspected, jwks, healthz, readyz, signedOut].map((r) => r.status)).toEqual([
      200, 201, 200, 200, 200, 200, 200, 200, 200, 200, 200, 204,
    ]);
    expect(introspected.body.active).toBe(true);
    // ... and every answer is what the document promises.
    expect(problems).toEqual([]);
  });

  it('the pages and their files, their revalidation (304) and /metrics refused without its token (401) answer as documented', async () => {
    const problems: string[] = [];
    const statuses: number[] = [];
    const check = async (path: string, headers?: Record<string, string>) => {
      const reply = await service.request('GET', path, undefined, headers);
      statuses.push(reply.status);
      problems.push(...undocumented('GET', path, reply));
      return reply;
    };
    const pages = ['/', '/embed.js', '/vendor/simplewebauthn-browser.js', '/vendor/alpine-csp.js', '/demo.js', '/passkeys.js', '/style.css', '/favicon.svg'];
    for (const path of pages) {
      const page = await check(path);
      // fetch adds `Cache-Control: no-cache` to a conditional request that has none, which forbids a 304.
      await check(path, { 'if-none-match': page.headers.get('etag')!, 'cache-control': 'max-age=0' });
    }
    await check('/metrics');
    expect(statuses).toEqual([...pages.flatMap(() => [200, 304]), 401]);
    expect(problems).toEqual([]);
  });

  it('problem answers match the documented Problem schema and media type', async () => {
    const problems: string[] = [];
    const check = async (method: string, template: string, path: string, body?: unknown, headers?: Record<string, string>) => {
      const reply = await service.request(method, path, body, headers);
      expect(reply.status).toBeGreaterThanOrEqual(400);
      problems.push(...undocumented(method, template, reply));
    };

    await check('POST', '/v1/challenges', '/v1/challenges', { email: 'not an email' });
    await check('PUT', '/v1/challenges', '/v1/challenges', { challengeId: 'nope', registration: {} });
    await check('PUT', '/v1/tokens', '/v1/tokens', {});
    await check('POST', '/v1/tokens/introspect', '/v1/tokens/introspect', { token: 'x' }, { 'x-api-key': 'wrong-key-0123456789' });
    await check('GET', '/v1/me', '/v1/me');
    await check('PATCH', '/v1/credentials/{id}', '/v1/credentials/c0ffee', { name: 'x' });

    expect(problems).toEqual([]);
  });

  it('a body too large (413) or not JSON (415) answers a status the document lists, wherever a body is taken', async () => {
    const withBodies = Object.entries(document.paths as Record<string, Record<string, { requestBody?: unknown }>>).flatMap(([template, item]) =>
      Object.entries(item)
        .filter(([, operation]) => operation.requestBody)
        .map(([method]) => [method.toUpperCase(), template] as const),
    );
    expect(withBodies.length).toBeGreaterThan(4);
    const problems: string[] = [];
    for (const [method, template] of withBodies) {
      const path = template.replace('{id}', 'c0ffee');
      const tooLarge = await service.request(method, path, { email: 'x'.repeat(70_000) });
      const notJson = await service.request(method, path, 'email=x', { 'content-type': 'text/plain' });
      expect([tooLarge.status, notJson.status]).toEqual([413, 415]);
      problems.push(...undocumented(method, template, tooLarge), ...undocumented(method, template, notJson));
    }
    expect(problems).toEqual([]);
  });

  it('bad input to introspect, rename and delete answers a status the document lists (400)', async () => {
    const authenticator = new SoftAuthenticator();
    const start = await service.request('POST', '/v1/challenges', { email: 'carol@example.com' });
    const registration = await authenticator.createCredential(start.body.options);
    const signedUp = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
    const auth = bearer(signedUp.body.token);
    const replies: [string, string, Reply][] = [
      ['POST', '/v1/tokens/introspect', await service.request('POST', '/v1/tokens/introspect', {}, { 'x-api-key': apiKey })],
      ['PATCH', '/v1/credentials/{id}', await service.request('PATCH', '/v1/credentials/not-hex', { name: 'Laptop' }, auth)],
      ['PATCH', '/v1/credentials/{id}', await service.request('PATCH', `/v1/credentials/${signedUp.body.credential.id}`, { name: '' }, auth)],
      ['DELETE', '/v1/credentials/{id}', await service.request('DELETE', '/v1/credentials/not-hex', undefined, auth)],
    ];

    expect(replies.map(([, , reply]) => reply.status)).toEqual([400, 400, 400, 400]);
    expect(replies.flatMap(([method, path, reply]) => undocumented(method, path, reply))).toEqual([]);
  });

  it('the schema check catches a response that lacks a documented required field', async () => {
    const authenticator = new SoftAuthenticator();
    const start = await service.request('POST', '/v1/challenges', { email: 'bob@example.com' });
    const registration = await authenticator.createCredential(start.body.options);
    const signedUp = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
    const me = await service.request('GET', '/v1/me', undefined, bearer(signedUp.body.token));
    expect(undocumented('GET', '/v1/me', me)).toEqual([]);

    const { email: _dropped, ...withoutEmail } = me.body;

    expect(undocumented('GET', '/v1/me', { ...me, body: withoutEmail })).toEqual(['GET /v1/me 200 $: required "email" is missing']);
  });
});
