/** The webhook alert: a JSON body with a Slack-compatible `text`; a failed delivery is reported, never thrown. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { postWebhook } from '../domain/notify/webhook';
import { freePort } from '../scripts/ports';

describe('webhook alerts', () => {
  const received: Array<{ headers: http.IncomingHttpHeaders; body: Record<string, unknown> }> = [];
  let server: http.Server;
  let base: string;

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.url === '/slow') return; // never answers
        received.push({ headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
        res.writeHead(req.url === '/broken' ? 500 : 200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('posts JSON with text, kind, component and details', async () => {
    const result = await postWebhook(
      `${base}/hook`,
      { kind: 'breaker-open', component: 'api', text: 'api: circuit breaker OPEN', details: { reason: 'flapping' } },
      2_000,
    );
    assert.deepEqual(result, { delivered: true, status: 200, detail: 'HTTP 200' });
    const last = received.at(-1)!;
    assert.equal(last.headers['content-type'], 'application/json');
    assert.equal(last.body.text, 'mend: api: circuit breaker OPEN');
    assert.equal(last.body.kind, 'breaker-open');
    assert.equal(last.body.component, 'api');
    assert.deepEqual(last.body.details, { reason: 'flapping' });
    assert.ok(!Number.isNaN(Date.parse(String(last.body.at))));
  });

  test('an error status, a refused connection and a timeout are reported, not thrown', async () => {
    const event = { kind: 'recovery-failed', component: 'api', text: 'x' };
    assert.deepEqual(await postWebhook(`${base}/broken`, event, 2_000), { delivered: false, status: 500, detail: 'HTTP 500' });
    const refused = await postWebhook(`http://127.0.0.1:${await freePort()}/hook`, event, 2_000);
    assert.equal(refused.delivered, false);
    assert.match(refused.detail, /ECONNREFUSED/);
    const slow = await postWebhook(`${base}/slow`, event, 300);
    assert.equal(slow.delivered, false);
    assert.match(slow.detail, /TimeoutError/);
  });
});
