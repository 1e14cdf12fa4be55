// Enrolment tickets at POST /v1/challenges: erin's live ticket as it is or nearly, used
// and expired ones, random text, alone or with an email, a display name or an
// Authorization header. Only the live ticket, sent alone, starts a registration (and is
// used up by it); finishing that registration adds erin's passkey and signs her in with
// her externalId in the token. Anything else writes nothing.
import { decodeJwt } from 'jose';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as schemas from '../../../server/http/schemas.js';
import { SoftAuthenticator } from '../../helpers/service.js';
import { type Bearer, httpTrim, startRegistrationOutcome } from './admin-model.js';
import { anyString, headerText, tokenEdit } from './arbitraries.js';
import { BASE64URL } from './bytes.js';
import { editToken, type TokenEdit } from './mutations.js';
import { expectOutcome, isSameToken, rejected, type Outcome } from './oracles.js';
import { ALICE, ERIN, EXTERNAL_IDS, JSON_TYPE, RUN_TIMEOUT, useWorld, type World } from './world.js';

describe('fuzz: enrolment tickets', () => {
  const world = useWorld();

  /** A ticket: erin's live one (as it is, or edited), one a run used up or let expire, or other text. */
  const ticket: fc.Arbitrary<TicketDraw> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'live' as const }) },
    fc.record({ kind: fc.constant('spent' as const), index: fc.nat() }),
    fc.record({
      kind: fc.constant('edit' as const),
      edit: fc.oneof(
        fc.record({ at: fc.nat(), char: fc.constantFrom(...BASE64URL, '=', '.', ' ', '+', '/') }),
        fc.constantFrom('upper', 'lower', 'padded', 'spaced', 'truncated', 'doubled', 'nul'),
      ),
    }),
    fc.record({
      kind: fc.constant('text' as const),
      value: fc.oneof(fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: 1, maxLength: 130 }), anyString(50)),
    }),
    fc.record({ kind: fc.constant('value' as const), value: fc.constantFrom<unknown>(null, 42, true, [], {}, '') }),
  );
  /** The rest of the body: nothing, or an email or a display name beside the ticket. */
  const extra = fc.oneof(
    { weight: 4, arbitrary: fc.constant({}) },
    fc.record(
      {
        email: fc.constantFrom<unknown>(ERIN, ALICE, 'new@example.com', ` ${ERIN.toUpperCase()} `, '', null, 'not-an-email'),
        displayName: fc.constantFrom<unknown>('Erin', '', 'x'.repeat(65), null),
        name: fc.constant('ignored'),
      },
      { requiredKeys: [] },
    ),
  );
  /** The Authorization header: none (mostly), alice's token as it is or mangled, or any text. */
  const authorization = fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    fc.record({ scheme: fc.constantFrom('Bearer ', 'bearer ', 'Basic ', ''), edit: tokenEdit }),
    headerText,
  );

  type TicketDraw =
    | { kind: 'live' }
    | { kind: 'spent'; index: number }
    | { kind: 'edit'; edit: { at: number; char: string } | string }
    | { kind: 'text' | 'value'; value: unknown };

  function ticketOf(w: World, draw: TicketDraw): unknown {
    const live = w.pending.ticket;
    switch (draw.kind) {
      case 'live':
        return live;
      case 'spent':
        return w.spentTickets.length === 0 ? 'A'.repeat(43) : w.spentTickets[draw.index % w.spentTickets.length];
      case 'edit': {
        const { edit } = draw;
        if (typeof edit === 'object') {
          const at = edit.at % live.length;
          return live.slice(0, at) + edit.char + live.slice(at + 1);
        }
        const edits: Record<string, string> = {
          upper: live.toUpperCase(),
          lower: live.toLowerCase(),
          padded: `${live}=`,
          spaced: ` ${live} `,
          truncated: live.slice(0, -1),
          doubled: live + live,
          nul: `${live}\u0000`,
        };
        return edits[edit];
      }
      default:
        return draw.value;
    }
  }

  // RFC 6750: "Bearer" (any case), a space, a b64token; as the service reads it.
  const bearerTokenOf = (header: string) => /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(httpTrim(header).trim())?.[1];

  it('only the live ticket, alone, starts a registration, once; any other ticket is invalid_ticket and writes nothing', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(
        ticket,
        extra,
        authorization,
        fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
        fc.boolean(),
        async (draw, extra, auth, expired, finish) => {
          const w = world();
          const { db, now } = w.service.deps;
          // A ticket expires: its row stays until swept, and a registration it starts is refused.
          const ticketExpired = expired && draw.kind === 'live';
          if (ticketExpired)
            await db.updateTable('enrollment_tickets').set({ expires_at: now().toISOString() }).where('user_id', '=', w.userIds.erin).execute();
          const body = { ...extra, ticket: ticketOf(w, draw) };
          const text = JSON.stringify(body);
          const header = auth === undefined || typeof auth === 'string' ? auth : auth.scheme + editToken(w, w.token, auth.edit as TokenEdit);
          const headers: Record<string, string> = { ...JSON_TYPE };
          if (header !== undefined) headers.authorization = header;

          // The body's shape first, then a malformed Authorization header, then the ticket.
          const parsed = schemas.StartRegistration.safeParse(JSON.parse(text));
          const token = header === undefined ? undefined : bearerTokenOf(header);
          let outcome: Outcome;
          if (!parsed.success) outcome = rejected(400, 'invalid_request');
          else if (header !== undefined && token === undefined) outcome = rejected(401, 'unauthorized');
          else {
            const bearer: Bearer = token === undefined ? 'none' : isSameToken(w.token, token) ? 'live' : 'other';
            outcome = startRegistrationOutcome(w, parsed.data, bearer, ticketExpired);
          }
          const started = await expectOutcome(w, { method: 'POST', path: '/v1/challenges', body: text, headers }, outcome);
          if (started.status !== 200 || !finish) return;

          // The registration the ticket started: erin's new passkey, her session, and a token with her externalId.
          const registration = await new SoftAuthenticator().createCredential(started.body.options);
          const finished = await expectOutcome(
            w,
            { method: 'PUT', path: '/v1/challenges', body: JSON.stringify({ challengeId: started.body.challengeId, registration }), headers: JSON_TYPE },
            {
              status: 201,
              change: { rows: { credentials: 1, sessions: 1, challenges: -1, outbox: 1 } },
              check: (reply) => {
                expect(reply.body.userId, reply.what).toBe(w.userIds.erin);
                expect(decodeJwt(reply.body.token), reply.what).toMatchObject({ sub: w.userIds.erin, email: ERIN, external_id: EXTERNAL_IDS.erin });
              },
            },
          );
          expect(finished.status).toBe(201);
        },
      ),
      { numRuns: 500 },
    );
  });
});
