// The admin API: X-API-Key headers, path parameters (user and credential ids), query
// strings (limit, cursor, email, externalId, userId, type) and nearly valid bodies, each
// held to the contract's model (admin-model.ts): never a 5xx, problem+json with a stable
// code, nothing written on a rejection, and exactly the contract's rows and one audited
// event on an accepted action. Destructive requests aim at erin only (settle brings her
// back); the other accounts are read, changed (settle puts them back) and given tickets.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import * as schemas from '../../../server/http/schemas.js';
import { apiKey } from '../../helpers/service.js';
import { adminOutcome } from './admin-model.js';
import { anyJson, anyString, headerText, randomBase64url } from './arbitraries.js';
import { BASE64URL } from './bytes.js';
import { bodyEndpoints, bodyRequest, outcomeForBody } from './endpoints.js';
import { expectOutcome, type Request } from './oracles.js';
import { ADMIN, ADMIN_KEY, ALICE, DAVE, ERIN, EXTERNAL_IDS, JSON_TYPE, RUN_TIMEOUT, useWorld, type World } from './world.js';

type Named = 'alice' | 'dave' | 'erin';

describe('fuzz: the admin API', () => {
  const world = useWorld();
  const send = async (request: Request) => expectOutcome(world(), request, await adminOutcome(world(), request));

  /** A well-formed request to every route (erin's, for the ones that delete or end something). */
  const wellFormed: ((w: World) => Omit<Request, 'headers'>)[] = [
    () => ({ method: 'POST', path: '/v1/admin/users', body: JSON.stringify({ email: 'new@example.com', externalId: 'crm-new', emailVerified: true }) }),
    () => ({ method: 'GET', path: '/v1/admin/users?limit=2' }),
    (w) => ({ method: 'GET', path: `/v1/admin/users/${w.userIds.erin}` }),
    (w) => ({ method: 'PATCH', path: `/v1/admin/users/${w.userIds.erin}`, body: JSON.stringify({ displayName: 'Erin by fuzz', externalId: null }) }),
    (w) => ({ method: 'DELETE', path: `/v1/admin/users/${w.userIds.erin}` }),
    (w) => ({ method: 'GET', path: `/v1/admin/users/${w.userIds.erin}/credentials` }),
    (w) => ({ method: 'DELETE', path: `/v1/admin/users/${w.userIds.erin}/credentials/${w.erin.credentialId}` }),
    (w) => ({ method: 'DELETE', path: `/v1/admin/users/${w.userIds.erin}/sessions` }),
    (w) => ({ method: 'POST', path: `/v1/admin/users/${w.userIds.erin}/enrollments`, body: JSON.stringify({ ttlSeconds: 600 }) }),
    (w) => ({ method: 'GET', path: `/v1/admin/events?userId=${w.userIds.erin}&limit=3` }),
  ];

  it('random X-API-Key on every admin route -> 401 unless it is the admin key (an introspection key is not)', { timeout: RUN_TIMEOUT }, async () => {
    const printable = [...BASE64URL, ' ', '.', '~', 'é'];
    const key = fc.oneof(
      { weight: 2, arbitrary: fc.constant(ADMIN_KEY) },
      fc.constantFrom(
        undefined,
        '',
        ADMIN_KEY,
        ` ${ADMIN_KEY}\t`,
        ADMIN_KEY.toUpperCase(),
        `${ADMIN_KEY}x`,
        ADMIN_KEY.slice(0, -1),
        `${ADMIN_KEY},${ADMIN_KEY}`,
        `Bearer ${ADMIN_KEY}`,
        apiKey,
        ` ${apiKey}`,
      ),
      // a wrong key of the right length (or, one time in many, the key itself)
      fc
        .record({ at: fc.nat(), char: fc.constantFrom(...printable) })
        .map(({ at, char }) => ADMIN_KEY.slice(0, at % ADMIN_KEY.length) + char + ADMIN_KEY.slice((at % ADMIN_KEY.length) + 1)),
      headerText,
    );
    // The admin key as a bearer token opens nothing.
    const authorization = fc.constantFrom(undefined, `Bearer ${ADMIN_KEY}`, `Bearer ${apiKey}`);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: wellFormed.length - 1 }), key, authorization, async (index, key, authorization) => {
        const request = wellFormed[index]!(world());
        const headers: Record<string, string> = request.body === undefined ? {} : { ...JSON_TYPE };
        if (key !== undefined) headers['x-api-key'] = key;
        if (authorization !== undefined) headers.authorization = authorization;
        await send({ ...request, headers });
      }),
      { numRuns: 600 },
    );
  });

  // Path parameters: ids named after the cast (as they are, or nearly), other UUIDs, and any text.
  const idEdit = fc.oneof(
    { weight: 3, arbitrary: fc.constant('as-is') },
    fc.constantFrom('upper', 'braces', 'urn', 'no-dashes', 'space', 'extra', 'short', 'nul'),
  );
  const idDraw = (named: Named[]) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ who: fc.constantFrom(...named), edit: idEdit }) },
      fc.uuid({ version: [1, 4, 7] }).map((value) => ({ value })),
      fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'credentials', 'me').map((value) => ({ value })),
      // segments as they are sent: dot segments, malformed or encoded slashes, percent signs
      fc
        .constantFrom('', '.', '..', '%', '%zz', '%E0%A4%A', '%2F', '%2e', '%2e%2E', '%00', '%25', ';', ':id', '*', '~', '\\', '?', '#')
        .map((raw) => ({ raw })),
      anyString(40).map((value) => ({ value })),
    );
  const credentialDraw = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        whose: fc.constantFrom('erin' as const, 'erin' as const, 'alice' as const),
        edit: fc.oneof({ weight: 3, arbitrary: fc.constant('as-is') }, fc.constantFrom('upper', 'extra', 'short', 'base64url')),
      }),
    },
    fc.uint8Array({ minLength: 1, maxLength: 80 }).map((bytes) => ({ value: Buffer.from(bytes).toString('hex') })),
    fc.constantFrom('0', 'abc', 'ab'.repeat(1023), 'ab'.repeat(1024), 'zz', '%2F', '..').map((value) => ({ value })),
    anyString(20).map((value) => ({ value })),
  );
  type IdDraw = { who: Named; edit: string } | { value: string } | { raw: string };
  type CredentialDraw = { whose: 'erin' | 'alice'; edit: string } | { value: string };

  function editId(id: string, edit: string): string {
    switch (edit) {
      case 'upper':
        return id.toUpperCase();
      case 'braces':
        return `{${id}}`;
      case 'urn':
        return `urn:uuid:${id}`;
      case 'no-dashes':
        return id.replaceAll('-', '');
      case 'space':
        return ` ${id}`;
      case 'extra':
        return `${id}0`;
      case 'short':
        return id.slice(0, -1);
      case 'nul':
        return `${id}\u0000`;
      default:
        return id;
    }
  }
  const idOf = (w: World, draw: IdDraw): { value: string } | { raw: string } => ('who' in draw ? { value: editId(w.userIds[draw.who], draw.edit) } : draw);
  function credentialOf(w: World, draw: CredentialDraw): { value: string } {
    if ('value' in draw) return draw;
    const id = draw.whose === 'erin' ? w.erin.credentialId : w.credentialId;
    if (draw.edit === 'base64url') return { value: Buffer.from(id, 'hex').toString('base64url') };
    return { value: editId(id, draw.edit) };
  }
  /** A segment as the path carries it: percent-encoded as a client would, as it is (fetch encodes what it must), or every byte. */
  function segment(param: { value: string } | { raw: string }, encoding: 'component' | 'raw' | 'every-byte'): string {
    if ('raw' in param) return param.raw;
    if (encoding === 'every-byte') return [...Buffer.from(param.value)].map((byte) => `%${byte.toString(16).padStart(2, '0').toUpperCase()}`).join('');
    if (encoding === 'raw' || !param.value.isWellFormed()) return param.value;
    return encodeURIComponent(param.value);
  }

  it('user and credential ids in the path -> 400 malformed, 404 unknown or not theirs, else the contract; nothing written on a rejection', {
    timeout: RUN_TIMEOUT,
  }, async () => {
    const all: Named[] = ['erin', 'alice', 'dave'];
    const routes = [
      { method: 'GET', suffix: '', named: all },
      { method: 'PATCH', suffix: '', named: all, body: { displayName: 'Renamed by fuzz' } },
      { method: 'DELETE', suffix: '', named: ['erin'] as Named[] },
      { method: 'GET', suffix: '/credentials', named: all },
      { method: 'DELETE', suffix: '/credentials/', named: ['erin'] as Named[], credential: true },
      { method: 'DELETE', suffix: '/sessions', named: ['erin'] as Named[] },
      { method: 'POST', suffix: '/enrollments', named: all, body: { ttlSeconds: 120 } },
    ];
    const draw = fc.nat({ max: routes.length - 1 }).chain((index) =>
      fc.record({
        index: fc.constant(index),
        id: idDraw(routes[index]!.named),
        credential: credentialDraw,
        encoding: fc.constantFrom('component' as const, 'raw' as const, 'every-byte' as const),
        trailingSlash: fc.boolean(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(draw, async ({ index, id, credential, encoding, trailingSlash }) => {
        const w = world();
        const route = routes[index]!;
        let path = `/v1/admin/users/${segment(idOf(w, id), encoding)}${route.suffix}`;
        if (route.credential) path += segment(credentialOf(w, credential), encoding);
        if (trailingSlash) path += '/';
        const body = route.body === undefined ? undefined : JSON.stringify(route.body);
        await send({ method: route.method, path, body, headers: body === undefined ? ADMIN : { ...ADMIN, ...JSON_TYPE } });
      }),
      { numRuns: 800 },
    );
  });

  it('query strings of the user and event lists -> 400 unless the schema takes them, else exactly the page the rows give', {
    timeout: RUN_TIMEOUT,
  }, async () => {
    const limit = fc.oneof(
      fc.constantFrom('1', '2', '3', '50', '100', '101', '0', '-1', '1.5', '1e1', '0x2', ' 3 ', '', 'abc', 'Infinity', '１', '2&limit=3'),
      fc.integer({ min: -5, max: 200 }).map(String),
    );
    const namedId = fc.record({ who: fc.constantFrom<Named>('erin', 'alice', 'dave'), edit: fc.constantFrom('as-is', 'as-is', 'upper', 'extra') });
    const cursor = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('user' as const, 'event' as const), index: fc.nat() }) },
      fc.record({
        kind: fc.constant('tuple' as const),
        at: fc.constantFrom(
          '2026-03-01T12:00:00.000Z',
          '2026-03-01T12:00:00Z',
          '2026-03-01T12:00:00.0001Z',
          '2026-03-01T11:59:59.999Z',
          '2026-03-01T12:00:01.000Z',
          '2026-03-01T12:00:00+01:00',
          '2026-03-01',
          'not a time',
        ),
        id: fc.oneof(
          namedId,
          fc.uuid({ version: [4, 7] }).map((value) => ({ value })),
          fc.constantFrom({ value: 'x' }, { value: '' }),
        ),
      }),
      fc.record({ kind: fc.constant('json' as const), value: anyJson }),
      fc.record({ kind: fc.constant('text' as const), value: fc.oneof(anyString(30), randomBase64url, fc.constant('A'.repeat(201))) }),
    );
    const email = fc.oneof(
      fc.constantFrom(ALICE, ` ${ALICE.toUpperCase()} `, ERIN, DAVE, 'nobody@example.com', 'alice@example.com\u0000', '', `${'a'.repeat(65)}@example.com`),
      fc.emailAddress(),
      anyString(20),
    );
    const externalId = fc.oneof(
      fc.constantFrom(
        EXTERNAL_IDS.erin,
        EXTERNAL_IDS.dave,
        ` ${EXTERNAL_IDS.erin}`,
        EXTERNAL_IDS.erin.toUpperCase(),
        'crm-erin\u0085',
        '',
        'x'.repeat(255),
        'x'.repeat(256),
      ),
      anyString(20),
    );
    const type = fc.oneof(
      fc.constantFrom(
        'user.created',
        'user.updated',
        'passkey.created',
        'account.created',
        'enrollment.created',
        'sessions.revoked',
        'USER.CREATED',
        '',
        '\u0000',
        'a\u0000b',
        '\ud800',
        'x'.repeat(64),
        'x'.repeat(65),
      ),
      anyString(20),
    );
    const userId = fc.oneof(namedId, fc.uuid({ version: [4, 7] }), anyString(20));
    const pair = (key: string, value: fc.Arbitrary<unknown>) => fc.tuple(fc.constant(key), value);
    const list = fc.oneof(
      fc.record({
        path: fc.constantFrom('/v1/admin/users', '/v1/admin/users/', '/V1/Admin/Users'),
        pairs: fc.array(fc.oneof(pair('email', email), pair('externalId', externalId), pair('limit', limit), pair('cursor', cursor)), { maxLength: 4 }),
      }),
      fc.record({
        path: fc.constantFrom('/v1/admin/events', '/v1/admin/events/'),
        pairs: fc.array(fc.oneof(pair('userId', userId), pair('type', type), pair('limit', limit), pair('before', cursor)), { maxLength: 4 }),
      }),
    );
    const extra = fc.array(fc.tuple(anyString(6), anyString(10)), { maxLength: 2 });
    const encoding = fc.constantFrom('component' as const, 'raw' as const, 'plus' as const);

    async function resolve(w: World, value: unknown): Promise<string> {
      if (typeof value === 'string') return value;
      const draw = value as Record<string, any>;
      if ('who' in draw) return editId(w.userIds[draw.who as Named], draw.edit);
      if ('value' in draw && !('kind' in draw)) return draw.value;
      const { db } = w.service.deps;
      switch (draw.kind) {
        case 'user':
        case 'event': {
          const rows =
            draw.kind === 'user'
              ? await db.selectFrom('users').select(['id', 'created_at']).orderBy('id').execute()
              : await db.selectFrom('audit_events').select(['id', 'created_at']).orderBy('id').execute();
          const row = rows[draw.index % rows.length]!;
          return schemas.encodeEventCursor({ at: row.created_at, id: row.id });
        }
        case 'tuple':
          return Buffer.from(JSON.stringify([draw.at, await resolve(w, draw.id)])).toString('base64url');
        case 'json':
          return Buffer.from(JSON.stringify(draw.value) ?? '').toString('base64url');
        default:
          return draw.value;
      }
    }
    const encode = (text: string, how: 'component' | 'raw' | 'plus') =>
      how === 'raw' || !text.isWellFormed() ? text : how === 'plus' ? encodeURIComponent(text).replaceAll('%20', '+') : encodeURIComponent(text);

    await fc.assert(
      fc.asyncProperty(list, extra, encoding, async ({ path, pairs }, extra, how) => {
        const w = world();
        const parts: string[] = [];
        for (const [key, value] of pairs) parts.push(`${key}=${encode(await resolve(w, value), how)}`);
        for (const [key, value] of extra) parts.push(`${encode(key, how)}=${encode(value, how)}`);
        await send({ method: 'GET', path: parts.length === 0 ? path : `${path}?${parts.join('&')}`, headers: ADMIN });
      }),
      { numRuns: 800 },
    );
  });

  it('nearly valid bodies at create, update and enrol -> the schema decides, then taken emails and externalIds are 409', { timeout: RUN_TIMEOUT }, async () => {
    const name = fc.constantFrom('admin: create user', 'admin: create user', 'admin: update erin', 'admin: update alice', 'admin: mint a ticket');
    /** A field: mostly a value the schema takes (some of them taken by the cast), else a near miss, or left out. */
    const field = (good: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>) =>
      fc.oneof({ weight: 5, arbitrary: good }, { weight: 2, arbitrary: bad }, { weight: 1, arbitrary: fc.constant(undefined) });
    const body = fc.record({
      email: field(
        fc.oneof(
          fc.constantFrom(
            'new@example.com',
            'NEW@Example.com',
            ' new@example.com ',
            `${'a'.repeat(64)}@example.com`,
            ALICE,
            ` ${ALICE.toUpperCase()} `,
            ERIN,
            DAVE,
          ),
          fc.stringMatching(/^[a-z0-9_+-]{1,20}@[a-z0-9]{1,10}\.[a-z]{2,6}$/),
        ),
        // fast-check's addresses follow RFC 5322, which takes far more than the contract's email does
        fc.oneof(
          fc.constantFrom(`${'a'.repeat(65)}@example.com`, 'new@exämple.com', 'new@example.com\u0000', '', 'no-at', null, 42),
          fc.emailAddress(),
          anyString(),
        ),
      ),
      displayName: field(
        fc.oneof(fc.constantFrom('New', 'Ⅸ', 'a\u0301', 'x'.repeat(64), ' padded '), fc.stringMatching(/^[A-Za-z0-9 ]{0,20}[A-Za-z]$/)),
        fc.oneof(fc.constantFrom('', ' ', 'x'.repeat(65), '\u0000', '\u202e', '\ud800', null), anyString()),
      ),
      externalId: field(
        fc.oneof(
          fc.constantFrom('crm-new', 'x'.repeat(255), '😀'.repeat(63), EXTERNAL_IDS.erin, EXTERNAL_IDS.dave, null),
          fc.stringMatching(/^[a-z0-9-]{1,20}$/),
        ),
        fc.oneof(fc.constantFrom(' crm-new', 'crm-new ', 'crm\nnew', 'crm\u0085new', '', 'x'.repeat(256), 'a\u0000b', '\ud800', 7), anyString()),
      ),
      emailVerified: field(fc.boolean(), fc.constantFrom<unknown>(null, 'true', 1, 0)),
      ttlSeconds: field(
        fc.oneof(fc.constantFrom(60, 900, 604_800), fc.integer({ min: 60, max: 604_800 })),
        fc.constantFrom<unknown>(59, 604_801, 60.5, '900', null, -1, 0, 1e21, true),
      ),
    });
    await fc.assert(
      fc.asyncProperty(name, body, async (name, body) => {
        const w = world();
        const text = JSON.stringify(body);
        await expectOutcome(w, bodyRequest(w, name, text), outcomeForBody(w, bodyEndpoints[name]!, text));
      }),
      { numRuns: 800 },
    );
  });
});
