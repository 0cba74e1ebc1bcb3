/**
 * Runs an operator-given argv without a shell, with a deadline: what the `command` adapter and
 * the `command` probe share. Never throws; the caller decides what each ending means.
 */
import { spawn } from 'node:child_process';
import { signalGroup } from './process';

/** How much of the command's output (stdout and stderr, interleaved) is kept for error details. */
const TAIL_CHARS = 2048;
/** After the deadline the group gets SIGTERM, then SIGKILL if still there after this grace. */
const KILL_GRACE_MS = 500;
/** After the command exits, how long to wait for the rest of its output (a daemon it left behind may hold the pipes). */
const DRAIN_MS = 200;

export interface ExecOptions {
  cwd?: string;
  /** Merged over process.env. */
  env?: Record<string, string>;
  timeoutMs: number;
  /** Called every second while the command runs (activity heartbeats). */
  heartbeat?: () => void;
  /** Ends the command (and its group) like a timeout when aborted, e.g. an activity's cancellation. */
  signal?: AbortSignal;
}

export type ExecResult =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; output: string; durationMs: number }
  | { kind: 'timeout'; output: string; durationMs: number }
  /** The program could not be started at all (ENOENT, EACCES, a missing cwd). */
  | { kind: 'cannot-run'; code: string; message: string; durationMs: number };

/**
 * Spawns argv[0] with the remaining arguments in its own process group, so that a timeout ends
 * whatever the command started too. Resolves on the command's exit, its timeout or a spawn error.
 */
export function runArgv(argv: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const [file, ...args] = argv as [string, ...string[]];
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let output = '';
    const append = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > 2 * TAIL_CHARS) output = output.slice(-TAIL_CHARS);
    };
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout.on('data', append);
    child.stderr.on('data', append);

    let settled = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const beat = opts.heartbeat ? setInterval(opts.heartbeat, 1_000) : undefined;
    const stop = () => {
      if (timedOut) return;
      timedOut = true;
      const pid = child.pid;
      if (pid === undefined) return;
      signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const deadline = setTimeout(stop, opts.timeoutMs);
    opts.signal?.addEventListener('abort', stop, { once: true });

    const finish = (result: ExecResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', stop);
      // After a timeout the SIGKILL still goes out: it ends what the command left in its group.
      if (!timedOut) clearTimeout(killTimer);
      killTimer?.unref();
      clearInterval(beat);
      resolve(result);
    };

    child.once('error', (err: NodeJS.ErrnoException) => {
      // 'error' without a pid: the program never started. With one, it is a signalling error; wait for exit.
      if (child.pid === undefined)
        finish({
          kind: 'cannot-run',
          code: err.code ?? 'error',
          message: `cannot run ${JSON.stringify(file)}${opts.cwd ? ` in ${opts.cwd}` : ''}: ${err.code ?? err.message}`,
          durationMs: elapsed(),
        });
    });
    child.once('exit', (code, signal) => {
      const end = () => {
        child.stdout.destroy();
        child.stderr.destroy();
        const tail = output.slice(-TAIL_CHARS);
        finish(timedOut ? { kind: 'timeout', output: tail, durationMs: elapsed() } : { kind: 'exited', code, signal, output: tail, durationMs: elapsed() });
      };
      // 'close' follows once the pipes are drained; a background process that inherited them would delay it forever.
      const drain = setTimeout(end, DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drain);
        end();
      });
    });
  });
}

/** The last non-empty line of a command's output, trimmed, for one-line details. */
export function lastLine(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.at(-1) ?? '').slice(0, 300);
}
