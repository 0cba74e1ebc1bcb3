/**
 * The `process` adapter: mend starts, stops and watches a local process through a pid file.
 * A pid file records the pid and the kernel's start time of the process, so a reused pid is never
 * taken for the component, and a zombie (exited, not yet reaped) counts as dead.
 */
import { promises as fs, openSync, closeSync, fstatSync, readFileSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { Adapter, ProcessAdapter } from '../../core/schemas';
import { createKeyedTurns } from '../keyed-turns';
import { launch, LaunchError, LauncherGoneError, type ProcessExit } from './launcher-client';
import { liveProcStat, readProcStat } from './proc-stat';

export { liveProcStat, readProcStat, type ProcStat } from './proc-stat';

export interface PidRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
  startTicks: number;
  command: string[];
  startedAt: string;
  /** Size of the log file when this process was spawned: where its own output begins. */
  logOffset?: number;
  /**
   * Who started it when that was not a recovery (a run or a pid watch), e.g. `npm start` for the dev
   * stack's fleet. A retried restart takes a live process started since it was scheduled for its own
   * earlier attempt's start only when this is unset (see startedByEarlierAttempt in activities/restart.ts).
   */
  startedBy?: string;
}

export class CommandNotFoundError extends Error {
  override name = 'CommandNotFoundError';
}

/** True while the recorded process runs: same pid, same start time, not a zombie. */
export function isAlive(record: PidRecord): boolean {
  return liveProcStat(record.pid)?.startTicks === record.startTicks;
}

/**
 * The pid file's record. A start's validation and its probes look every 20–100 ms while the process
 * comes up, 50 of them at once in a mass outage; so the last record read is kept per file and read
 * again only when the file changed: another inode (every write is a rename), size or mtime. One
 * stat instead of an open, a read and a parse.
 */
export async function readPidFile(file: string): Promise<PidRecord | undefined> {
  let stat: Stats;
  try {
    stat = statSync(file);
  } catch {
    pidRecords.delete(file);
    return undefined;
  }
  const known = pidRecords.get(file);
  if (known && known.ino === stat.ino && known.size === stat.size && known.mtimeMs === stat.mtimeMs) return known.record;
  try {
    const data = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<PidRecord>;
    if (typeof data.pid !== 'number' || typeof data.startTicks !== 'number') return undefined;
    const record = data as PidRecord;
    pidRecords.set(file, { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs, record });
    return record;
  } catch {
    return undefined;
  }
}

/** The last record read per pid file, with the file's identity then (see readPidFile). */
const pidRecords = new Map<string, { ino: number; size: number; mtimeMs: number; record: PidRecord }>();

async function writeFileAtomic(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}

/** The running process of a component, or undefined (a stale pid file is ignored). */
export async function runningProcess(adapter: ProcessAdapter): Promise<PidRecord | undefined> {
  const record = await readPidFile(requiredPath(adapter.pidFile, 'pidFile'));
  return record && isAlive(record) ? record : undefined;
}

/** The process adapter of a component that has one; an error naming the component otherwise. */
export function processAdapter(component: { id: string; adapter: Adapter }): ProcessAdapter {
  if (component.adapter.type !== 'process') throw new Error(`${component.id} uses the ${component.adapter.type} adapter, not process`);
  return component.adapter;
}

function requiredPath(value: string | undefined, field: string): string {
  if (!value) throw new Error(`process adapter: ${field} was not resolved (load the config with parseConfig)`);
  return value;
}

export interface StartOutcome {
  started: boolean;
  pid: number;
}

/** The env variable a started process carries: its pid file, so it can be found without one. */
export const PID_FILE_ENV = 'MEND_PID_FILE';

/**
 * Where a start marks itself under way: written before the spawn, removed once the pid file names
 * the new process. A marker left behind is the one sign of a start cut off (its worker killed)
 * between the spawn and the pid file write; only then is a process looked for by its environment,
 * a scan of every process's /proc environ that cost a loaded host tens of milliseconds of its
 * event loop per stop and per start (a mass outage's restarts queued behind each other's scans).
 */
