// Random bodies at every endpoint that takes one: the schema decides, size and syntax first.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { anyJson, anyString, headerText, memberKey, wrongValue } from './arbitraries.js';
import { bytesOf } from './bytes.js';
import { bodyEndpoints, bodyRequest, endpointName, outcomeForBody } from './endpoints.js';
import { pathsOf, setAt } from './mutations.js';
import { expectOutcome, rejected } from './oracles.js';
import { BODY_LIMIT, RUN_TIMEOUT, useWorld } from './world.js';

describe('fuzz: random bodies at every endpoint that takes one', () => {
  const world = useWorld();
  const template = (name: string) => bodyEndpoints[name]!.template(world());
  /** An endpoint's name and one member of its well-formed body (drawn once the world exists; any member of an empty one). */
  const endpointAndPath = (extra: string[] = []) =>
    endpointName.chain((name) => {
      const paths = [...extra, ...pathsOf(template(name))];
      return fc.record({ name: fc.constant(name), path: paths.length > 0 ? fc.constantFrom(...paths) : memberKey });
    });

  /** Sends `text` as the JSON body and checks the reply against the contract. */
  const sendBody = (name: string, text: string) =>
    expectOutcome(world(), bodyRequest(world(), name, text), outcomeForBody(world(), bodyEndpoints[name]!, text));

  it("random JSON values as bodies -> the schema decides: 4xx, or the contract's 2xx", { timeout: RUN_TIMEOUT }, async () => {
    const fields = [
      'email',
      'displayName',
      'challengeId',
      'registration',
      'authentication',
      'name',
      'token',
      'code',
      'recoveryId',
      'ticket',
      'externalId',
      'emailVerified',
      'ttlSeconds',
    ];
    const body = fc.oneof(anyJson, fc.dictionary(fc.oneof(fc.constantFrom(...fields), memberKey), anyJson, { maxKeys: 5 }));
    await fc.assert(
      fc.asyncProperty(endpointName, body, (name, value) => sendBody(name, JSON.stringify(value)).then(() => {})),
      { numRuns: 1000 },
    );
  });

  it('one field of a well-formed body with a wrong type, or left out', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(endpointAndPath(), wrongValue, async ({ name, path }, value) => {
        await sendBody(name, JSON.stringify(setAt(template(name), path, value)));
      }),
      { numRuns: 1000 },
    );
  });

  it('huge strings in any field, bodies just under and over 64 kB -> 413 over the limit, else the schema decides', { timeout: RUN_TIMEOUT }, async () => {
    const char = fc.constantFrom('a', 'A', '-', ' ', 'é', '€', '😀', '\u0000');
    // the size of the whole body, in bytes
    const size = fc.oneof(
      fc.constantFrom(BODY_LIMIT - 1, BODY_LIMIT, BODY_LIMIT + 1, BODY_LIMIT + 4, 8_200, 16_390, 70_000),
      fc.integer({ min: 1_000, max: 80_000 }),
    );
    await fc.assert(
      fc.asyncProperty(endpointAndPath(['padding']), char, size, async ({ name, path }, char, size) => {
        const overhead = Buffer.byteLength(JSON.stringify(setAt(template(name), path, '')));
        const width = Buffer.byteLength(JSON.stringify(char)) - 2;
        const huge = char.repeat(Math.max(0, Math.floor((size - overhead) / width)));
        await sendBody(name, JSON.stringify(setAt(template(name), path, huge)));
      }),
      { numRuns: 150 },
    );
  });

  it('raw bodies, content types and content encodings -> only a proper JSON request can succeed', { timeout: RUN_TIMEOUT }, async () => {
    const jsonTypes = ['application/json', 'application/json; charset=utf-8', 'Application/JSON'];
    const text = fc.oneof(
      fc.constant('template'),
      fc.nat().map((n) => ({ templateCutAt: n })),
      anyJson.map((value) => JSON.stringify(value)),
      anyString(80),
      fc.constantFrom('', ' ', '{', '[]', 'null', '{"__proto__": {"x": 1}}', '\ufeff{}', '{"a": 1e999999}', `${'['.repeat(5000)}${']'.repeat(5000)}`),
    );
    const contentType = fc.option(
      fc.oneof(
        fc.constantFrom(...jsonTypes),
        fc.constantFrom(
          'application/json; charset=ascii',
          'application/json; charset=latin1',
          'application/json; charset=nope',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/problem+json',
          'application/json, text/plain',
          'application/jsonx',
          '*/*',
          '',
          'json',
        ),
        headerText,
      ),
      { nil: undefined },
    );
    const encoding = fc.constantFrom(undefined, 'identity', 'gzip', 'deflate', 'br', 'x-gzip', 'compress', 'gzip, gzip', 'nope');
    const compression = fc.constantFrom('proper' as const, 'none' as const, 'truncated' as const);
    const compressors: Record<string, (data: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };

    await fc.assert(
      fc.asyncProperty(endpointName, text, contentType, encoding, compression, async (name, text, contentType, encoding, compression) => {
        const full = JSON.stringify(template(name));
        const body = text === 'template' ? full : typeof text === 'string' ? text : full.slice(0, text.templateCutAt % full.length);
        const compressor = encoding === undefined ? undefined : compressors[encoding];
        let bytes: Uint8Array = Buffer.from(body);
        if (compressor && compression !== 'none') bytes = compressor(Buffer.from(body));
        if (compressor && compression === 'truncated') bytes = bytes.subarray(0, Math.floor(bytes.length / 2));
        const headers: Record<string, string> = {};
        if (contentType !== undefined) headers['content-type'] = contentType;
        if (encoding !== undefined) headers['content-encoding'] = encoding;
        // Only a request the service can read may succeed: a JSON type, UTF-8, a body decoded as sent;
        // or no body at all (Content-Length: 0 and no type), which counts as {}.
        const readable =
          contentType !== undefined &&
          jsonTypes.includes(contentType) &&
          (encoding === undefined || encoding === 'identity' || (compressor !== undefined && compression === 'proper'));
        const none = bytes.length === 0 && contentType === undefined;
        const outcome = readable
          ? outcomeForBody(world(), bodyEndpoints[name]!, body)
          : none
            ? outcomeForBody(world(), bodyEndpoints[name]!, '{}')
            : rejected('4xx');
        await expectOutcome(world(), bodyRequest(world(), name, bytesOf(bytes), headers), outcome);
      }),
      { numRuns: 500 },
    );
  });
});
