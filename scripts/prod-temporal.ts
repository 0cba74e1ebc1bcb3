/**
 * The production topology, natively: a private PostgreSQL cluster and the real Temporal server
 * (v1.29.1, built by scripts/ensure-temporal-server.ts) on free ports, with the schemas set up by
 * Temporal's SQL tool, the server config kept in deploy/temporal/ (the file docker-compose.yml mounts),
 * the namespace and mend's search attributes. Everything it starts it stops, by pid.
 *
 *   node --import tsx scripts/prod-temporal.ts [--data DIR] [--port N]
 *
 * Without --data the cluster lives in a temporary folder removed on exit; with it, the folder is kept
 * and a second start reuses the database (schemas are migrated, never recreated). Stops on Ctrl-C.
 * Used by `npm run test:prod` (scripts/run-tests.ts --prod).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { DEFAULT_NAMESPACE, SEARCH_ATTRIBUTES } from '../core/constants';
import { ensureTemporalServer, serverModuleDir } from './ensure-temporal-server';
import { freePort, freePortInRange } from './ports';
import { ensureSearchAttributes } from './temporal-server';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');

/** The server's config folder and environment name: deploy/temporal/production.yaml. */
export const CONFIG_DIR = 'deploy/temporal';
export const CONFIG_ENV = 'production';
export const DYNAMIC_CONFIG_FILE = 'deploy/temporal/dynamicconfig/production.yaml';
/** Namespace retention, the same as the compose setup's `temporal operator namespace create --retention`. */
export const NAMESPACE_RETENTION_HOURS = 72;

/**
 * The environment production.yaml reads, minus addresses and ports: the values docker-compose.yml
 * must set the same (test/docker-compose.test.ts compares them key by key).
 */
export const SERVER_SETTINGS = {
  DB: 'postgres12',
  DBNAME: 'temporal',
  VISIBILITY_DBNAME: 'temporal_visibility',
  NUM_HISTORY_SHARDS: '4',
  POSTGRES_USER: 'temporal',
  LOG_LEVEL: 'warn',
} as const;

/** Variables production.yaml reads that name where things are (they differ between native and compose). */
export const LOCATION_SETTINGS = [
  'POSTGRES_SEEDS',
  'DB_PORT',
  'POSTGRES_PWD',
  'TEMPORAL_BIND_IP',
  'TEMPORAL_BROADCAST_ADDRESS',
  'FRONTEND_GRPC_PORT',
  'FRONTEND_HTTP_PORT',
  'FRONTEND_MEMBERSHIP_PORT',
  'HISTORY_GRPC_PORT',
  'HISTORY_MEMBERSHIP_PORT',
  'MATCHING_GRPC_PORT',
  'MATCHING_MEMBERSHIP_PORT',
  'WORKER_GRPC_PORT',
  'WORKER_MEMBERSHIP_PORT',
  'PROMETHEUS_PORT',
  'DYNAMIC_CONFIG_FILE_PATH',
] as const;

const PASSWORD = 'temporal';

export interface ProdTemporalOptions {
  /** Cluster folder kept across runs; a temporary one (removed on stop) when omitted. */
  dataDir?: string;
  /** Frontend gRPC port; free when omitted. */
  port?: number;
  /** fsync off: for throwaway test databases only. */
  fast?: boolean;
  /**
   * With `fast`: keep synchronous_commit on, so a commit the server was told of survives a crash of
   * PostgreSQL's processes (fsync off only loses data when the machine itself goes down). The chaos
   * runner kills PostgreSQL: without this an acknowledged write could vanish and count as lost.
   */
  crashSafe?: boolean;
  log?: (line: string) => void;
}

export interface ProdTemporal {
  address: string;
  namespace: string;
  postgresPort: number;
  dataDir: string;
  serverPid: number;
  postgresPid: number;
  serverVersion: string;
  logs: { postgres: string; server: string };
  /** Timings of the start-up phases, ms. */
  timings: Record<string, number>;
  /** SIGKILLs the Temporal server and waits for it to be gone (PostgreSQL keeps running). */
  killServer(): Promise<void>;
  /** Starts the server again on the same database, ports and config; resolves once it answers. */
  startServer(): Promise<void>;
  /**
   * Stops PostgreSQL (`immediate`: SIGQUIT, crash recovery on the next start; `fast`: SIGINT) and
   * starts it again on the same folder and port; the server meanwhile keeps running and reconnects.
   */
  restartPostgres(mode: 'immediate' | 'fast'): Promise<void>;
  stop(): Promise<void>;
}

const PG_PROGRAMS = ['initdb', 'postgres', 'pg_isready'];

