// The admin API (docs/api.md), for the site's own backend: X-API-Key from ADMIN_API_KEYS
// on every route, checked before anything else is read. Not CORS-enabled (app.ts).
import { Router, type Request } from 'express';
import type { Deps } from '../deps.js';
import {
  createEnrollment,
  createUser,
  deleteUser,
  deleteUserPasskey,
  getUser,
  listAdminEvents,
  listUserPasskeys,
  listUsers,
  revokeUserSessions,
  updateUser,
  type AdminContext,
} from '../admin.js';
import { apiKeyChecker } from '../http/auth.js';
import { createEndpoint, deleteEndpoint, listDeliveries, listEndpoints, redeliver, rotateSecret } from '../webhooks/endpoints.js';
import { parse, parseBody } from '../http/parse.js';
import { route } from '../http/route.js';
import * as body from '../http/schemas.js';

export function adminRouter(deps: Deps): Router {
  const router = Router();
  const checkAdminKey = apiKeyChecker(deps.config.adminApiKeys);
  const admin = (req: Request): AdminContext => ({ key: checkAdminKey(req), ip: req.ip });
  const userId = (req: Request) => parse(body.UserId, req.params.id, 'id');

  route(router, '/v1/admin/users', {
    post: async (req, res) => {
      const context = admin(req);
      res.status(201).json(await createUser(deps, parseBody(body.CreateUser, req), context));
    },
    get: async (req, res) => {
      admin(req);
      const { users, next } = await listUsers(deps, parse(body.ListUsers, req.query, 'query'));
      res.json({ users, next: next ? body.encodeEventCursor(next) : null });
    },
  });

  route(router, '/v1/admin/users/:id', {
    get: async (req, res) => {
      admin(req);
      res.json(await getUser(deps, userId(req)));
    },
    patch: async (req, res) => {
      const context = admin(req);
      res.json(await updateUser(deps, userId(req), parseBody(body.UpdateUser, req), context));
    },
    delete: async (req, res) => {
      const context = admin(req);
      await deleteUser(deps, userId(req), context);
      res.status(204).end();
    },
  });

  route(router, '/v1/admin/users/:id/credentials', {
    get: async (req, res) => {
      admin(req);
      res.json({ credentials: await listUserPasskeys(deps, userId(req)) });
    },
  });

  route(router, '/v1/admin/users/:id/credentials/:credentialId', {
    delete: async (req, res) => {
      const context = admin(req);
      await deleteUserPasskey(deps, userId(req), parse(body.CredentialId, req.params.credentialId, 'credentialId'), context);
      res.status(204).end();
    },
  });

  route(router, '/v1/admin/users/:id/sessions', {
    delete: async (req, res) => {
      const context = admin(req);
      await revokeUserSessions(deps, userId(req), context);
      res.status(204).end();
    },
  });

  route(router, '/v1/admin/users/:id/enrollments', {
    post: async (req, res) => {
      const context = admin(req);
      const { ttlSeconds } = parseBody(body.CreateEnrollment, req);
      res.status(201).json(await createEnrollment(deps, userId(req), ttlSeconds, context));
    },
  });

  const webhookId = (req: Request) => parse(body.WebhookId, req.params.id, 'id');

  route(router, '/v1/admin/webhooks', {
    post: async (req, res) => {
      const context = admin(req);
      res.status(201).json(await createEndpoint(deps, parseBody(body.CreateWebhook, req), context));
    },
    get: async (req, res) => {
      admin(req);
      res.json({ webhooks: await listEndpoints(deps) });
    },
  });

  route(router, '/v1/admin/webhooks/:id', {
    delete: async (req, res) => {
      const context = admin(req);
      await deleteEndpoint(deps, webhookId(req), context);
      res.status(204).end();
    },
  });

  route(router, '/v1/admin/webhooks/:id/secret', {
    post: async (req, res) => {
      const context = admin(req);
      res.status(201).json(await rotateSecret(deps, webhookId(req), context));
    },
  });

  route(router, '/v1/admin/webhooks/:id/deliveries', {
    get: async (req, res) => {
      admin(req);
      const { limit } = parse(body.ListDeliveries, req.query, 'query');
      res.json({ deliveries: await listDeliveries(deps, webhookId(req), limit) });
    },
  });

  route(router, '/v1/admin/webhooks/:id/deliveries/:deliveryId/retry', {
    post: async (req, res) => {
      admin(req);
      await redeliver(deps, webhookId(req), parse(body.DeliveryId, req.params.deliveryId, 'deliveryId'));
      res.status(202).json({});
    },
  });

  route(router, '/v1/admin/events', {
    get: async (req, res) => {
      admin(req);
      const { events, next } = await listAdminEvents(deps, parse(body.ListAdminEvents, req.query, 'query'));
      res.json({ events, next: next ? body.encodeEventCursor(next) : null });
    },
  });

  return router;
}
