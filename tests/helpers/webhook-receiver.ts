// A real webhook receiver for tests: an HTTP server that checks every delivery with the
// `standardwebhooks` library, as a site's backend would, and records what came. It can
// answer errors for a while, or hang, as a receiver that is down.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Delivery {
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed body when the signature verified with one of the receiver's secrets, else undefined. */
  event: { type: string; timestamp: string; data: Record<string, string> } | undefined;
  verifiedWith: string | undefined;
  status: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  deliveries: Delivery[];
  /** Verified events, in arrival order. */
  events(): NonNullable<Delivery['event']>[];
  /** Secrets a delivery may be signed with (set after registering the endpoint). */
  secrets: string[];
  /** Answer these statuses to the next deliveries, one each, then 200. */
  failNext(...statuses: number[]): void;
  /** While true, deliveries get no answer. */
  hanging: boolean;
  /** While set, every verified delivery is answered this status. */
  failWith: number | undefined;
  waitFor(count: number, timeoutMs?: number): Promise<NonNullable<Delivery['event']>[]>;
  close(): Promise<void>;
}

/** `port`: listen there (to come back at the URL of a receiver that was closed); a free one by default. */
export async function startWebhookReceiver({ port = 0 }: { port?: number } = {}): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  const failures: number[] = [];
  const waiters = new Set<() => void>();
  const state = { hanging: false, secrets: [] as string[], failWith: undefined as number | undefined };
  const verified = () => deliveries.filter((d) => d.event && d.status === 200).map((d) => d.event!);

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (state.hanging) return;
      const body = Buffer.concat(chunks).toString();
      let event: Delivery['event'];
      let verifiedWith: string | undefined;
      for (const secret of state.secrets) {
        try {
          event = new Webhook(secret).verify(body, req.headers as Record<string, string>) as Delivery['event'];
          verifiedWith = secret;
          break;
        } catch {}
      }
      const status = event ? (state.failWith ?? failures.shift() ?? 200) : 401;
      deliveries.push({ id: String(req.headers['webhook-id']), headers: req.headers, body, event, verifiedWith, status });
      res.writeHead(status).end();
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: listening } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${listening}/hooks`;

  return {
    url,
    port: listening,
    deliveries,
    events: verified,
    get secrets() {
      return state.secrets;
    },
    set secrets(value: string[]) {
      state.secrets = value;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(value: number | undefined) {
      state.failWith = value;
    },
    get hanging() {
      return state.hanging;
    },
    set hanging(value: boolean) {
      state.hanging = value;
    },
    failNext: (...statuses) => void failures.push(...statuses),
    waitFor(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (verified().length < count) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(verified());
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${verified().length} of ${count} webhooks within ${timeoutMs} ms: ${JSON.stringify(verified().map((e) => e.type))}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
