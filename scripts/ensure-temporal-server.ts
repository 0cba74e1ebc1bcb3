/**
 * Finds or builds the real Temporal server and its SQL schema tool, for the production lane
 * (scripts/prod-temporal.ts). Built the way the CLI is (scripts/ensure-temporal.ts): one
 * `go install go.temporal.io/server/cmd/{server,tools/sql}@v1.29.1` into the per-user cache
 * (~/.cache/mend/temporal-server/v1.29.1/), under a lock, with progress on stderr.
 * $TEMPORAL_SERVER_PATH and $TEMPORAL_SQL_TOOL_PATH name prebuilt binaries instead.
 * Run directly, it prints both paths on stdout.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { acquireLock, findOnPath, goInstall, TemporalNotFoundError } from './ensure-temporal';

const execFileAsync = promisify(execFile);

/** The server version docker-compose.yml runs too (test/docker-compose.test.ts holds them equal). */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
const MODULE = 'go.temporal.io/server';
const PACKAGES = [`${MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`, `${MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`];
/** `go install` names binaries after their package folder; the cache uses the names of Temporal's images. */
const BINARIES = { server: 'temporal-server', sql: 'temporal-sql-tool' } as const;

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  /** `temporal-server --version`. */
  version: string;
  source: 'env' | 'cache' | 'built';
  /** Wall-clock time of the build, when this call built them. */
  buildMs?: number;
}

export function serverCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'mend', 'temporal-server', TEMPORAL_SERVER_VERSION);
}

/**
 * The server module's folder in Go's module cache (its `schema/` holds the versioned SQL schemas
 * the SQL tool applies). Present after the build, which downloads the module.
 */
export async function serverModuleDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const go = await findOnPath('go', env);
  let modCache = env.GOMODCACHE;
  if (!modCache && go) modCache = (await execFileAsync(go, ['env', 'GOMODCACHE'], { env })).stdout.trim();
  if (!modCache) modCache = path.join(env.GOPATH || path.join(env.HOME || os.homedir(), 'go'), 'pkg', 'mod');
  const dir = path.join(modCache, `${MODULE}@${TEMPORAL_SERVER_VERSION}`);
  try {
    await fs.access(path.join(dir, 'schema'));
  } catch {
    if (!go) throw new TemporalNotFoundError(`the Temporal server module is not in ${modCache} and Go is not installed to download it`);
    // `go mod download` outside a module fetches into the module cache (e.g. binaries came from the env).
    await execFileAsync(go, ['mod', 'download', `${MODULE}@${TEMPORAL_SERVER_VERSION}`], { env });
  }
  return dir;
}

async function runs(binary: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(binary, args, { timeout: 15_000 });
    return stdout.trim() || 'ok';
  } catch {
    return undefined;
  }
}

async function cached(dir: string): Promise<TemporalServerBinaries | undefined> {
  const server = path.join(dir, BINARIES.server);
  const sqlTool = path.join(dir, BINARIES.sql);
  const version = await runs(server, ['--version']);
  if (!version || !(await runs(sqlTool, ['--help']))) return undefined;
  return { server, sqlTool, version, source: 'cache' };
}

export async function ensureTemporalServer(opts: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {}): Promise<TemporalServerBinaries> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`[ensure-temporal-server] ${line}\n`));

  if (env.TEMPORAL_SERVER_PATH || env.TEMPORAL_SQL_TOOL_PATH) {
    const server = env.TEMPORAL_SERVER_PATH ?? '';
    const sqlTool = env.TEMPORAL_SQL_TOOL_PATH ?? '';
    const version = await runs(server, ['--version']);
    if (!version) throw new TemporalNotFoundError(`TEMPORAL_SERVER_PATH=${server} does not run (\`--version\` failed)`);
    if (!(await runs(sqlTool, ['--help']))) throw new TemporalNotFoundError(`TEMPORAL_SQL_TOOL_PATH=${sqlTool} does not run (\`--help\` failed)`);
    return { server, sqlTool, version, source: 'env' };
  }

  const dir = serverCacheDir(env);
  const found = await cached(dir);
  if (found) return found;

  const go = await findOnPath('go', env);
  if (!go)
    throw new TemporalNotFoundError(
      `No Temporal server in ${dir} and Go is not installed to build it. Install Go 1.24+ (mend runs go install ${PACKAGES.join(' ')}), ` +
        'set TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH, or run the production stack with docker compose up',
    );
  await fs.mkdir(dir, { recursive: true });
  const release = await acquireLock(path.join(dir, 'build.lock'), log, 'the Temporal server');
  let buildMs: number;
  try {
    const meanwhile = await cached(dir);
    if (meanwhile) return meanwhile;
    buildMs = await goInstall({
      go,
      packages: PACKAGES,
      binaries: BINARIES,
      what: `the Temporal server and SQL tool ${TEMPORAL_SERVER_VERSION}`,
      dir,
      env,
      log,
    });
  } finally {
    await release();
  }
  const built = await cached(dir);
  if (!built) throw new TemporalNotFoundError(`built the Temporal server into ${dir} but it does not run`);
  return { ...built, source: 'built', buildMs };
}

if (require.main === module) {
  ensureTemporalServer()
    .then((bin) => {
      process.stderr.write(`[ensure-temporal-server] using ${bin.server} (${bin.source}): ${bin.version}\n`);
      process.stdout.write(`${bin.server}\n${bin.sqlTool}\n`);
    })
    .catch((err: Error) => {
      process.stderr.write(`ensure-temporal-server: ${err.message}\n`);
      process.exit(1);
    });
}
