// Starts the outbox worker with a handler for each topic: emails through the configured
// mailer, webhooks to their endpoints.
import type { Deps } from './deps.js';
import { createMailer, type Email } from './email/mailer.js';
import { defaultOutboxOptions, startOutboxWorker, type OutboxOptions, type OutboxWorker } from './outbox.js';
import { webhookHandler } from './webhooks/delivery.js';

export interface DeliveryOptions extends Partial<OutboxOptions> {
  onWebhookAttempt?: (type: string, result: 'delivered' | 'failed') => void;
}

export function startDelivery(deps: Deps, options: DeliveryOptions = {}): OutboxWorker {
  const mailer = createMailer(deps.config.email, deps.log);
  const { onWebhookAttempt, ...outboxOptions } = options;
  const worker = startOutboxWorker(
    deps,
    { email: (payload) => mailer.send(payload as Email), webhook: webhookHandler(deps, onWebhookAttempt) },
    { ...defaultOutboxOptions, ...outboxOptions },
  );
  return {
    async stop() {
      await worker.stop();
      mailer.close();
    },
  };
}
