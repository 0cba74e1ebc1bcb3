/**
 * The worker's log: one line per entry (`<time> <LEVEL> <message> key=value ...`), at the level
 * MEND_LOG_LEVEL names (default info). The SDK's default logger prints each entry's metadata as a
 * multi-line object, with the plumbing of every task (an activity's task token, run ids, queues);
 * here that plumbing is dropped, and the SDK's own chatter (worker lifecycle, polling notes) is
 * debug: at info an operator reads what mend did (recoveries, breakers, hosts, dead letters).
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { Settings } from '../core/settings';

const SEVERITY: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/** MEND_LOG_LEVEL (pino's names, shared with the API) as the SDK's level; undefined: nothing at all. */
export function sdkLevel(level: Settings['MEND_LOG_LEVEL']): LogLevel | undefined {
  if (level === 'silent') return undefined;
  if (level === 'fatal') return 'ERROR';
  return level.toUpperCase() as LogLevel;
}

/** Task plumbing the SDK adds to every workflow and activity entry: it says nothing to an operator (the workflow id stays). */
const PLUMBING = new Set(['sdkComponent', 'taskToken', 'namespace', 'taskQueue', 'runId', 'workflowRunId', 'workflowType', 'activityId', 'isLocal', 'attempt']);

/** A value as one token: bare when it is a word, else JSON (quotes, escaped newlines). */
function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /^[\w./:@+-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value) ?? String(value);
}

/** One line for an entry: the message, then its own fields (plumbing dropped). */
export function formatLine(level: LogLevel, message: string, meta: LogMetadata = {}, at = new Date()): string {
  const fields = Object.entries(meta)
    .filter(([key, value]) => !PLUMBING.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  return [at.toISOString(), level, message.replace(/\s*\n\s*/g, ' '), ...fields].join(' ');
}

/**
 * The SDK's own info entries (worker state changes, "not polling for ..."): debug, not what an
 * operator reads. So is core's warning that an activity-only worker (an agent, the embedded host
 * worker) has no workflows: that is how they are built.
 */
function demoted(level: LogLevel, message: string, meta: LogMetadata | undefined): LogLevel {
  const component = meta?.sdkComponent as string | undefined;
  if (level === 'INFO' && (component === 'worker' || component === 'core')) return 'DEBUG';
  return level === 'WARN' && message.startsWith('No workflows registered') ? 'DEBUG' : level;
}

export class OneLineLogger implements Logger {
  constructor(
    private readonly level: LogLevel | undefined,
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const effective = demoted(level, message, meta);
    if (this.level === undefined || SEVERITY[effective] < SEVERITY[this.level]) return;
    this.write(formatLine(effective, message, meta));
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * Installs the Runtime with the one-line logger at MEND_LOG_LEVEL (and the Prometheus exporter when
 * given); must precede any connection or worker. The SDK core's own entries (warnings and up) are
 * forwarded to the same logger, so they come out as one line too.
 */
export function installWorkerRuntime(settings: Pick<Settings, 'MEND_LOG_LEVEL'>, metrics?: { bindAddress: string }): void {
  const level = sdkLevel(settings.MEND_LOG_LEVEL);
  const core: LogLevel = level === 'ERROR' || level === undefined ? 'ERROR' : 'WARN';
  Runtime.install({
    logger: new OneLineLogger(level),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core, other: 'ERROR' }), forward: {} },
      ...(metrics ? { metrics: { prometheus: { bindAddress: metrics.bindAddress } } } : {}),
    },
  });
}
