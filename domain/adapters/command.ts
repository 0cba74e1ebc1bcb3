/**
 * The `command` adapter: operator-given argv lists (`systemctl start api`, `docker restart db`),
 * run without a shell, each within its timeout. An optional `status` argv (exit 0 = running) lets
 * start and stop skip what is already done.
 */
import type { CommandAdapter } from '../../core/schemas';
import { lastLine, runArgv, type ExecResult } from './exec';
import { AdapterError, type StartOutcome, type StopOutcome } from './outcome';

type Action = 'start' | 'stop' | 'restart' | 'status';

/**
 * Idempotent: with `status`, a component already running is left alone (started: false). Without
 * it, the start command runs again; operators' start commands (`systemctl start`, `docker start`,
 * `kubectl scale --replicas=1`) are themselves no-ops on a running component.
 */
export async function startCommand(adapter: CommandAdapter, heartbeat?: () => void): Promise<StartOutcome> {
  if (adapter.status && (await isRunning(adapter, adapter.timeout, heartbeat))) return { started: false, detail: 'already running (status exited 0)' };
  const result = await run(adapter, 'start', adapter.start, adapter.timeout, heartbeat);
  return { started: true, detail: describeSuccess('start', result) };
}

/**
 * Idempotent: with `status`, a component that is not running is left alone (stopped: false).
 * Without it, the stop command runs again; `systemctl stop` and the like succeed on a stopped unit.
 */
export async function stopCommand(adapter: CommandAdapter, heartbeat?: () => void): Promise<StopOutcome> {
  if (adapter.status && !(await isRunning(adapter, adapter.stopTimeout, heartbeat))) return { stopped: false, detail: 'not running (status exited non-zero)' };
  const result = await run(adapter, 'stop', adapter.stop, adapter.stopTimeout, heartbeat);
  return { stopped: true, detail: describeSuccess('stop', result) };
}

/**
 * The `restart` argv when configured, else stop then start. Running it twice restarts twice: the
 * component ends up running either way, which is what a retry after a lost answer needs.
 */
export async function restartCommand(adapter: CommandAdapter, heartbeat?: () => void): Promise<StartOutcome> {
  if (!adapter.restart) {
    await stopCommand(adapter, heartbeat);
    return startCommand(adapter, heartbeat);
  }
  const result = await run(adapter, 'restart', adapter.restart, adapter.timeout, heartbeat);
  return { started: true, detail: describeSuccess('restart', result) };
}

/** Runs `status` (within the timeout of the action it serves): exit 0 means running, any other exit code means not running. Read-only. */
async function isRunning(adapter: CommandAdapter, timeoutMs: number, heartbeat?: () => void): Promise<boolean> {
  const result = await runArgv(adapter.status!, { cwd: adapter.cwd, env: adapter.env, timeoutMs, heartbeat });
  if (result.kind === 'exited' && result.signal === null) return result.code === 0;
  throw toAdapterError('status', adapter.status!, timeoutMs, result);
}

/** Runs one argv and throws an AdapterError unless it exits 0. */
async function run(
  adapter: CommandAdapter,
  action: Action,
  argv: string[],
  timeoutMs: number,
  heartbeat?: () => void,
): Promise<Extract<ExecResult, { kind: 'exited' }>> {
  const result = await runArgv(argv, { cwd: adapter.cwd, env: adapter.env, timeoutMs, heartbeat });
  if (result.kind === 'exited' && result.code === 0) return result;
  throw toAdapterError(action, argv, timeoutMs, result);
}

function toAdapterError(action: Action, argv: string[], timeoutMs: number, result: ExecResult): AdapterError {
  const cmd = argv.join(' ');
  switch (result.kind) {
    case 'cannot-run':
      return new AdapterError(`${action}: ${result.message}`, 'resource', false);
    case 'timeout':
      return new AdapterError(`${action}: \`${cmd}\` did not exit within ${timeoutMs}ms and was killed${tail(result.output)}`, 'timeout', true);
    case 'exited': {
      const how = result.signal ? `was killed by ${result.signal}` : `exited ${result.code}`;
      return new AdapterError(`${action}: \`${cmd}\` ${how}${tail(result.output)}`, 'unknown', true);
    }
  }
}

function tail(output: string): string {
  const text = output.trim();
  return text ? `; output: ${text}` : '';
}

function describeSuccess(action: Action, result: Extract<ExecResult, { kind: 'exited' }>): string {
  const line = lastLine(result.output);
  return `${action} command exited 0 in ${result.durationMs}ms${line ? `: ${line}` : ''}`;
}
