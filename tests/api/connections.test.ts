// What one client may hold of the HTTP server, and what Node's parser refuses
// before Express sees a request, driven over raw sockets.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';

let service: TestService;
afterEach(() => service.close());

/** A raw connection to the service; `received` is everything it sent, `closed` settles when the socket is gone. */
async function open(url: string, options: { allowHalfOpen?: boolean } = {}) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port), allowHalfOpen: options.allowHalfOpen ?? false });
  let received = '';
  socket.on('data', (chunk) => (received += chunk));
  socket.on('error', () => {}); // a reset is one way of being closed
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, closed, received: () => received };
}

/** One request over a fresh connection, the whole answer once the service closes it. */
async function exchange(url: string, request: string): Promise<{ status: number; headers: string; body: string }> {
  const connection = await open(url);
  connection.socket.write(request);
  await connection.closed;
  const [head = '', body = ''] = connection.received().split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), headers: head, body };
}

describe('slow clients', () => {
  it('a client that never finishes its headers is answered 408 and disconnected after HEADERS_TIMEOUT_SECONDS', async () => {
    service = await startService({ HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '30' });
    // It trickles a header now and then, and never closes its side.
    const client = await open(service.url, { allowHalfOpen: true });
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    const trickle = setInterval(() => client.socket.writable && client.socket.write('X-Slow: 1\r\n'), 200);
    try {
      await client.closed;
    } finally {
      clearInterval(trickle);
    }
    expect(client.received()).toMatch(/^HTTP\/1.1 408 /);
    expect(JSON.parse(client.received().split('\r\n\r\n')[1]!)).toMatchObject({ status: 408, code: 'request_timeout' });
  });

  it('a client that never finishes its body is disconnected after REQUEST_TIMEOUT_SECONDS', async () => {
    service = await startService({ HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '2' });
    const client = await open(service.url, { allowHalfOpen: true });
    client.socket.write('POST /v1/tokens HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"email":');
    const trickle = setInterval(() => client.socket.writable && client.socket.write(' '), 200);
    try {
      await client.closed;
    } finally {
      clearInterval(trickle);
    }
    expect(client.received()).toMatch(/^HTTP\/1.1 408 /);
  });

  it('connections above MAX_CONNECTIONS are closed at once, and the service goes on answering the others', async () => {
    service = await startService({ MAX_CONNECTIONS: '3' });
    const held = [await open(service.url), await open(service.url), await open(service.url)];
    const refused = await open(service.url);
    await refused.closed;
    expect(refused.received()).toBe('');

    held[0]!.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await held[0]!.closed;
    expect(held[0]!.received()).toMatch(/^HTTP\/1.1 200 /);
    // A place is free again.
    await expect
      .poll(() => exchange(service.url, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n').then((reply) => reply.status))
      .toBe(200);
    for (const connection of held) connection.socket.destroy();
  });
});

describe('requests Node would refuse with a bare answer', () => {
  it('an HTTP/1.1 request without Host -> 400 invalid_request problem+json, under /v1 with no-store', async () => {
    service = await startService();
    for (const path of ['/healthz', '/v1/me']) {
      const reply = await exchange(service.url, `GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`);
      expect(reply.status).toBe(400);
      expect(reply.headers).toMatch(/\r\nContent-Type: application\/problem\+json/i);
      expect(JSON.parse(reply.body)).toMatchObject({ status: 400, code: 'invalid_request' });
    }
    expect((await exchange(service.url, 'GET /v1/me HTTP/1.1\r\nConnection: close\r\n\r\n')).headers).toMatch(/\r\nCache-Control: no-store/i);
  });

  it('two Host headers -> 400 invalid_request; HTTP/1.0 needs none', async () => {
    service = await startService();
    const twice = await exchange(service.url, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body)).toMatchObject({ code: 'invalid_request' });
    expect((await exchange(service.url, 'GET /healthz HTTP/1.0\r\n\r\n')).status).toBe(200);
  });

  it('headers over the limit -> 431 headers_too_large problem+json', async () => {
    service = await startService();
    const reply = await exchange(service.url, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(reply.status).toBe(431);
    expect(reply.headers).toMatch(/\r\nContent-Type: application\/problem\+json/i);
    expect(JSON.parse(reply.body)).toMatchObject({ status: 431, code: 'headers_too_large', title: 'Request Header Fields Too Large' });
  });
});
