// Webhook endpoints, managed through the admin API. A secret (whsec_ and 24 random
// bytes, base64) is shown once, when made; it is stored as it is, since it must sign.
// A rotation makes a new one, and the old one still signs for 24 hours beside it.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Deps } from '../deps.js';
import { retryFailed } from '../db/outbox.js';
import type { WebhookEndpointsTable } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { AdminContext } from '../admin.js';
import { checkWebhookUrl, resolveAllowed, UnsafeWebhookUrl } from './delivery.js';
import type { WebhookEventType, WebhookMessage } from './events.js';

const rotationOverlapMs = 24 * 3600 * 1000;

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

const notFound = () => new AppError('not_found', 'No such webhook endpoint');

const toJSON = (row: WebhookEndpointsTable) => ({ id: row.id, url: row.url, events: JSON.parse(row.events) as string[], createdAt: row.created_at });

export async function createEndpoint(deps: Deps, input: { url: string; events?: WebhookEventType[] | undefined }, context: AdminContext) {
  const allowPrivate = deps.config.webhookAllowPrivateUrls;
  try {
    const url = checkWebhookUrl(input.url, allowPrivate);
    await resolveAllowed(url.hostname, allowPrivate);
  } catch (error) {
    const reason = error instanceof UnsafeWebhookUrl ? error.message : 'its host does not resolve';
    throw new AppError('invalid_webhook_url', `url: ${reason} (WEBHOOK_ALLOW_PRIVATE_URLS allows http and private addresses)`, { cause: error });
  }
  const row: WebhookEndpointsTable = {
    id: randomUUID(),
    url: input.url,
    events: JSON.stringify([...new Set(input.events ?? [])]),
    secret: newSecret(),
    previous_secret: null,
    previous_secret_until: null,
    created_by: context.key,
    created_at: deps.now().toISOString(),
  };
  await deps.db.insertInto('webhook_endpoints').values(row).execute();
  await deps.webhooks.load();
  deps.log.info({ webhookId: row.id, actor: `admin:${context.key}` }, 'webhook endpoint registered');
  return { ...toJSON(row), secret: row.secret };
}

export async function listEndpoints(deps: Deps) {
  return (await deps.db.selectFrom('webhook_endpoints').selectAll().orderBy('created_at').orderBy('id').execute()).map(toJSON);
}

/** Deletes the endpoint and the deliveries it has not had yet. */
export async function deleteEndpoint(deps: Deps, id: string, context: AdminContext): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const deleted = await trx.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
    if (deleted.numDeletedRows !== 1n) throw notFound();
    await trx.deleteFrom('outbox').where('key', '=', id).where('status', '=', 'pending').execute();
  });
  await deps.webhooks.load();
  deps.log.info({ webhookId: id, actor: `admin:${context.key}` }, 'webhook endpoint deleted');
}

/** A new secret, shown once; the previous one still signs beside it for 24 hours. */
export async function rotateSecret(deps: Deps, id: string, context: AdminContext) {
  const secret = newSecret();
  const now = deps.now();
  const until = new Date(now.getTime() + rotationOverlapMs).toISOString();
  await deps.db.transaction().execute(async (trx) => {
    const endpoint = await trx.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
    if (!endpoint) throw notFound();
    await trx.updateTable('webhook_endpoints').set({ secret, previous_secret: endpoint.secret, previous_secret_until: until }).where('id', '=', id).execute();
  });
  deps.log.info({ webhookId: id, actor: `admin:${context.key}` }, 'webhook secret rotated');
  return { secret, previousSecretValidUntil: until };
}

/** The endpoint's latest deliveries, newest first. */
export async function listDeliveries(deps: Deps, id: string, limit: number) {
  if (!(await deps.db.selectFrom('webhook_endpoints').select('id').where('id', '=', id).executeTakeFirst())) throw notFound();
  const rows = await deps.db.selectFrom('outbox').selectAll().where('key', '=', id).orderBy('id', 'desc').limit(limit).execute();
  return rows.map((row) => {
    const message = JSON.parse(row.payload) as WebhookMessage;
    return {
      id: row.id,
      eventId: message.id,
      type: message.type,
      status: row.status,
      attempts: row.attempts,
      lastError: row.last_error,
      nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
      createdAt: row.created_at,
    };
  });
}

/** Sends a failed delivery again, with a fresh retry window. */
export async function redeliver(deps: Deps, id: string, deliveryId: string): Promise<void> {
  if (!(await retryFailed(deps.db, id, deliveryId, deps.now().toISOString()))) {
    throw new AppError('not_found', 'No failed delivery with this id for this endpoint');
  }
  deps.outbox.queued('webhook');
}
