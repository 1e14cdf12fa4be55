// The admin API as a site's backend calls it (Node fetch, X-API-Key): used by the tests
// and by the embedding site's backend (tests/e2e/host-site.ts).
import { adminApiKey, serviceUrl } from './env.js';

export interface AdminUser {
  id: string;
  email: string;
  emailVerified: boolean;
  displayName: string;
  externalId: string | null;
  createdAt: string;
  credentialCount: number;
}

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${serviceUrl}${path}`, {
    method,
    headers: { 'X-API-Key': adminApiKey, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`admin API: ${method} ${path} answered ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export const createUser = (user: { email: string; displayName?: string; externalId?: string; emailVerified?: boolean }) =>
  admin<AdminUser>('POST', '/v1/admin/users', user);

export const getUser = (id: string) => admin<AdminUser>('GET', `/v1/admin/users/${id}`);

/** A single-use enrolment ticket for the user. */
export const createTicket = (userId: string) => admin<{ ticket: string; expiresAt: string }>('POST', `/v1/admin/users/${userId}/enrollments`, {});
