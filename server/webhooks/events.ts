// Webhook events: what a change tells the site's backend, queued in the change's own
// transaction (no event for a change that rolled back, no change without its event).
// Which endpoints want a type is read from memory (WebhookSubscriptions), so a change no
// endpoint listens to costs nothing, and one that is listened to costs one insert.
import { uuidv7 } from 'uuidv7';
import type { Deps } from '../deps.js';
import { insertOutboxMessages } from '../db/outbox.js';
import type { Db } from '../db/schema.js';

export const webhookEventTypes = [
  'user.created',
  'user.deleted',
  'user.email_verified',
  'passkey.created',
  'passkey.used',
  'passkey.renamed',
  'passkey.deleted',
  'passkey.clone_warning',
  'session.revoked',
  'account.recovered',
] as const;

export type WebhookEventType = (typeof webhookEventTypes)[number];

/** What an event says: whose account, and which passkey or session; never a token, code or key. */
export interface WebhookEventData {
  userId: string;
  credentialId?: string;
  sessionId?: string;
}

/** An outbox row of topic 'webhook': one event for one endpoint. */
export interface WebhookMessage {
  endpointId: string;
  id: string; // webhook-id: the same for every endpoint and every retry of this event
  type: WebhookEventType;
  timestamp: string;
  data: WebhookEventData;
}

/** The endpoints of the service and the types each wants, as this instance last read them. */
export class WebhookSubscriptions {
  private endpoints: { id: string; events: Set<string> | null }[] = [];
  private loadedAt = 0;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    /** How stale the list may be: an endpoint registered on another instance is known here within this. */
    private readonly refreshMs = 2000,
  ) {}

  async load(): Promise<void> {
    const rows = await this.db.selectFrom('webhook_endpoints').select(['id', 'events']).execute();
    this.endpoints = rows.map((row) => {
      const events = JSON.parse(row.events) as string[];
      return { id: row.id, events: events.length === 0 ? null : new Set(events) };
    });
    this.loadedAt = Date.now();
  }

  /** Reloads in the background, unless a load is under way. */
  private refresh(onError: (error: unknown) => void = () => {}): void {
    if (this.loading) return;
    this.loading = this.load()
      .catch(onError)
      .finally(() => {
        this.loading = undefined;
      });
  }

  /**
   * Reloads every `refreshMs`, so that an instance that queued nothing for a while is no
   * further behind: a refresh at use only comes after that use read the stale list.
   * Returns a function that stops it.
   */
  keepFresh(onError: (error: unknown) => void): () => void {
    const timer = setInterval(() => this.refresh(onError), this.refreshMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** The endpoints that want `type`; refreshes the list in the background when it is stale. */
  wanting(type: WebhookEventType): string[] {
    if (Date.now() - this.loadedAt > this.refreshMs) this.refresh();
    return this.endpoints.filter((endpoint) => endpoint.events === null || endpoint.events.has(type)).map((endpoint) => endpoint.id);
  }
}

/**
 * Queues `events` for every endpoint that wants them, in the caller's transaction; returns
 * how many deliveries were queued (tell deps.outbox once the transaction commits: see notifyWebhooks).
 */
export async function queueWebhookEvents(
  trx: Db,
  deps: Pick<Deps, 'webhooks' | 'now'>,
  events: { type: WebhookEventType; data: WebhookEventData }[],
): Promise<number> {
  const now = deps.now().toISOString();
  const messages = events.flatMap(({ type, data }) => {
    const endpoints = deps.webhooks.wanting(type);
    if (endpoints.length === 0) return [];
    const id = `msg_${uuidv7().replaceAll('-', '')}`;
    return endpoints.map((endpointId) => ({
      topic: 'webhook',
      key: endpointId,
      payload: { endpointId, id, type, timestamp: now, data } satisfies WebhookMessage,
    }));
  });
  await insertOutboxMessages(trx, messages, now);
  return messages.length;
}

/** After the transaction that queued `count` deliveries committed: wake the worker (nothing when none). */
export function notifyWebhooks(deps: Pick<Deps, 'outbox'>, count: number): void {
  if (count > 0) deps.outbox.queued('webhook', count);
}

/** One event; see queueWebhookEvents. */
export const queueWebhookEvent = (trx: Db, deps: Pick<Deps, 'webhooks' | 'now'>, type: WebhookEventType, data: WebhookEventData) =>
  queueWebhookEvents(trx, deps, [{ type, data }]);

/** A session.revoked event for each of `sessionIds`. */
export const sessionsRevoked = (userId: string, sessionIds: string[]) =>
  sessionIds.map((sessionId) => ({ type: 'session.revoked' as const, data: { userId, sessionId } }));