export function startMarkerOf(pidFile: string): string {
  return `${pidFile}.starting`;
}

/**
 * The process a cut-off start left running for `pidFile` (see startMarkerOf), or undefined. With
 * no marker, none can be. A marker whose writer is gone is cleared once looked into; one of a live
 * writer (its start still under way elsewhere) is left to it.
 */
export async function cutOffStart(pidFile: string): Promise<PidRecord | undefined> {
  const marker = startMarkerOf(pidFile);
  let writer: { pid?: number; startTicks?: number };
  try {
    writer = JSON.parse(await fs.readFile(marker, 'utf8')) as typeof writer;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    writer = {};
  }
  const found = unrecordedProcess(pidFile);
  const me = self();
  const ours = writer.pid === me.pid && writer.startTicks === me.startTicks;
  // Still starting: this process's own start in flight, or another live process's.
  const underWay = ours ? startTurns.busy(pidFile) : typeof writer.pid === 'number' && typeof writer.startTicks === 'number' && isAlive(writer as PidRecord);
  if (!found && !underWay) await fs.rm(marker, { force: true });
  return found;
}

/** This process as a start marker names it (pid and kernel start time: a reused pid is someone else). */
function self(): { pid: number; startTicks: number } {
  return { pid: process.pid, startTicks: readProcStat(process.pid)?.startTicks ?? -1 };
}

/**
 * A live process started for `pidFile` that the pid file does not name, found by its environment
 * (a scan of /proc: use cutOffStart, which scans only when a start was cut off).
 */
export function unrecordedProcess(pidFile: string): PidRecord | undefined {
  const marker = `\0${PID_FILE_ENV}=${pidFile}\0`;
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (!`\0${environ}`.includes(marker)) continue;
    const stat = liveProcStat(pid);
    if (!stat) continue;
    return { pid, startTicks: stat.startTicks, command: [], startedAt: new Date(processStartedAtMs(stat.startTicks) ?? Date.now()).toISOString() };
  }
  return undefined;
}

/**
 * When a process started (ms since the epoch), from its start in clock ticks after boot
 * (/proc/<pid>/stat) and /proc/uptime, both to 10 ms (Linux's USER_HZ is 100).
 */
