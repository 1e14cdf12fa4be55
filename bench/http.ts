// A small keep-alive HTTP JSON client: the load driver's only network code.
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface Reply {
  status: number;
  body: any;
  headers: IncomingHttpHeaders;
}

export function createClient(maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  // A keep-alive socket the server closed while idle fails the next write: the
  // request never left, so it is safe to send it once more on a fresh socket.
  async function call(base: URL, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    try {
      return await send(base, method, path, body, headers);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'EPIPE' && code !== 'ECONNRESET') throw error;
      return send(base, method, path, body, headers);
    }
  }

  function send(base: URL, method: string, path: string, body: unknown, extra: Record<string, string>): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = payload ? { ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : extra;
      const req = request({ agent, host: base.hostname, port: base.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, headers: res.headers });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
  return { call, close: () => agent.destroy() };
}
