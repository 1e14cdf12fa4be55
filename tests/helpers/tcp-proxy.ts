// A TCP proxy we can cut and restore, to take the database away from a service
// without touching the database server other tests use; or stall, to keep the
// connections open while no answer comes back (a hung server).
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** From now on, what the server sends is held back; connections stay open. */
  stall(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let stalled = false;
  let server: Server | undefined;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(target);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => socket.destroy());
        }
        client.pipe(upstream);
        if (stalled) upstream.pause();
        else upstream.pipe(client);
        pairs.add({ client, upstream });
        client.on('close', () => pairs.forEach((pair) => pair.client === client && pairs.delete(pair)));
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });

  const cut = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };

  await listen();
  const stall = () => {
    stalled = true;
    for (const { client, upstream } of pairs) {
      upstream.unpipe(client);
      upstream.pause();
    }
  };

  return { port, cut, restore: listen, stall, close: cut };
}