export function processStartedAtMs(startTicks: number): number | undefined {
  try {
    const uptimeMs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
    return Number.isFinite(uptimeMs) ? Math.round(Date.now() - (uptimeMs - startTicks * 10)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The live process started for this pid file that the pid file does not name (its start was cut
 * off between the spawn and the pid file write), recorded in the pid file now; undefined when none.
 */
export async function adoptUnrecorded(adapter: ProcessAdapter): Promise<PidRecord | undefined> {
  const pidFile = requiredPath(adapter.pidFile, 'pidFile');
  const orphan = await cutOffStart(pidFile);
  if (!orphan) return undefined;
  const record = { ...orphan, command: adapter.command };
  await writeFileAtomic(pidFile, JSON.stringify(record) + '\n');
  await fs.rm(startMarkerOf(pidFile), { force: true });
  return record;
}

/**
 * Starts the process detached in its own process group (it outlives the worker that started it),
 * output appended to its log file. A no-op when the pid file already names a live process, or
 * when a live process carrying this pid file in its env (MEND_PID_FILE) runs without a pid file:
 * a start cut off before it recorded its pid is adopted, never spawned twice.
 */
export async function startProcess(adapter: ProcessAdapter, opts: { startedBy?: string } = {}): Promise<StartOutcome> {
  const pidFile = requiredPath(adapter.pidFile, 'pidFile');
  // One start of a component at a time in this process: a second (an activity's retry beside the
  // attempt still running, a run beside its pid watch) waits, then finds the first one's process.
  return startTurns.run(pidFile, () => startOnce(adapter, pidFile, opts.startedBy));
}

/** Starts under way in this process, by pid file (see startProcess). */
const startTurns = createKeyedTurns();

async function startOnce(adapter: ProcessAdapter, pidFile: string, startedBy: string | undefined): Promise<StartOutcome> {
  const logFile = requiredPath(adapter.logFile, 'logFile');
  const existing = await runningProcess(adapter);
  if (existing) return { started: false, pid: existing.pid };
  const orphan = await adoptUnrecorded(adapter);
  if (orphan) return { started: false, pid: orphan.pid };

  await fs.mkdir(path.dirname(logFile), { recursive: true });
  // Under way: a worker killed from here until the pid file names the process leaves this behind.
  await writeFileAtomic(startMarkerOf(pidFile), JSON.stringify(self()) + '\n');
  const logFd = openSync(logFile, 'a');
  const logOffset = fstatSync(logFd).size;
  const [file, ...args] = adapter.command as [string, ...string[]];
  let spawned = false;
  try {
    const { pid, exited } = await launch({ file, args, cwd: adapter.cwd, env: { ...process.env, ...adapter.env, [PID_FILE_ENV]: pidFile }, logFile }).catch(
      (err: unknown) => {
        const code = err instanceof LaunchError ? err.code : undefined;
        throw code === 'ENOENT' || code === 'EACCES' ? new CommandNotFoundError(`cannot run ${JSON.stringify(file)}: ${code}`) : err;
      },
    );
    spawned = true;
    children.set(pidFile, { pid, exited });
    const stat = readProcStat(pid);
    const record: PidRecord = {
      pid,
      startTicks: stat?.startTicks ?? -1,
      command: adapter.command,
      startedAt: new Date().toISOString(),
      logOffset,
      ...(startedBy === undefined ? {} : { startedBy }),
    };
    await writeFileAtomic(pidFile, JSON.stringify(record) + '\n');
    await fs.rm(startMarkerOf(pidFile), { force: true });
    return { started: true, pid };
  } catch (err) {
    // Nothing was spawned (the command could not run): no start under way. (A spawned process whose
    // pid file could not be written keeps the marker: it is found by its environment next time; so
    // does a start whose launcher died before it answered.)
    if (!spawned && !(err instanceof LauncherGoneError)) await fs.rm(startMarkerOf(pidFile), { force: true });
    throw err;
  } finally {
    closeSync(logFd);
  }
}

export type { ProcessExit };

/** The last process this worker started per pid file, and its exit: only a parent learns an exit status. */
const children = new Map<string, { pid: number; exited: Promise<ProcessExit> }>();

/**
 * The exit status of `pid` if this worker started it (undefined when another worker did, or the
 * worker restarted since). A dead child is seen in /proc (a zombie) a moment before Node reaps it
 * and reports the status, hence the short wait.
 */
export async function exitStatus(pidFile: string, pid: number, waitMs = 2_000): Promise<ProcessExit | undefined> {
  const child = children.get(pidFile);
  if (child?.pid !== pid) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
  try {
    return await Promise.race([child.exited, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** A started process that is gone before it was healthy: what a start or validate step reports. */
export interface ProcessDeath {
  pid: number;
  /** Undefined when this worker is not its parent (the status is lost to whoever reaped it). */
  exit?: ProcessExit;
  /** The last lines it wrote to its log since it was started. */
  logTail: string[];
  /** `resource` when its log says the address is in use, `crash` otherwise. */
  failureClass: 'crash' | 'resource';
  /** One line: pid, exit code or signal, the log tail. */
  detail: string;
}

const TAIL_LINES = 5;

/**
 * The recorded process of the component if it is dead (a zombie counts), with how it ended; undefined
 * while it runs or when none is recorded. `what` opens the detail (a start's check: it died before it was healthy).
 */
export async function deathOf(adapter: ProcessAdapter, what = 'exited before it was healthy'): Promise<ProcessDeath | undefined> {
  const pidFile = requiredPath(adapter.pidFile, 'pidFile');
  const record = await readPidFile(pidFile);
  if (!record || isAlive(record)) return undefined;
  const exit = await exitStatus(pidFile, record.pid);
  const output = await readLogSince(requiredPath(adapter.logFile, 'logFile'), record.logOffset);
  const logTail = tailLines(output);
  const failureClass = /EADDRINUSE|address already in use/i.test(output) ? 'resource' : 'crash';
  const log = logTail.length ? `; log: ${logTail.join(' | ')}` : '; its log is empty';
  return { pid: record.pid, exit, logTail, failureClass, detail: `${what} (pid ${record.pid}, ${exitText(exit)})${log}` };
}

/** How a process ended, in words: `exit code 1`, `killed by SIGKILL`, or why that is not known. */
export function exitText(exit: ProcessExit | undefined): string {
  return !exit ? 'exit status unknown: not started by this worker' : exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/** What the process wrote from `offset` on (its own output), at most the last 16 KiB; the file's tail when it shrank since (rotated). */
async function readLogSince(logFile: string, offset = 0): Promise<string> {
  try {
    const handle = await fs.open(logFile, 'r');
    try {
      const { size } = await handle.stat();
      const from = Math.max(offset <= size ? offset : 0, size - 16_384);
      const buf = Buffer.alloc(size - from);
      await handle.read(buf, 0, buf.length, from);
      return buf.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

/**
 * The last lines worth reading: blank lines and stack frames dropped, and the last line that names
 * an error kept in front when it falls before them (a Node crash ends with the error's fields, not its message).
 */
export function tailLines(output: string, count = TAIL_LINES): string[] {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    // Stack frames, and lines of punctuation only (a dumped object's closing brace).
    .filter((l) => /[A-Za-z0-9]/.test(l) && !/^at\s/.test(l))
    .map((l) => (l.length > 200 ? `${l.slice(0, 199)}…` : l));
  const tail = lines.slice(-count);
  let errorLine = lines.length - count - 1;
  while (errorLine >= 0 && !/\w*(Error|Exception)\b|\b(panic|fatal|FATAL)\b/.test(lines[errorLine]!)) errorLine -= 1;
  if (errorLine >= 0) tail.unshift(lines[errorLine]!);
  return tail;
}

export interface StopOutcome {
  stopped: boolean;
  pid?: number;
  forced: boolean;
}

/**
 * Stops the process group with the adapter's stop signal, then SIGKILL after `stopTimeout`.
 * A no-op when nothing recorded (or unrecorded but carrying MEND_PID_FILE) is alive; the pid file is removed either way.
 */
export async function stopProcess(adapter: ProcessAdapter, onWait?: () => void): Promise<StopOutcome> {
  const pidFile = requiredPath(adapter.pidFile, 'pidFile');
  const recorded = await readPidFile(pidFile);
  // A process whose start was cut off before its pid file was written is stopped too.
  const record = recorded && isAlive(recorded) ? recorded : await cutOffStart(pidFile);
  if (!record) {
    await fs.rm(pidFile, { force: true });
    return { stopped: false, forced: false };
  }
  signalGroup(record.pid, adapter.stopSignal);
  // A stopped (SIGSTOP, hung in a debugger) process only sees the stop signal once continued.
  signalGroup(record.pid, 'SIGCONT');
  const signalledAt = Date.now();
  const deadline = signalledAt + adapter.stopTimeout;
  let forced = false;
  while (isAlive(record)) {
    if (Date.now() >= deadline && !forced) {
      signalGroup(record.pid, 'SIGKILL');
      forced = true;
    }
    if (Date.now() >= deadline + 10_000) throw new Error(`pid ${record.pid} survived SIGKILL for 10s (uninterruptible sleep?)`);
    onWait?.();
    // Most processes are gone within milliseconds of the signal: looked at often at first (a restart
    // waits on this), then every 20 ms (a /proc read each).
    await delay(Date.now() - signalledAt < STOP_FAST_POLL_MS ? 2 : 20);
  }
  await fs.rm(pidFile, { force: true });
  return { stopped: true, pid: record.pid, forced };
}

/** How long after its stop signal a process is looked at every 2 ms instead of every 20 ms. */
const STOP_FAST_POLL_MS = 200;

/** Signals the process group `pid` leads (its children too), falling back to the pid. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
