// The v1 API, one route per contract entry (docs/api.md). Routes parse,
// call and shape; the logic lives in ceremonies/, tokens/ and account.ts.
import { Router, type Request } from 'express';
import type { Deps } from '../deps.js';
import { adminRouter } from './admin.js';
import { deletePasskey, endOtherSessions, endSession, getProfile, listEvents, listPasskeys, listSessions, renamePasskey } from '../account.js';
import { finishSignIn, startSignIn } from '../ceremonies/authentication.js';
import { finishRegistration, startAddPasskey, startSignUp } from '../ceremonies/registration.js';
import { proveRecovery, resendVerification, startRecovery, verifyEmail } from '../email/ownership.js';
import { startEnrollment } from '../admin.js';
import { AppError } from '../errors.js';
import { apiKeyChecker, bearerToken, requireSession } from '../http/auth.js';
import type { Metrics } from '../http/metrics.js';
import { parse, parseBody } from '../http/parse.js';
import { applyRateLimits } from '../http/rate-limits.js';
import { route } from '../http/route.js';
import * as body from '../http/schemas.js';
import { introspectToken, revokeSessionToken, verifySessionToken } from '../tokens/session-tokens.js';

export function apiRouter(deps: Deps, metrics: Metrics): Router {
  const router = Router();
  // Admin keys may introspect too.
  const checkApiKey = apiKeyChecker([...deps.config.apiKeys, ...deps.config.adminApiKeys]);
  const { ceremony } = metrics;
  const context = (req: Request) => ({ ip: req.ip });
  const emailBudget = applyRateLimits(router, deps);

  route(router, '/v1/challenges', {
    post: async (req, res) => {
      const input = parseBody(body.StartRegistration, req);
      const token = bearerToken(req);
      const started = await ceremony(req, 'registration', 'start', async () => {
        if (input.ticket !== undefined) {
          if (token || input.email) throw new AppError('invalid_request', 'ticket: send it alone, without a token or an email');
          return startEnrollment(deps, input.ticket);
        }
        if (token) return startAddPasskey(deps, await verifySessionToken(deps, token), input);
        if (!input.email) throw new AppError('invalid_request', 'email: required to sign up');
        return startSignUp(deps, { ...input, email: input.email });
      });
      res.json(started);
    },
    put: async (req, res) => {
      const input = parseBody(body.FinishRegistration, req);
      const token = bearerToken(req);
      const finished = await ceremony(req, 'registration', 'finish', () => finishRegistration(deps, input, context(req), token));
      res.status(201).set('Cache-Control', 'no-store').json(finished);
    },
  });

  route(router, '/v1/tokens', {
    post: async (req, res) => {
      const input = parseBody(body.StartSignIn, req);
      res.json(await ceremony(req, 'authentication', 'start', () => startSignIn(deps, input)));
    },
    put: async (req, res) => {
      const input = parseBody(body.FinishSignIn, req);
      const finished = await ceremony(req, 'authentication', 'finish', () => finishSignIn(deps, input, context(req)));
      res.set('Cache-Control', 'no-store').json(finished);
    },
  });

  route(router, '/v1/email-verification', {
    post: async (req, res) => {
      const session = await requireSession(deps, req);
      await resendVerification(deps, session, (email) => emailBudget(req, res, email));
      res.status(202).json({});
    },
    put: async (req, res) => {
      const session = await requireSession(deps, req);
      const { code } = parseBody(body.ProveEmail, req);
      res.json(await verifyEmail(deps, session, code, context(req)));
    },
  });

  route(router, '/v1/recovery', {
    post: async (req, res) => {
      const { email } = parseBody(body.StartRecovery, req);
      res.status(202).json(await startRecovery(deps, email, (address) => emailBudget(req, res, address)));
    },
    put: async (req, res) => {
      const input = parseBody(body.ProveRecovery, req);
      res.json(await ceremony(req, 'registration', 'start', () => proveRecovery(deps, input, context(req))));
    },
  });

  route(router, '/v1/features', {
    // What the service offers a page that embeds it: is recovery on, do emails land in the log (demo).
    get: (_req, res) => {
      res.json({ recovery: deps.config.email.recovery, emailsInLog: deps.config.email.delivery === 'log' });
    },
  });

  route(router, '/v1/tokens/introspect', {
    post: async (req, res) => {
      checkApiKey(req);
      const { token } = parseBody(body.Introspect, req);
      res.set('Cache-Control', 'no-store').json(await introspectToken(deps, token));
    },
  });

  route(router, '/v1/me', {
    get: async (req, res) => {
      const session = await requireSession(deps, req);
      res.json(await getProfile(deps, session.sub));
    },
  });

  route(router, '/v1/credentials', {
    get: async (req, res) => {
      const session = await requireSession(deps, req);
      res.json({ credentials: await listPasskeys(deps, session.sub) });
    },
  });

  route(router, '/v1/credentials/:id', {
    patch: async (req, res) => {
      const session = await requireSession(deps, req);
      const id = parse(body.CredentialId, req.params.id, 'id');
      const { name } = parseBody(body.RenameCredential, req);
      res.json(await renamePasskey(deps, session.sub, id, name, context(req)));
    },
    delete: async (req, res) => {
      const session = await requireSession(deps, req);
      await deletePasskey(deps, session, parse(body.CredentialId, req.params.id, 'id'), context(req));
      res.status(204).end();
    },
  });

  route(router, '/v1/events', {
    get: async (req, res) => {
      const session = await requireSession(deps, req);
      const { events, next } = await listEvents(deps, session.sub, parse(body.ListEvents, req.query, 'query'));
      res.json({ events, next: next ? body.encodeEventCursor(next) : null });
    },
  });

  route(router, '/v1/sessions', {
    get: async (req, res) => {
      res.json({ sessions: await listSessions(deps, await requireSession(deps, req)) });
    },
    delete: async (req, res) => {
      await endOtherSessions(deps, await requireSession(deps, req), context(req));
      res.status(204).end();
    },
  });

  route(router, '/v1/sessions/current', {
    delete: async (req, res) => {
      await revokeSessionToken(deps, await requireSession(deps, req), context(req));
      res.status(204).end();
    },
  });

  route(router, '/v1/sessions/:id', {
    delete: async (req, res) => {
      const session = await requireSession(deps, req);
      await endSession(deps, session, parse(body.SessionId, req.params.id, 'id'), context(req));
      res.status(204).end();
    },
  });

  router.use(adminRouter(deps));

  route(router, '/.well-known/jwks.json', {
    get: (_req, res) => {
      // A rotated-in key is published KEY_PUBLISH_SECONDS before it signs: longer than this lives in any cache.
      res.set('Cache-Control', 'public, max-age=300, stale-while-revalidate=60').json(deps.keys.jwks);
    },
  });

  return router;
}
