/**
 * A child process of the dev stack (the worker, the API) that is started again when it dies: a
 * recovery tool must not go down because one of its own processes did. Restarts back off (1s,
 * doubling to 30s) and the backoff resets once the child has run for a while, so a child that
 * cannot start is retried slowly and says so each time instead of looping silently.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { TS_HOOK_ARGS } from '../workers/node-args';

const ROOT = path.resolve(__dirname, '..');

export interface RestartPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** A child that ran at least this long before dying starts over at `firstDelayMs`. */
  resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { firstDelayMs: 1_000, maxDelayMs: 30_000, resetAfterMs: 60_000 };

/** The wait before the next start: the first delay after a long run (or none before), else double the last, capped. */
export function nextRestartDelay(previousDelayMs: number | undefined, ranForMs: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): number {
  if (previousDelayMs === undefined || ranForMs >= policy.resetAfterMs) return policy.firstDelayMs;
  return Math.min(previousDelayMs * 2, policy.maxDelayMs);
}

/** "code 1" or "signal SIGKILL". */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

export interface RestartingChildOptions {
  name: string;
  /** A TypeScript entry file, relative to the repo root. */
  script: string;
  env: NodeJS.ProcessEnv;
  /** Where the child's output lines go, prefixed with its name. */
  output: (line: string) => void;
  /** Where the restart notices go. */
  log: (line: string) => void;
  /** Called with each new pid (the first start and every restart). */
  onStart?: (pid: number) => void;
  /**
   * Called instead of restarting while `restarts` is false (during the stack's start-up, where a
   * dying child is a broken setup to report, not a fault to ride out).
   */
  onFatalExit?: (why: string) => void;
  policy?: RestartPolicy;
}

export class RestartingChild {
  private proc!: ChildProcess;
  private startedAt = 0;
  private lastDelayMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  /** Whether an exit is restarted (true once the stack is up). */
  restarts = false;

  constructor(private readonly opts: RestartingChildOptions) {
    this.spawn();
  }

  get name(): string {
    return this.opts.name;
  }

  get pid(): number | undefined {
    return this.running() ? this.proc.pid : undefined;
  }

  private running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private spawn(): void {
    const { name, script, env, output } = this.opts;
    const proc = spawn(process.execPath, [...TS_HOOK_ARGS, path.join(ROOT, script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.startedAt = Date.now();
    // A failed spawn (no exit follows) is said, not thrown: the stack's other processes stay up.
    proc.once('error', (err) => this.opts.log(`${name}: ${err.message}`));
    for (const stream of [proc.stdout, proc.stderr]) readline.createInterface({ input: stream! }).on('line', (line) => output(`[${name}] ${line}`));
    this.exited = new Promise<void>((resolve) => proc.once('exit', (code, signal) => (this.onExit(code, signal), resolve())));
    if (proc.pid !== undefined) this.opts.onStart?.(proc.pid);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return;
    const why = `${this.opts.name} exited (${describeExit(code, signal)})`;
    if (!this.restarts) {
      this.opts.onFatalExit?.(why);
      return;
    }
    const delay = nextRestartDelay(this.lastDelayMs, Date.now() - this.startedAt, this.opts.policy);
    this.lastDelayMs = delay;
    this.opts.log(`${why}; restarting in ${delay / 1000}s`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopping) return;
      this.spawn();
      this.opts.log(`${this.opts.name} restarted (pid ${this.proc.pid})`);
    }, delay);
  }

  /** Stops the child for good (SIGTERM, SIGKILL after 15s) and cancels a pending restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.running()) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}
