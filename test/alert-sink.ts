/** A real webhook receiver on loopback that keeps every alert a supervisor POSTs to it. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Alert {
  kind: string;
  component: string;
  text: string;
  details?: Record<string, unknown>;
}

export interface AlertSink {
  url: string;
  alerts: Alert[];
  close(): void;
}

export async function startAlertSink(): Promise<AlertSink> {
  const alerts: Alert[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      alerts.push(JSON.parse(body) as Alert);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, alerts, close: () => server.close() };
}
