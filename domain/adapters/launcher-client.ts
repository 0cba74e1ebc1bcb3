/**
 * Starts processes through mend's launcher (launcher.js), one small child per worker process, instead
 * of forking the worker: a fork copies the page tables of the whole worker, and Node forks on its one
 * JavaScript thread (71 ms a spawn measured in a 50-service mass outage, so 3.5 s of queued restarts).
 * The launcher is started on first use (or by `warmLauncher`), and again after it died. Until it has
 * said it is ready, nothing was started through it, so a launcher that cannot start at all leaves its
 * requests to a direct spawn; one that dies after that rejects what it was asked (the start may have
 * happened: the process adapter's start marker finds such a process, and a retry adopts it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { liveProcStat } from './proc-stat';

/** What to start: detached, in its own process group, output appended to `logFile`. */
export interface LaunchSpec {
  file: string;
  args: string[];
  cwd?: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
}

/** How a process ended, as its parent saw it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Launched {
  pid: number;
  /** Settles when the process ends (with how), unless the launcher died first: then never. */
  exited: Promise<ProcessExit>;
}

/** A start that failed: `code` as Node's spawn gives it (ENOENT, EACCES, ...). */
export class LaunchError extends Error {
  override name = 'LaunchError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** The launcher died with the start asked and not answered: it may have happened (the process adapter's start marker finds it). */
export class LauncherGoneError extends Error {
  override name = 'LauncherGoneError';
}

type Reply = { ready: true } | { id: number; pid: number } | { id: number; error: { code?: string; message: string } } | ExitReply;
interface ExitReply {
  exit: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Pending {
  spec: LaunchSpec;
  resolve: (launched: Launched) => void;
  reject: (err: Error) => void;
}

const LAUNCHER = path.join(__dirname, 'launcher.js');

interface Launcher {
  child: ChildProcess;
  ready: boolean;
  pending: Map<number, Pending>;
  /** Processes it started whose exit has not come: theirs is lost with it. */
  running: Set<number>;
}

let current: Launcher | undefined;
let nextId = 1;
/** Exits of the processes started through any launcher of this process, by pid, until told. */
const exits = new Map<number, (exit: ProcessExit) => void>();

/** Starts the launcher now, so that the first restart does not wait for it. Safe to call again. */
export function warmLauncher(): void {
  launcher();
}

/** Starts `spec` through the launcher (or directly, when no launcher can run here). */
export function launch(spec: LaunchSpec): Promise<Launched> {
  const l = launcher();
  if (!l) return spawnDirect(spec);
  const id = nextId++;
  return new Promise<Launched>((resolve, reject) => {
    l.pending.set(id, { spec, resolve, reject });
    // Kept alive while an answer is due (its channel, and its exit should it die meanwhile);
    // otherwise the launcher never holds its parent open.
    l.child.ref();
    l.child.channel?.ref();
    l.child.send({ id, ...spec }, (err) => {
      if (err) settle(l, id, (p) => p.reject(err));
    });
  });
}

function launcher(): Launcher | undefined {
  // Dead already, its exit not yet handled here (or not yet reaped: a zombie): replaced.
  if (current && current.child.exitCode === null && current.child.signalCode === null && current.child.connected && running(current.child.pid)) return current;
  if (current) forget(current);
  // Plain node: no loader hooks or profiling flags of this process (the launcher is plain JavaScript).
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [LAUNCHER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env, serialization: 'json' });
  } catch {
    return undefined;
  }
  const l: Launcher = { child, ready: false, pending: new Map(), running: new Set() };
  current = l;
  idle(l);
  child.on('message', (reply: Reply) => onReply(l, reply));
  const gone = () => forget(l);
  child.once('error', gone);
  child.once('disconnect', gone);
  child.once('exit', gone);
  return l;
}

/** A launcher gone (or going): what it was asked and did not answer is settled, and the exits of what it started are lost. */
function forget(l: Launcher): void {
  if (current === l) current = undefined;
  for (const pid of l.running) exits.delete(pid);
  l.running.clear();
  // Not ready: nothing was started through it, so what it was asked is started directly.
  for (const [id, p] of [...l.pending]) {
    settle(l, id, () =>
      l.ready ? p.reject(new LauncherGoneError('the process launcher exited before it answered')) : spawnDirect(p.spec).then(p.resolve, p.reject),
    );
  }
}

/** Whether `pid` runs: not gone, not a zombie (/proc, read-only). */
function running(pid: number | undefined): boolean {
  return pid !== undefined && liveProcStat(pid) !== undefined;
}

/** Nothing asked of it: it does not hold this process open. */
function idle(l: Launcher): void {
  l.child.unref();
  l.child.channel?.unref();
}

function onReply(l: Launcher, reply: Reply): void {
  if ('ready' in reply) l.ready = true;
  else if ('exit' in reply) {
    exits.get(reply.exit)?.({ code: reply.code, signal: reply.signal });
    exits.delete(reply.exit);
    l.running.delete(reply.exit);
  } else if ('pid' in reply) {
    const { pid } = reply;
    // Registered before anything else runs: its exit can only come in a later message.
    const exited = new Promise<ProcessExit>((resolve) => exits.set(pid, resolve));
    l.running.add(pid);
    settle(l, reply.id, (p) => p.resolve({ pid, exited }));
  } else settle(l, reply.id, (p) => p.reject(new LaunchError(reply.error.message, reply.error.code)));
}

function settle(l: Launcher, id: number, how: (p: Pending) => unknown): void {
  const p = l.pending.get(id);
  if (!p) return;
  l.pending.delete(id);
  if (l.pending.size === 0) idle(l);
  how(p);
}

/** A start by this process itself (its own fork): what mend did before the launcher. */
function spawnDirect(spec: LaunchSpec): Promise<Launched> {
  return new Promise<Launched>((resolve, reject) => {
    let fd: number | undefined;
    try {
      fd = openSync(spec.logFile, 'a');
      const child = spawn(spec.file, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', fd, fd] });
      // The exit listener also makes this process reap the child if it exits while we live.
      const exited = new Promise<ProcessExit>((done) => child.once('exit', (code, signal) => done({ code, signal })));
      child.once('spawn', () => {
        child.unref();
        resolve({ pid: child.pid!, exited });
      });
      child.once('error', (err: NodeJS.ErrnoException) => reject(new LaunchError(err.message, err.code)));
    } catch (err) {
      reject(new LaunchError((err as Error).message, (err as NodeJS.ErrnoException).code));
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  });
}