/** A folder with initdb, postgres and pg_isready: on PATH, else the newest of Debian's /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string {
  const complete = (dir: string) => PG_PROGRAMS.every((p) => existsSync(path.join(dir, p)));
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir && complete(dir)) return dir;
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const major of majors) if (complete(path.join(base, major, 'bin'))) return path.join(base, major, 'bin');
  throw new Error('PostgreSQL is not installed: run `sh scripts/install-prod-deps.sh` (Debian: apt-get install postgresql)');
}

/** initdb and postgres refuse to run as root: as root, they run as the `postgres` user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

interface Child {
  proc: ChildProcess;
  exited: Promise<void>;
  why(): string | undefined;
  stop(signal: NodeJS.Signals, graceMs: number): Promise<void>;
}

function startChild(cmd: string, args: string[], opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; user?: { uid: number; gid: number } }): Child {
  const fd = openSync(opts.logFile, 'a');
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd], ...(opts.user ?? {}) });
  closeSync(fd);
  let why: string | undefined;
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => ((why = `exit ${code ?? signal}`), resolve()));
    proc.once('error', (err) => ((why = err.message), resolve()));
  });
  return {
    proc,
    exited,
    why: () => why,
    async stop(signal, graceMs) {
      if (why === undefined) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitUntil(what: string, timeoutMs: number, died: () => string | undefined, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const why = died();
    if (why) throw new Error(`${what}: the process stopped (${why})`);
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not ready after ${timeoutMs}ms${last ? ` (${last.split('\n')[0]})` : ''}`);
}

export async function startProdTemporal(opts: ProdTemporalOptions = {}): Promise<ProdTemporal> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`[prod-temporal] ${line}\n`));
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (name: string) => {
    timings[name] = Date.now() - t;
    t = Date.now();
  };

  const bins = await ensureTemporalServer({ log });
  const schemaRoot = path.join(await serverModuleDir(), 'schema', 'postgresql', 'v12');
  const pgBin = postgresBinDir();
  lap('binaries');

  const temporary = !opts.dataDir;
  const dataDir = path.resolve(opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'mend-prod-')));
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755); // the postgres user walks through it to its own pgdata
  const pgData = path.join(dataDir, 'pgdata');
  const logs = { postgres: path.join(dataDir, 'postgres.log'), server: path.join(dataDir, 'temporal-server.log') };
  const user = runAs();
  let postgres: Child | undefined;
  let server: Child | undefined;
  const stop = async () => {
    // The server first (it holds connections), then PostgreSQL with a fast shutdown (SIGINT).
    await server?.stop('SIGTERM', 20_000);
    await postgres?.stop('SIGINT', 20_000);
    server = postgres = undefined;
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    if (!existsSync(path.join(pgData, 'PG_VERSION'))) {
      mkdirSync(pgData, { recursive: true, mode: 0o700 });
      const pwfile = path.join(dataDir, 'pwfile');
      writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
      if (user) for (const p of [pgData, pwfile]) chownSync(p, user.uid, user.gid);
      await execFileAsync(
        path.join(pgBin, 'initdb'),
        [
          '-D',
          pgData,
          '-U',
          SERVER_SETTINGS.POSTGRES_USER,
          `--pwfile=${pwfile}`,
          '--auth-host=scram-sha-256',
          '--auth-local=trust',
          '-E',
          'UTF8',
          '--locale=C',
        ],
        { ...(user ?? {}), env: { ...process.env, HOME: dataDir } },
      );
      rmSync(pwfile);
      lap('initdb');
    }
    const postgresPort = await freePort();
    const pgArgs = ['-D', pgData, '-p', String(postgresPort), '-k', pgData, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'];
    if (opts.fast) pgArgs.push('-c', 'fsync=off', '-c', `synchronous_commit=${opts.crashSafe ? 'on' : 'off'}`, '-c', 'full_page_writes=off');
    const startPostgres = async () => {
      const child = startChild(path.join(pgBin, 'postgres'), pgArgs, { logFile: logs.postgres, user, env: { ...process.env, HOME: dataDir } });
      postgres = child;
      await waitUntil('PostgreSQL', 60_000, child.why, async () => {
        await execFileAsync(path.join(pgBin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(postgresPort), '-U', SERVER_SETTINGS.POSTGRES_USER]);
        return true;
      });
    };
    const sql = (db: string, ...args: string[]) =>
      execFileAsync(bins.sqlTool, [
        '--plugin',
        SERVER_SETTINGS.DB,
        '--ep',
        '127.0.0.1',
        '-p',
        String(postgresPort),
        '-u',
        SERVER_SETTINGS.POSTGRES_USER,
        '--pw',
        PASSWORD,
        '--db',
        db,
        ...args,
      ]);
    await startPostgres();
    lap('postgres');

    // The same three steps for both databases as docker-compose.yml's temporal-schema service.
    for (const [db, folder] of [
      [SERVER_SETTINGS.DBNAME, 'temporal'],
      [SERVER_SETTINGS.VISIBILITY_DBNAME, 'visibility'],
    ] as const) {
      let created = true;
      await sql(db, 'create-database').catch((err: Error & { stderr?: string }) => {
        if (!/already exists/i.test(`${err.message}${err.stderr ?? ''}`)) throw err;
        created = false;
      });
      if (created) await sql(db, 'setup-schema', '-v', '0.0');
      await sql(db, 'update-schema', '-d', path.join(schemaRoot, folder, 'versioned'));
    }
    lap('schemas');

    const ip = '127.0.0.1';
    const taken = new Set<number>([postgresPort]);
    const port = async (fixed?: number) => {
      if (fixed) return (taken.add(fixed), fixed);
      for (;;) {
        // Below 32768: membership ports go into a smallint column, and ephemeral ports are above it.
        const p = await freePortInRange(20_000, 32_767, ip);
        if (!taken.has(p)) return (taken.add(p), p);
      }
    };
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...SERVER_SETTINGS,
      POSTGRES_SEEDS: '127.0.0.1',
      DB_PORT: String(postgresPort),
      POSTGRES_PWD: PASSWORD,
      TEMPORAL_BIND_IP: ip,
      TEMPORAL_BROADCAST_ADDRESS: ip,
      FRONTEND_GRPC_PORT: String(await port(opts.port)),
      DYNAMIC_CONFIG_FILE_PATH: path.join(ROOT, DYNAMIC_CONFIG_FILE),
    };
    for (const key of LOCATION_SETTINGS) if (env[key] === undefined) env[key] = String(await port());
    const address = `${ip}:${env.FRONTEND_GRPC_PORT}`;
    const namespace = DEFAULT_NAMESPACE;
    /** Starts the server (same env, so the same ports) and resolves with a connection once it answers. */
    const startServer = async (): Promise<Connection> => {
      const child = startChild(bins.server, ['--root', ROOT, '--config', CONFIG_DIR, '--env', CONFIG_ENV, '--allow-no-auth', 'start'], {
        logFile: logs.server,
        env,
        cwd: ROOT,
      });
      server = child;
      let conn: Connection | undefined;
      try {
        await waitUntil(`Temporal server on ${address} (log: ${logs.server})`, 120_000, child.why, async () => {
          conn ??= await Connection.connect({ address, connectTimeout: 2_000 });
          await conn.withDeadline(Date.now() + 5_000, () => conn!.workflowService.getSystemInfo({}));
          return true;
        });
      } catch (err) {
        await conn?.close();
        await child.stop('SIGKILL', 0); // not left running half-started: a retry starts a fresh one
        throw err;
      }
      return conn!;
    };

    const connection = await startServer();
    try {
      lap('server');
      await waitUntil(
        'the namespace',
        60_000,
        () => server?.why(),
        async () => {
          try {
            await connection.workflowService.describeNamespace({ namespace });
            return true;
          } catch {
            await connection.workflowService
              .registerNamespace({
                namespace,
                workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_HOURS}h`),
              })
              .catch((err: Error) => {
                if (!/already/i.test(err.message)) throw err;
              });
            return false;
          }
        },
      );
      // The frontend's namespace cache refreshes every few seconds: registering can fail at first.
      await waitUntil(
        'the search attributes',
        60_000,
        () => server?.why(),
        async () => {
          await ensureSearchAttributes(connection, namespace);
          const listed = await connection.operatorService.listSearchAttributes({ namespace });
          return Object.keys(SEARCH_ATTRIBUTES).every((name) => name in (listed.customAttributes ?? {}));
        },
      );
      lap('namespace');
    } finally {
      await connection.close();
    }
    log(`Temporal ${bins.version} at ${address} (namespace ${namespace}) on PostgreSQL 127.0.0.1:${postgresPort}; data in ${dataDir}`);
    return {
      address,
      namespace,
      postgresPort,
      dataDir,
      get serverPid() {
        return server?.proc.pid ?? 0;
      },
      get postgresPid() {
        return postgres?.proc.pid ?? 0;
      },
      serverVersion: bins.version,
      logs,
      timings,
      async killServer() {
        await server?.stop('SIGKILL', 0);
      },
      async startServer() {
        if (server && server.why() === undefined) throw new Error('the Temporal server is already running');
        await (await startServer()).close();
      },
      async restartPostgres(mode) {
        await postgres?.stop(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT', 20_000);
        await startPostgres();
      },
      stop,
    };
  } catch (err) {
    // The logs go with a temporary folder: their last lines go into the error.
    const tail = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-8).join('\n') : '');
    const detail = [logs.server, logs.postgres].map((f) => [f, tail(f)] as const).filter(([, t]) => t);
    await stop().catch(() => undefined);
    (err as Error).message += detail.map(([f, t]) => `\n--- last lines of ${path.basename(f)}:\n${t}`).join('');
    throw err;
  }
}

function parseArgs(argv: string[]): ProdTemporalOptions {
  const opts: ProdTemporalOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--data') opts.dataDir = argv[++i];
    else if (arg === '--port') opts.port = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg} (usage: prod-temporal.ts [--data DIR] [--port N])`);
  }
  if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port > 0 && opts.port < 65536)) throw new Error('--port: expected a TCP port number');
  return opts;
}

if (require.main === module) {
  (async () => {
    const stack = await startProdTemporal(parseArgs(process.argv.slice(2)));
    process.stdout.write(`${stack.address}\n`);
    process.stderr.write(`[prod-temporal] ready; Ctrl-C stops the server (pid ${stack.serverPid}) and PostgreSQL (pid ${stack.postgresPid})\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await stack.stop();
  })().catch((err: Error) => {
    process.stderr.write(`prod-temporal: ${err.message}\n`);
    process.exit(1);
  });
}
