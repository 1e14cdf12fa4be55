// Starts sending the emails the outbox holds, through the configured mailer.
import type { Deps } from '../deps.js';
import { defaultOutboxOptions, startOutboxWorker, type OutboxOptions, type OutboxWorker } from '../outbox.js';
import { createMailer, type Email } from './mailer.js';

export function startEmailDelivery(deps: Deps, options: Partial<OutboxOptions> = {}): OutboxWorker {
  const mailer = createMailer(deps.config.email, deps.log);
  const worker = startOutboxWorker(deps, { email: (payload) => mailer.send(payload as Email) }, { ...defaultOutboxOptions, ...options });
  return {
    async stop() {
      await worker.stop();
      mailer.close();
    },
  };
}
