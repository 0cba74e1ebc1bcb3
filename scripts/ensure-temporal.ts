/**
 * Finds or builds the Temporal CLI (which embeds the dev server and Web UI). Order:
 *   1. $TEMPORAL_CLI_PATH   2. `temporal` on PATH   3. the per-user cache
 *   4. `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into the cache (locked, with progress)
 * Run directly, it prints the binary's path on stdout; progress goes to stderr.
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;
/**
 * The CLI's release builds stamp its version at link time; a plain `go install` leaves the
 * default `0.0.0-DEV`, so the build sets it the same way and `temporal --version` says 1.5.1.
 */
const VERSION_LDFLAGS = `-ldflags=-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION.replace(/^v/, '')}`;
/** What a build without the stamp reports: such a cached binary is rebuilt (a relink with Go's build cache). */
const UNSTAMPED = '0.0.0-DEV';

export interface TemporalBinary {
  path: string;
  version: string;
  source: 'env' | 'path' | 'cache' | 'built';
}

export interface EnsureOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export class TemporalNotFoundError extends Error {
  override name = 'TemporalNotFoundError';
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'mend', 'temporal-cli', TEMPORAL_CLI_VERSION);
}

/** `temporal --version` output, or undefined when the file does not run. */
async function versionOf(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(binary, ['--version'], { timeout: 15_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

export async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await fs.access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

const HOW_TO_INSTALL = [
  'Install the Temporal CLI one of these ways and run again:',
  '  - Go 1.24+ on PATH: mend builds it itself (go install ' + GO_PACKAGE + ')',
  '  - Homebrew: brew install temporal',
  '  - a release download: https://github.com/temporalio/cli/releases (put `temporal` on PATH or set TEMPORAL_CLI_PATH)',
  '  - or run the production stack instead: docker compose up',
].join('\n');

export async function ensureTemporal(opts: EnsureOptions = {}): Promise<TemporalBinary> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`[ensure-temporal] ${line}\n`));

  if (env.TEMPORAL_CLI_PATH) {
    const version = await versionOf(env.TEMPORAL_CLI_PATH);
    if (!version) throw new TemporalNotFoundError(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} does not run (\`${env.TEMPORAL_CLI_PATH} --version\` failed)`);
    return { path: env.TEMPORAL_CLI_PATH, version, source: 'env' };
  }

  const onPath = await findOnPath('temporal', env);
  if (onPath) {
    const version = await versionOf(onPath);
    if (version) return { path: onPath, version, source: 'path' };
    log(`ignoring ${onPath}: \`temporal --version\` failed`);
  }

  const dir = cacheDir(env);
  const cached = path.join(dir, 'temporal');
  const cachedVersion = await versionOf(cached);
  if (cachedVersion && !cachedVersion.includes(UNSTAMPED)) return { path: cached, version: cachedVersion, source: 'cache' };

  const go = await findOnPath('go', env);
  if (!go)
    throw new TemporalNotFoundError(
      `No Temporal CLI found (TEMPORAL_CLI_PATH unset, none on PATH, none in ${dir}) and Go is not installed.\n${HOW_TO_INSTALL}`,
    );

  await fs.mkdir(dir, { recursive: true });
  const release = await acquireLock(path.join(dir, 'build.lock'), log);
  try {
    // Another process may have finished the build while we waited for the lock.
    const builtMeanwhile = await versionOf(cached);
    if (builtMeanwhile && !builtMeanwhile.includes(UNSTAMPED)) return { path: cached, version: builtMeanwhile, source: 'cache' };
    if (builtMeanwhile) log(`rebuilding ${cached}: it reports ${UNSTAMPED} (built without the version stamp)`);
    await goInstall({
      go,
      packages: [GO_PACKAGE],
      flags: [VERSION_LDFLAGS],
      binaries: { temporal: 'temporal' },
      what: `the Temporal CLI ${TEMPORAL_CLI_VERSION}`,
      dir,
      env,
      log,
      hint: HOW_TO_INSTALL,
    });
  } finally {
    await release();
  }
  const version = await versionOf(cached);
  if (!version) throw new TemporalNotFoundError(`built ${cached} but it does not run.\n${HOW_TO_INSTALL}`);
  return { path: cached, version, source: 'built' };
}

export interface GoInstall {
  go: string;
  /** `module/path/cmd@version` of each program to build, in one `go install`. */
  packages: string[];
  flags?: string[];
  /** Binary name `go install` writes -> its name in `dir`. */
  binaries: Record<string, string>;
  /** What is being built, for the progress lines. */
  what: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** Appended to a failure: how else to get the program. */
  hint?: string;
}

/**
 * `go install` into a staging folder next to `dir`, then renamed into place: a build that dies half
 * way leaves nothing in the cache that looks finished. Progress every 20s and a module-download count.
 * Returns the build's wall-clock time in ms. The caller holds the lock.
 */
export async function goInstall(spec: GoInstall): Promise<number> {
  const { go, dir, env, log } = spec;
  const staging = await fs.mkdtemp(path.join(dir, 'staging-'));
  const started = Date.now();
  log(`building ${spec.what} with Go (first run only; takes a few minutes) ...`);
  const ticker = setInterval(() => log(`still building ${spec.what} ... ${Math.round((Date.now() - started) / 1000)}s`), 20_000);
  try {
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(go, ['install', ...(spec.flags ?? []), ...spec.packages], {
        env: { ...env, GOBIN: staging },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let downloads = 0;
      const onData = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          output.push(line);
          if (line.startsWith('go: downloading')) {
            downloads += 1;
            if (downloads % 25 === 1) log(`downloading modules (${downloads} so far): ${line.slice('go: downloading '.length)}`);
          }
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0) {
      throw new TemporalNotFoundError(
        `go install ${spec.packages.join(' ')} failed (exit ${code}):\n${output.slice(-15).join('\n')}${spec.hint ? `\n${spec.hint}` : ''}`,
      );
    }
    for (const [built, name] of Object.entries(spec.binaries)) await fs.rename(path.join(staging, built), path.join(dir, name));
    const took = Date.now() - started;
    log(
      `built ${Object.values(spec.binaries)
        .map((name) => path.join(dir, name))
        .join(', ')} in ${Math.round(took / 1000)}s`,
    );
    return took;
  } finally {
    clearInterval(ticker);
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** A lock directory holding the owner's pid; a lock whose owner died is taken over. */
export async function acquireLock(lockDir: string, log: (line: string) => void, what = 'the Temporal CLI'): Promise<() => Promise<void>> {
  let announced = false;
  for (;;) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'owner'), String(process.pid));
      return () => fs.rm(lockDir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(await fs.readFile(path.join(lockDir, 'owner'), 'utf8').catch(() => '0'));
    if (owner > 0 && !processExists(owner)) {
      log(`removing a stale build lock left by pid ${owner}`);
      await fs.rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log(`another process${owner ? ` (pid ${owner})` : ''} is building ${what}; waiting for it ...`);
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

if (require.main === module) {
  ensureTemporal()
    .then((bin) => {
      process.stderr.write(`[ensure-temporal] using ${bin.path} (${bin.source}): ${bin.version}\n`);
      process.stdout.write(`${bin.path}\n`);
    })
    .catch((err: Error) => {
      process.stderr.write(`ensure-temporal: ${err.message}\n`);
      process.exit(1);
    });
}
