// METRICS_PORT: main.ts serves GET /metrics on a listener of its own, bound to
// METRICS_HOST, and nothing else there; the service's port then serves no metrics
// without METRICS_TOKEN.
import { expect, it } from 'vitest';
import { freePort, startProcess } from '../helpers/process.js';

it('with METRICS_PORT, metrics are served on that port alone, and not on the service port', async () => {
  const port = await freePort();
  const service = await startProcess({ METRICS_PORT: String(port), LOG_LEVEL: 'silent', DATABASE_URL: ':memory:' });
  const metrics = `http://127.0.0.1:${port}`;
  try {
    await fetch(`${service.url}/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const reply = await fetch(`${metrics}/metrics`);
    expect(reply.status).toBe(200);
    expect(await reply.text()).toContain('passkey_challenges_started_total{kind="authentication"} 1');
    expect((await fetch(`${metrics}/metrics`, { headers: { 'x-real-ip': '203.0.113.9' } })).status).toBe(404);
    expect((await fetch(`${metrics}/healthz`)).status).toBe(404);
    expect((await fetch(`${service.url}/metrics`)).status).toBe(404);
    expect(await service.stop()).toBe(0);
  } finally {
    await service.stop();
  }
});
