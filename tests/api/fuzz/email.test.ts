// Well-formed and nearly well-formed bodies at the email endpoints, against codes that are
// live, spent or expired: the requests the other specs rarely make well enough to reach a code.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { maxCodeAttempts } from '../../../server/email/codes.js';
import { anyString } from './arbitraries.js';
import { bodyEndpoints, bodyRequest, outcomeForBody } from './endpoints.js';
import { expectOutcome } from './oracles.js';
import { ALICE, CAROL, RUN_TIMEOUT, useWorld, wrongCode, type World } from './world.js';

describe('fuzz: codes and emails at the email endpoints', () => {
  const world = useWorld();

  /** A code as people type it, or nearly: 'wrong' is the pending code's wrong twin, drawn when the run is made. */
  const code = fc.oneof(
    { weight: 3, arbitrary: fc.constant('wrong') },
    fc.stringMatching(/^\d{6}$/),
    fc
      .record({ digits: fc.stringMatching(/^\d{6}$/), separators: fc.array(fc.constantFrom('', ' ', '-', '--', '\t', '\n', '\u00a0', '_'), { maxLength: 7 }) })
      .map(({ digits, separators }) => [...digits].map((digit, i) => (separators[i] ?? '') + digit).join('') + (separators[6] ?? '')),
    fc.stringMatching(/^(\d{5}|\d{7})$/),
    fc.constantFrom(
      '١٢٣٤٥٦',
      '１２３４５６',
      '12345６',
      '0x1E24',
      '1e+005',
      '+12345',
      '-12345',
      '123456\u0000',
      `123456${' '.repeat(26)}`,
      `123456${' '.repeat(27)}`,
    ),
    anyString(12),
  );
  /** A recoveryId: carol's pending one (as it is, or upper-case), or another. */
  const recoveryId = fc.oneof(
    { weight: 3, arbitrary: fc.constant('pending') },
    fc.constant('PENDING'),
    fc.uuid({ version: [1, 4, 7] }),
    fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{pending}', 'pending-but-longer', ''),
  );
  const email = fc.oneof(
    fc.constantFrom(ALICE, ` ${ALICE.toUpperCase()} `, CAROL, 'nobody@example.com', 'alice@EXAMPLE.com.', 'alice+x@example.com', 'alice@exämple.com'),
    fc.emailAddress(),
  );
  /** What a run does to the pending codes first: spend tries, or let them expire (settle puts them back after the run). */
  const codeState = fc.record({ tries: fc.integer({ min: 0, max: maxCodeAttempts + 1 }), expired: fc.boolean() });
  const request = fc.oneof(
    fc.record({ name: fc.constantFrom('prove the email', 'prove the email (email proven)'), body: fc.record({ code }) }),
    fc.record({ name: fc.constant('prove recovery'), body: fc.record({ recoveryId, code }) }),
    fc.record({ name: fc.constant('start recovery'), body: fc.record({ email }) }),
    fc.record({ name: fc.constantFrom('ask for a verification code', 'ask for a verification code (email proven)'), body: fc.constant({}) }),
  );

  function bodyFor(w: World, body: Record<string, string>): Record<string, string> {
    const pending = w.pending;
    const resolved = { ...body };
    if (body.recoveryId !== undefined) {
      resolved.recoveryId = body.recoveryId.replace('pending', pending.recovery.id).replace('PENDING', pending.recovery.id.toUpperCase());
    }
    if (body.code === 'wrong') resolved.code = wrongCode(body.recoveryId === undefined ? pending.verification.code : pending.recovery.code);
    return resolved;
  }

  it('a wrong code spends one try of a live code and nothing else; a spent or expired code, not even that', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(request, codeState, async ({ name, body }, { tries, expired }) => {
        const w = world();
        const { verification, recovery } = w.pending;
        const { db, now } = w.service.deps;
        let update = db.updateTable('email_codes').set({ attempts: tries });
        if (expired) update = update.set({ expires_at: now().toISOString() }); // expires_at > now is live
        await update.where('id', 'in', [verification.id, recovery.id]).execute();
        const text = JSON.stringify(bodyFor(w, body));
        await expectOutcome(w, bodyRequest(w, name, text), outcomeForBody(w, bodyEndpoints[name]!, text));
      }),
      { numRuns: 600 },
    );
  });
});
