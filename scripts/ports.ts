import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * A TCP port free on loopback right now, for a server to listen on: picked at random below the
 * kernel's ephemeral range (32768-60999 by default). A port the OS hands out (listen on 0) is an
 * ephemeral one, and any outgoing connection may take it as its local port the moment it is free:
 * a service restarted on it (the port free between its stop and its start) then fails with
 * EADDRINUSE, as seen under a busy test run. Ports handed out by this process are not handed out
 * again.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = await freePortInRange(LISTEN_PORTS.low, LISTEN_PORTS.high, host);
    if (handedOut.has(port) || !reservedAcrossProcesses(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${LISTEN_PORTS.low} and ${LISTEN_PORTS.high} on ${host} that this process has not handed out`);
}

/**
 * The test runner's processes (test files running at once, and what they start) share a folder,
 * MEND_TEST_PORTS, holding a file per port handed out, created exclusively: a port one picked and
 * has not bound yet (a service started later in its test) is never picked by another. Seen without
 * it: a service that failed with EADDRINUSE while its recovery's probe was answered by another
 * file's service on the same port. Outside the runner (no MEND_TEST_PORTS), every port is taken as free.
 */
function reservedAcrossProcesses(port: number): boolean {
  const dir = process.env.MEND_TEST_PORTS;
  if (!dir) return true;
  try {
    closeSync(openSync(path.join(dir, String(port)), 'wx'));
    return true;
  } catch {
    return false; // another process of the run has it (or the folder is gone: the run is over)
  }
}

/** Where freePort picks: above the registered ports most tools default to, below the ephemeral range. */
const LISTEN_PORTS = { low: 20_000, high: 32_000 };
const handedOut = new Set<number>();

/** True when something accepts TCP connections on host:port. */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** True when nothing listens on host:port and this process could bind it right now. */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A port in [low, high] free on host right now, tried at random. For programs that cannot take the
 * OS's ephemeral ports: the Temporal server stores its membership ports in a PostgreSQL smallint
 * column (cluster_membership.rpc_port), so they must be below 32768.
 */
export async function freePortInRange(low: number, high: number, host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await bindable(port, host)) return port;
  }
  throw new Error(`no free port between ${low} and ${high} on ${host}`);
}
