/**
 * Starts `temporal server start-dev` as a child process, waits until its namespace answers, and
 * makes sure mend's search attributes exist (idempotently: `--search-attribute` only applies
 * when a database is first created). Used by `npm start` and by the test runner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DEFAULT_NAMESPACE, SEARCH_ATTRIBUTES } from '../core/constants';
import { freePort } from './ports';

export interface DevServerOptions {
  binary: string;
  ip?: string;
  port?: number;
  /** A port for the Web UI, or `false` for a headless server. */
  uiPort?: number | false;
  /** Ports of the server's HTTP API and Prometheus `/metrics`; free ports when omitted. */
  httpPort?: number;
  metricsPort?: number;
  /** SQLite file for a persistent server; in-memory when omitted. */
  dbFile?: string;
  /** WAL + synchronous=OFF: fast, for throwaway test databases only. */
  fastSqlite?: boolean;
  namespace?: string;
  /**
   * Starts the server in a process group of its own, so that a signal to the caller's group (Ctrl-C in
   * a terminal) does not reach it: the caller stops it last, once its workers have drained. It is
   * still killed if the caller dies (a parent-death signal, set by util-linux's setpriv; without
   * setpriv the server stays in the caller's group).
   */
  ownProcessGroup?: boolean;
  /** Where the server's own output goes; discarded when omitted. */
  logFile?: string;
  readyTimeoutMs?: number;
  /** Ports the caller will listen on later (e.g. the API's): never picked for the server's own HTTP and metrics ports. */
  avoidPorts?: number[];
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  httpPort: number;
  metricsPort: number;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

const ENABLE_UPDATES = 'frontend.enableUpdateWorkflowExecution=true';
/**
 * Eager activity dispatch: a worker completing a workflow task gets the activities it just scheduled
 * on the workflow's own queue back in the answer, instead of polling for them through matching.
 */
const ENABLE_EAGER_ACTIVITIES = 'system.enableActivityEagerExecution=true';

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(ip));
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--namespace', namespace, '--log-level', 'warn'];
  // A port free now may be one the caller is about to listen on, or one picked a moment ago: skip those.
  const taken = new Set([
    port,
    ...(opts.avoidPorts ?? []),
    ...[opts.uiPort, opts.httpPort, opts.metricsPort].filter((p): p is number => typeof p === 'number'),
  ]);
  const spare = async () => {
    for (;;) {
      const candidate = await freePort(ip);
      if (taken.has(candidate)) continue;
      taken.add(candidate);
      return candidate;
    }
  };
  const httpPort = opts.httpPort ?? (await spare());
  const metricsPort = opts.metricsPort ?? (await spare());
  args.push('--http-port', String(httpPort), '--metrics-port', String(metricsPort));
  if (opts.uiPort === false) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort ?? (await spare())));
  if (opts.dbFile) {
    mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (opts.fastSqlite) args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  args.push('--dynamic-config-value', ENABLE_UPDATES, '--dynamic-config-value', ENABLE_EAGER_ACTIVITIES);

  for (let attempt = 1; ; attempt++) {
    const logStart = opts.logFile && existsSync(opts.logFile) ? statSync(opts.logFile).size : 0;
    try {
      return await startOnce(opts, args, ip, port, namespace, httpPort, metricsPort);
    } catch (err) {
      // The CLI picks the ports of the server's inner services itself, and on a busy machine another
      // process can take one between its pick and its bind: the server then exits at once. Another
      // start picks others. Only that case is retried; any other failure is the caller's to see.
      if (attempt >= START_ATTEMPTS || !opts.logFile || !innerPortTaken(opts.logFile, logStart)) throw err;
    }
  }
}

/** Sets a parent-death signal, then runs the server in its place (same pid). */
const SETPRIV = '/usr/bin/setpriv';

/** Starts of the dev server tried when one exits because a port it picked itself was taken meanwhile. */
const START_ATTEMPTS = 3;

function innerPortTaken(logFile: string, from: number): boolean {
  try {
    return readFileSync(logFile).subarray(from).toString('utf8').includes('bind: address already in use');
  } catch {
    return false;
  }
}

async function startOnce(
  opts: DevServerOptions,
  args: string[],
  ip: string,
  port: number,
  namespace: string,
  httpPort: number,
  metricsPort: number,
): Promise<DevServer> {
  let logFd: number | undefined;
  if (opts.logFile) {
    mkdirSync(path.dirname(opts.logFile), { recursive: true });
    logFd = openSync(opts.logFile, 'a');
  }
  const ownGroup = opts.ownProcessGroup === true && existsSync(SETPRIV);
  const [command, commandArgs] = ownGroup ? [SETPRIV, ['--pdeathsig', 'KILL', '--', opts.binary, ...args]] : [opts.binary, args];
  const child = spawn(command, commandArgs, { stdio: ['ignore', logFd ?? 'ignore', logFd ?? 'ignore'], detached: ownGroup });
  if (logFd !== undefined) closeSync(logFd);
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exit ${code ?? signal}`;
      resolve();
    });
    child.once('error', (err) => {
      exited = err.message;
      resolve();
    });
  });

  const address = `${ip}:${port}`;
  const stop = async () => {
    if (exited === undefined) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exitPromise;
    clearTimeout(timer);
  };

  try {
    await waitReady(address, namespace, opts.readyTimeoutMs ?? 60_000, () => exited);
  } catch (err) {
    await stop();
    const hint = opts.logFile ? ` (server log: ${opts.logFile})` : '';
    throw new Error(`${(err as Error).message}${hint}`);
  }
  const uiPortIndex = args.indexOf('--ui-port');
  const uiUrl = uiPortIndex >= 0 ? `http://localhost:${args[uiPortIndex + 1]}` : undefined;
  return { address, uiUrl, httpPort, metricsPort, pid: child.pid!, child, stop };
}

async function waitReady(address: string, namespace: string, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'not answering';
  while (Date.now() < deadline) {
    const why = exited();
    if (why) throw new Error(`temporal dev server stopped during start-up (${why})`);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.withDeadline(Date.now() + 2_000, () => connection!.workflowService.describeNamespace({ namespace }));
      await ensureSearchAttributes(connection, namespace);
      return;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      await connection?.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`temporal dev server on ${address} not ready after ${timeoutMs}ms: ${lastError}`);
}

const INDEXED_VALUE_TYPE: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KeywordList: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** Registers whichever mend search attributes the namespace lacks; a second call changes nothing. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !have.has(name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]!])),
  });
  return missing.map(([name]) => name);
}
