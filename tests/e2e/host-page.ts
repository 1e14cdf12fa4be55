// Opening the embedding site (tests/e2e/host-site.ts) with a record of the events
// its embedded form dispatches.
import type { Page } from '@playwright/test';

export interface EmbedEvent {
  type: 'passkey:signed-in' | 'passkey:error';
  detail: { userId: string; token: string; expiresAt: string } & { code: string; message: string };
}

declare global {
  interface Window {
    passkeyEvents: EmbedEvent[];
  }
}

/** Opens `path` (the sign-in page unless given) of the embedding site at `origin`. */
export async function openHostPage(page: Page, origin: string, path = '/'): Promise<void> {
  await page.addInitScript(() => {
    window.passkeyEvents = [];
    for (const type of ['passkey:signed-in', 'passkey:error'] as const) {
      document.addEventListener(type, (event) => window.passkeyEvents.push({ type, detail: (event as CustomEvent).detail }));
    }
  });
  await page.goto(`${origin}${path}`);
}

export const embedEvents = (page: Page) => page.evaluate(() => window.passkeyEvents);
