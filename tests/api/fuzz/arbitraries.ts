// The fast-check arbitraries the fuzz specs draw from: hostile text and JSON, base64url,
// CBOR, header text, and the edits that mutations.ts applies.
import { isoUint8Array } from '@simplewebauthn/server/helpers';
import fc from 'fast-check';
import { b64, BASE64URL } from './bytes.js';
import type { AttestationEdit, ByteEdit, ResponseMutation, ResponseShape, TokenEdit } from './mutations.js';

/** Text that databases, parsers and logs are known to trip over. */
export const hostileText = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfff',
  '\u202e',
  '\ufeff',
  '%00',
  '\\',
  "'; drop table users; --",
  '${x}',
  '<script>',
  '\r\n',
);

/** Any string: printable, unicode, control characters (NUL included), and hostile text. */
export const anyString = (maxLength = 24) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.constantFrom('\u0000', '\t', '\n', ' ', '\u00a0', '\u200b', '\ufeff', 'é', '😀', '\ud800'), maxLength: 6 }),
    hostileText,
  );

export const anyJson = fc.oneof({ weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) }, fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' }));

/** base64url text of any length (including impossible ones, 1 mod 4), padded or not. */
export const randomBase64url = fc.oneof(
  fc.uint8Array({ maxLength: 160 }).map(b64),
  fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength: 120 }),
  fc.tuple(fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength: 60 }), fc.constantFrom('=', '==')).map(([text, padding]) => text + padding),
);

/** Values a wrong-typed field gets (undefined: the field is left out). */
export const wrongValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  anyString(),
  hostileText,
  fc.constantFrom('', '   ', 'public-key', 'platform', '0'.repeat(64)),
  fc.array(anyJson, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), anyJson, { maxKeys: 3 }),
);

/** Values that are close to right for some WebAuthn field, and random JSON. */
export const plausibleValue = fc.oneof(
  fc.constantFrom<unknown>(
    'platform',
    'cross-platform',
    'public-key',
    'webauthn.get',
    'webauthn.create',
    '',
    [],
    ['usb', 'nfc'],
    ['internal'],
    ['telepathy'],
    {},
    { credProps: { rk: true } },
    { appid: true },
    -7,
    -8,
    -257,
    -35,
    0,
    null,
    true,
  ),
  anyJson,
);

/** Anything isoCBOR can encode: numbers, strings, bytes, arrays, maps. */
export const cborValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 80 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .array(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: -4, max: 4 })), tie('value')), { maxLength: 4 })
      .map((entries) => new Map(entries)),
  ),
})).value;

/** Printable header text, latin-1 included (what fetch and Node let through). */
export const headerText = fc.string({
  unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
);

export const tokenEdit: fc.Arbitrary<TokenEdit> = fc.oneof(
  fc.constant({ kind: 'same' as const }),
  fc.record({ kind: fc.constant('char' as const), at: fc.nat(), char: fc.constantFrom(...BASE64URL, '.', '+', '/', '=', '~', ' ', '%') }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), text: fc.oneof(fc.constantFrom('=', '==', '.', 'A', '.x'), headerText) }),
  fc.record({ kind: fc.constant('segment' as const), index: fc.integer({ min: 0, max: 2 }), value: fc.oneof(randomBase64url, headerText) }),
  fc.record({ kind: fc.constant('segments' as const), order: fc.shuffledSubarray([0, 1, 2], { minLength: 1 }) }),
  fc.record({ kind: fc.constant('signature-spare-bits' as const), bits: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ kind: fc.constant('forged' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('random' as const), text: fc.oneof(headerText, randomBase64url) }),
);

export const memberKey = fc.string({ minLength: 1, maxLength: 10 }).filter((key) => !key.includes('.') && key !== '__proto__');
export const clientDataValue = fc.oneof(
  fc.constantFrom<unknown>(
    'webauthn.get',
    'webauthn.create',
    'http://localhost:3000',
    'http://localhost:3001',
    'https://localhost:3000',
    'http://evil.example',
    'null',
    true,
    false,
    { status: 'present' },
    { status: 'bogus' },
    'AAAA',
  ),
  anyJson,
);

export function responseMutation(shape: ResponseShape): fc.Arbitrary<ResponseMutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...shape.paths) }),
    fc.record({ kind: fc.constant('replace' as const), path: fc.constantFrom(...shape.paths), value: plausibleValue }),
    fc.record({ kind: fc.constant('base64url' as const), path: fc.constantFrom(...shape.base64url), value: randomBase64url }),
    fc.record({ kind: fc.constant('bytes' as const), path: fc.constantFrom(...shape.base64url), edit: byteEdit }),
    fc.record({ kind: fc.constant('extra' as const), path: fc.constantFrom(...shape.objects), key: memberKey, value: anyJson }),
    fc.record({
      kind: fc.constant('clientData' as const),
      key: fc.oneof(fc.constantFrom('type', 'challenge', 'origin', 'crossOrigin', 'topOrigin', 'tokenBinding'), memberKey),
      value: fc.option(clientDataValue, { nil: undefined }),
    }),
  );
}

export const attestationEdit: fc.Arbitrary<AttestationEdit> = fc.oneof(
  fc.record({ kind: fc.constant('random-cbor' as const), value: cborValue }),
  fc.record({
    kind: fc.constant('random-cbor' as const),
    value: fc
      .array(fc.tuple(fc.oneof(fc.constantFrom('fmt', 'attStmt', 'authData'), fc.string({ maxLength: 6 })), cborValue), { maxLength: 4 })
      .map((entries) => new Map(entries)),
  }),
  fc.record({
    kind: fc.constant('random-bytes' as const),
    bytes: fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 120 }).map((b) => isoUint8Array.concat([Uint8Array.of(0xa3), b])),
    ),
  }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('entry' as const),
    key: fc.constantFrom('fmt', 'attStmt', 'authData'),
    value: fc.option(
      fc.oneof(
        fc.constantFrom<unknown>('none', 'packed', 'fido-u2f', 'tpm', 'apple', 'android-key', new Map(), new Map([['alg', -7]]), 0, [], ''),
        fc.uint8Array({ minLength: 30, maxLength: 160 }),
        cborValue,
      ),
      { nil: undefined },
    ),
  }),
  fc.record({ kind: fc.constant('auth-data' as const), edit: byteEdit }),
  fc.record({ kind: fc.constant('flag' as const), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    kind: fc.constant('public-key' as const),
    key: fc.constantFrom(1, 3, -1, -2, -3, 7),
    value: fc.option(fc.oneof(fc.constantFrom<unknown>(-7, -8, -257, -35, -999, 1, 2, 6, 'x'), cborValue), { nil: undefined }),
  }),
);
