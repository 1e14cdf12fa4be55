// Delivering one webhook: a POST in the Standard Webhooks format (webhook-id,
// webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">,
// signed with the `standardwebhooks` library). Rules:
// - Only https URLs that resolve to public addresses, checked at every delivery (DNS can
//   change) and pinned for the connection, so the address checked is the address reached;
//   WEBHOOK_ALLOW_PRIVATE_URLS lifts both (development, tests).
// - Redirects are not followed; 2xx is delivered, anything else (or 10 s without an
//   answer) is a failure the outbox retries.
// - During a rotation's overlap the previous secret signs too (a second signature).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Webhook } from 'standardwebhooks';
import type { Deps } from '../deps.js';
import { PermanentFailure, type OutboxHandler } from '../outbox.js';
import type { WebhookMessage } from './events.js';

export const webhookTimeoutMs = 10_000;

/** Whether an address is on the public internet (not loopback, private, link-local, reserved…). */
export const isPublicAddress = (address: string) => ipaddr.process(address).range() === 'unicast';

export class UnsafeWebhookUrl extends Error {}

/** The URL's own rule: https, or http where private URLs are allowed; no credentials. */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeWebhookUrl('not a URL');
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) throw new UnsafeWebhookUrl('must be https');
  if (url.username || url.password) throw new UnsafeWebhookUrl('must not carry credentials');
  return url;
}

/** Resolves `hostname` to the addresses a delivery may reach; throws when there are none. */
export function resolveAllowed(hostname: string, allowPrivate: boolean): Promise<LookupAddress[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const allowed = (addresses: LookupAddress[]) => {
    const usable = addresses.filter((entry) => allowPrivate || isPublicAddress(entry.address));
    if (usable.length === 0) throw new UnsafeWebhookUrl(`${hostname} resolves to no public address`);
    return usable;
  };
  if (isIP(host)) return Promise.resolve(allowed([{ address: host, family: isIP(host) }]));
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true }, (error, addresses) => {
      if (error) return reject(new Error(`DNS: ${error.code ?? error.message}`));
      try {
        resolve(allowed(addresses));
      } catch (unsafe) {
        reject(unsafe);
      }
    });
  });
}

/** POSTs `body` to `url`, connecting only to an address resolveAllowed approved. */
async function post(url: URL, body: string, headers: Record<string, string>, allowPrivate: boolean): Promise<number> {
  const [address] = await resolveAllowed(url.hostname, allowPrivate);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        // The address checked above, whatever DNS says now (TLS still checks the name).
        lookup: (_hostname, options, callback) => {
          const pinned = address!;
          if ((options as { all?: boolean }).all) (callback as (e: null, a: LookupAddress[]) => void)(null, [pinned]);
          else (callback as (e: null, a: string, f: number) => void)(null, pinned.address, pinned.family);
        },
        timeout: webhookTimeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${webhookTimeoutMs / 1000} s`)), webhookTimeoutMs);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${webhookTimeoutMs / 1000} s`)));
    req.on('error', reject);
    req.on('close', () => clearTimeout(deadline));
    req.end(body);
  });
}

/** The outbox handler of topic 'webhook'. `onAttempt` counts each try by event type and result. */
export function webhookHandler(deps: Deps, onAttempt?: (type: string, result: 'delivered' | 'failed') => void): OutboxHandler {
  return async (payload) => {
    const message = payload as WebhookMessage;
    const endpoint = await deps.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', message.endpointId).executeTakeFirst();
    if (!endpoint) throw new PermanentFailure('the endpoint was deleted');
    const allowPrivate = deps.config.webhookAllowPrivateUrls;
    try {
      let url: URL;
      try {
        url = checkWebhookUrl(endpoint.url, allowPrivate);
      } catch (error) {
        throw new PermanentFailure(error instanceof Error ? error.message : 'unsafe URL');
      }
      const body = JSON.stringify({ type: message.type, timestamp: message.timestamp, data: message.data });
      // The time of this attempt, by the real clock: receivers refuse a stale webhook-timestamp.
      const sentAt = new Date();
      const secrets = [endpoint.secret];
      if (endpoint.previous_secret && endpoint.previous_secret_until && endpoint.previous_secret_until > deps.now().toISOString()) {
        secrets.push(endpoint.previous_secret);
      }
      const signature = secrets.map((secret) => new Webhook(secret).sign(message.id, sentAt, body)).join(' ');
      const status = await post(
        url,
        body,
        {
          'webhook-id': message.id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signature,
          'user-agent': 'passkey-service-webhooks',
        },
        allowPrivate,
      );
      if (status < 200 || status > 299) throw new Error(`HTTP ${status}`);
      onAttempt?.(message.type, 'delivered');
      deps.log.debug({ eventId: message.id, webhookId: endpoint.id, type: message.type, status }, 'webhook delivered');
    } catch (error) {
      onAttempt?.(message.type, 'failed');
      // The event's id and type, never its body.
      deps.log.info(
        { eventId: message.id, webhookId: endpoint.id, type: message.type, err: error instanceof Error ? error.message : String(error) },
        'webhook attempt failed',
      );
      throw error;
    }
  };
}
