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

export async function openHostPage(page: Page, origin: string): Promise<void> {
  await page.addInitScript(() => {
    window.passkeyEvents = [];
    for (const type of ['passkey:signed-in', 'passkey:error'] as const) {
      document.addEventListener(type, (event) => window.passkeyEvents.push({ type, detail: (event as CustomEvent).detail }));
    }
  });
  await page.goto(`${origin}/`);
}

export const embedEvents = (page: Page) => page.evaluate(() => window.passkeyEvents);
