// Recovery turned off (EMAIL_RECOVERY=false): both recovery endpoints read the body as
// usual (size, syntax, schema), then refuse it with 404 recovery_disabled, writing nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anyJson, memberKey, wrongValue } from './arbitraries.js';
import { bodyEndpoints, bodyRequest, outcomeForBody } from './endpoints.js';
import { pathsOf, setAt } from './mutations.js';
import { expectOutcome, send } from './oracles.js';
import { RUN_TIMEOUT, useWorld } from './world.js';

describe('fuzz: recovery turned off', () => {
  const world = useWorld({ EMAIL_RECOVERY: 'false' });
  const recoveryEndpoint = fc.constantFrom('start recovery', 'start recovery (no account)', 'prove recovery', 'prove recovery (unknown recoveryId)');

  it('the features say so', async () => {
    const reply = await send(world(), { method: 'GET', path: '/v1/features' });
    expect(reply.body, reply.what).toMatchObject({ recovery: false });
  });

  it('well-formed, mutated and random bodies -> 404 recovery_disabled once the schema passes, and nothing written', { timeout: RUN_TIMEOUT }, async () => {
    // Applied to the endpoint's template when the run is made (a template reads the world).
    const edit = fc.oneof(
      fc.constant({ kind: 'template' as const }),
      fc.record({ kind: fc.constant('field' as const), index: fc.nat(), value: wrongValue }),
      fc.record({
        kind: fc.constant('random' as const),
        value: fc.oneof(anyJson, fc.dictionary(fc.oneof(fc.constantFrom('email', 'recoveryId', 'code'), memberKey), anyJson, { maxKeys: 4 })),
      }),
    );
    await fc.assert(
      fc.asyncProperty(recoveryEndpoint, edit, async (name, edit) => {
        const w = world();
        const endpoint = bodyEndpoints[name]!;
        const template = endpoint.template(w);
        const paths = pathsOf(template);
        const value = edit.kind === 'template' ? template : edit.kind === 'field' ? setAt(template, paths[edit.index % paths.length]!, edit.value) : edit.value;
        const text = JSON.stringify(value);
        await expectOutcome(w, bodyRequest(w, name, text), outcomeForBody(w, endpoint, text));
      }),
      { numRuns: 300 },
    );
  });
});
