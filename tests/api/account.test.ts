import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, signIn, signUp, SoftAuthenticator, startService, type TestService } from '../helpers/service.js';

let service: TestService;
let phone: SoftAuthenticator;
let token: string;
beforeEach(async () => {
  service = await startService();
  phone = new SoftAuthenticator();
  ({ token } = await signUp(service, phone, 'alice@example.com'));
});
afterEach(() => service.close());

const as = (value: string) => bearer(value);

async function addPasskey(authenticator: SoftAuthenticator, name?: string) {
  const start = await service.request('POST', '/v1/challenges', {}, as(token));
  const registration = await authenticator.createCredential(start.body.options);
  const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration, name }, as(token));
  expect(finish.status).toBe(201);
  return finish.body.credential;
}

describe('/v1/credentials', () => {
  it("lists the account's passkeys, oldest first", async () => {
    service.clock.advance(10);
    const laptop = await addPasskey(new SoftAuthenticator(), 'Laptop');
    const list = await service.request('GET', '/v1/credentials', undefined, as(token));
    expect(list.status).toBe(200);
    expect(list.body.credentials.map((c: { id: string }) => c.id)).toEqual([phone.credentials[0]!.idHex, laptop.id]);
    expect(list.body.credentials[1]).toMatchObject({ name: 'Laptop', lastUsedAt: null, deviceType: 'singleDevice', backedUp: false });
  });

  it('shows lastUsedAt after a sign-in', async () => {
    service.clock.advance(30);
    await signIn(service, phone);
    const list = await service.request('GET', '/v1/credentials', undefined, as(token));
    expect(list.body.credentials[0].lastUsedAt).toBe(service.clock.now.toISOString());
  });

  it('renames a passkey', async () => {
    const id = phone.credentials[0]!.idHex;
    const reply = await service.request('PATCH', `/v1/credentials/${id}`, { name: '  Phone  ' }, as(token));
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id, name: 'Phone' });
    const row = await service.deps.db.selectFrom('credentials').select('name').executeTakeFirstOrThrow();
    expect(row.name).toBe('Phone');
  });

  it('rename with an empty or overlong name -> 400 invalid_request', async () => {
    const id = phone.credentials[0]!.idHex;
    expect((await service.request('PATCH', `/v1/credentials/${id}`, { name: '   ' }, as(token))).status).toBe(400);
    expect((await service.request('PATCH', `/v1/credentials/${id}`, { name: 'x'.repeat(65) }, as(token))).status).toBe(400);
  });

  it('deletes a passkey when another remains', async () => {
    const laptop = await addPasskey(new SoftAuthenticator());
    expect((await service.request('DELETE', `/v1/credentials/${laptop.id}`, undefined, as(token))).status).toBe(204);
    const rows = await service.deps.db.selectFrom('credentials').select('id').execute();
    expect(rows).toEqual([{ id: phone.credentials[0]!.idHex }]);
  });

  it("deleting a passkey ends the sessions it opened, but not the caller's own", async () => {
    const laptop = new SoftAuthenticator();
    const laptopId = (await addPasskey(laptop)).id;
    const fromLaptop = (await signIn(service, laptop)).body.token;
    const alsoFromLaptop = (await signIn(service, laptop)).body.token;
    const fromPhone = (await signIn(service, phone)).body.token;
    expect((await service.request('DELETE', `/v1/credentials/${laptopId}`, undefined, as(alsoFromLaptop))).status).toBe(204);
    expect((await service.request('GET', '/v1/me', undefined, as(fromLaptop))).status).toBe(401);
    expect((await service.request('GET', '/v1/me', undefined, as(alsoFromLaptop))).status).toBe(200);
    expect((await service.request('GET', '/v1/me', undefined, as(fromPhone))).status).toBe(200);
    expect((await service.request('GET', '/v1/me', undefined, as(token))).status).toBe(200);
  });

  it('refuses to delete the last passkey -> 409 last_credential', async () => {
    const reply = await service.request('DELETE', `/v1/credentials/${phone.credentials[0]!.idHex}`, undefined, as(token));
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe('last_credential');
    expect(await service.deps.db.selectFrom('credentials').select('id').execute()).toHaveLength(1);
  });

  it('two concurrent deletes of the two passkeys leave one', async () => {
    const laptop = await addPasskey(new SoftAuthenticator());
    const replies = await Promise.all([
      service.request('DELETE', `/v1/credentials/${laptop.id}`, undefined, as(token)),
      service.request('DELETE', `/v1/credentials/${phone.credentials[0]!.idHex}`, undefined, as(token)),
    ]);
    expect(replies.map((r) => r.status).sort()).toEqual([204, 409]);
    expect(await service.deps.db.selectFrom('credentials').select('id').execute()).toHaveLength(1);
  });

  it("another user's passkey is 404 not_found for rename and delete, and untouched", async () => {
    const bob = new SoftAuthenticator();
    await signUp(service, bob, 'bob@example.com');
    await addPasskey(new SoftAuthenticator()); // alice has two, so only ownership stops the delete
    const bobsId = bob.credentials[0]!.idHex;
    const rename = await service.request('PATCH', `/v1/credentials/${bobsId}`, { name: 'mine now' }, as(token));
    const remove = await service.request('DELETE', `/v1/credentials/${bobsId}`, undefined, as(token));
    expect([rename.status, remove.status]).toEqual([404, 404]);
    expect(rename.body.code).toBe('not_found');
    const row = await service.deps.db.selectFrom('credentials').selectAll().where('id', '=', bobsId).executeTakeFirstOrThrow();
    expect(row.name).toBe('Passkey');
  });

  it('a malformed credential id -> 400 invalid_request', async () => {
    const reply = await service.request('DELETE', '/v1/credentials/not-hex!', undefined, as(token));
    expect(reply.status).toBe(400);
  });

  it('needs a token -> 401 unauthorized', async () => {
    expect((await service.request('GET', '/v1/credentials')).status).toBe(401);
    expect((await service.request('PATCH', `/v1/credentials/${phone.credentials[0]!.idHex}`, { name: 'x' })).status).toBe(401);
    expect((await service.request('DELETE', `/v1/credentials/${phone.credentials[0]!.idHex}`)).status).toBe(401);
  });
});
