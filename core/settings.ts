/**
 * Every environment variable mend reads, parsed once at start. The README's table lists the same.
 * Pure: callers pass in `process.env`.
 */
import { z } from 'zod';
import { DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE } from './constants';
import { formatIssues, ValidationError } from './errors';
import { DurationSchema } from './schemas';

const Port = z.coerce.number().int().min(1).max(65_535);

export const SettingsSchema = z.object({
  MEND_TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  MEND_NAMESPACE: z.string().min(1).default(DEFAULT_NAMESPACE),
  MEND_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  MEND_CONFIG: z.string().min(1).default('mend.config.yaml'),
  MEND_HOME: z.string().min(1).default('.mend'),
  MEND_API_HOST: z.string().min(1).default('127.0.0.1'),
  MEND_API_PORT: Port.default(3000),
  MEND_UI_URL: z.url().default('http://localhost:8233'),
  MEND_TEMPORAL_PORT: Port.default(7233),
  MEND_UI_PORT: Port.default(8233),
  /** Dev stack: the embedded server's HTTP API and Prometheus ports; unset: free ports picked at start. */
  MEND_TEMPORAL_HTTP_PORT: Port.optional(),
  MEND_TEMPORAL_METRICS_PORT: Port.optional(),
  /** Dev stack: what happens to the config's `process` components when the stack stops. */
  MEND_COMPONENTS_ON_EXIT: z.enum(['stop', 'leave'], { message: 'expected stop or leave' }).default('stop'),
  MEND_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** A workflow bundle built ahead of time (tests, production images); otherwise bundled at worker start. */
  MEND_WORKFLOW_BUNDLE: z.string().optional(),
  TEMPORAL_CLI_PATH: z.string().optional(),
  /** API bearer tokens: `[name=]token:role[:comp1,comp2]`, separated by spaces, newlines or ";". */
  MEND_TOKENS: z.string().optional(),
  /** API bearer tokens from a YAML/JSON file: `tokens: [{name, token | sha256, role, components?}]`. */
  MEND_TOKENS_FILE: z.string().min(1).optional(),
  MEND_API_START_BURST: z.coerce.number().int().min(1).max(10_000).default(10),
  MEND_API_START_PER_MINUTE: z.coerce.number().min(0.01).max(100_000).default(30),
  MEND_ALERT_LABELS: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*(,[A-Za-z_][A-Za-z0-9_]*)*$/, { message: 'expected comma-separated label names, e.g. component,service,job' })
    .default('component,service,job')
    .transform((s) => s.split(',')),
  /**
   * Alertmanager webhook: a firing alert (same fingerprint and start) whose recovery ended less than
   * this long ago starts no second one, even if the component is unhealthy again (the supervisor and
   * its breaker own relapses). Recorded on the run in Temporal, so an API restart keeps it.
   */
  MEND_ALERT_DEDUPE_WINDOW: DurationSchema.prefault('30m'),
  /** Where API clients (cli/api-client.ts) find the API, and the token they send. */
  MEND_URL: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL, e.g. http://127.0.0.1:3000' }).optional(),
  MEND_TOKEN: z.string().min(1).optional(),
  /** The API reconciles health schedules and starts backlog replays from the config when it starts. */
  MEND_SYNC_ON_START: z
    .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  /** Port of the worker's Prometheus endpoint (Temporal SDK runtime metrics); unset: none. */
  MEND_WORKER_METRICS_PORT: Port.optional(),
  /**
   * Workflows the central worker keeps in memory (the SDK's `maxCachedWorkflows`); unset: the SDK's
   * default, about 60% of the heap limit in MiB (2,310 here). Each idle supervisor kept costs about
   * 0.3 MiB; one not kept is replayed from its history when a report or timer wakes it.
   */
  MEND_WORKFLOW_CACHE: z.string().regex(/^\d+$/, { message: 'expected a whole number of workflows, e.g. 500' }).transform(Number).optional(),
});

export type Settings = z.output<typeof SettingsSchema>;

/** Descriptions for the README and `--help`, one line each. */
export const SETTINGS_HELP: Record<keyof Settings, string> = {
  MEND_TEMPORAL_ADDRESS: 'Temporal frontend host:port (default 127.0.0.1:7233)',
  MEND_NAMESPACE: 'Temporal namespace (default "default")',
  MEND_TASK_QUEUE: 'task queue the worker polls (default "mend")',
  MEND_CONFIG: 'path of the components config (default mend.config.yaml)',
  MEND_HOME: 'folder for local state: dev database, pid and log files (default .mend)',
  MEND_API_HOST: 'address the API listens on (default 127.0.0.1)',
  MEND_API_PORT: 'port the API listens on (default 3000)',
  MEND_UI_URL: 'Temporal Web UI base URL used in links (default http://localhost:8233)',
  MEND_TEMPORAL_PORT: 'dev stack: port of the embedded Temporal server (default 7233)',
  MEND_UI_PORT: 'dev stack: port of the embedded Web UI (default 8233)',
  MEND_TEMPORAL_HTTP_PORT: "dev stack: port of the embedded server's HTTP API (default: a free port, printed at start)",
  MEND_TEMPORAL_METRICS_PORT: "dev stack: port of the embedded server's Prometheus metrics (default: a free port, printed at start)",
  MEND_COMPONENTS_ON_EXIT: "dev stack: the config's process components at exit: stop (default) or leave (left running; the next start adopts them)",
  MEND_LOG_LEVEL: 'log level of the worker and API (default info)',
  MEND_WORKFLOW_BUNDLE: 'prebuilt workflow bundle for the worker (optional)',
  TEMPORAL_CLI_PATH: 'the temporal binary to use instead of finding or building one (optional)',
  MEND_TOKENS: 'API bearer tokens: [name=]token:role[:comp1,comp2], separated by spaces or ";" (roles viewer, operator, admin)',
  MEND_TOKENS_FILE: 'API bearer tokens from a YAML/JSON file: tokens: [{name, token | sha256, role, components?}]',
  MEND_API_START_BURST: 'API: run starts a token may make at once (default 10)',
  MEND_API_START_PER_MINUTE: 'API: run starts a token regains per minute (default 30)',
  MEND_ALERT_LABELS: 'Alertmanager webhook: labels naming the component, tried in order (default component,service,job)',
  MEND_ALERT_DEDUPE_WINDOW: 'Alertmanager webhook: a repeated firing alert whose recovery ended within this starts no other (default 30m)',
  MEND_URL: "API clients: the mend API's base URL, e.g. http://127.0.0.1:3000 (optional)",
  MEND_TOKEN: 'API clients: the bearer token they send (optional)',
  MEND_SYNC_ON_START: 'API: reconcile health schedules and start backlog replays from the config at start (default true)',
  MEND_WORKER_METRICS_PORT: "worker: port of its Prometheus endpoint with the Temporal SDK's metrics (default: none)",
  MEND_WORKFLOW_CACHE: "worker: workflows kept in memory (the SDK's maxCachedWorkflows; default 250)",
};

export function readSettings(env: Record<string, string | undefined>): Settings {
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) throw new ValidationError('environment', formatIssues(parsed.error.issues));
  return parsed.data;
}

/**
 * Which processes read each setting: `service` ones must be set for the worker and API wherever
 * they run (docker-compose.yml too); `api` ones are optional API settings (tokens, limits);
 * `cli` ones are read by API clients; `dev` ones only matter to the embedded dev stack and tests.
 */
export const SETTINGS_SCOPE: Record<keyof Settings, 'service' | 'api' | 'cli' | 'dev'> = {
  MEND_TEMPORAL_ADDRESS: 'service',
  MEND_NAMESPACE: 'service',
  MEND_TASK_QUEUE: 'service',
  MEND_CONFIG: 'service',
  MEND_HOME: 'service',
  MEND_API_HOST: 'service',
  MEND_API_PORT: 'service',
  MEND_UI_URL: 'service',
  MEND_LOG_LEVEL: 'service',
  MEND_TEMPORAL_PORT: 'dev',
  MEND_UI_PORT: 'dev',
  MEND_TEMPORAL_HTTP_PORT: 'dev',
  MEND_TEMPORAL_METRICS_PORT: 'dev',
  MEND_COMPONENTS_ON_EXIT: 'dev',
  MEND_WORKFLOW_BUNDLE: 'dev',
  TEMPORAL_CLI_PATH: 'dev',
  MEND_TOKENS: 'api',
  MEND_TOKENS_FILE: 'api',
  MEND_API_START_BURST: 'api',
  MEND_API_START_PER_MINUTE: 'api',
  MEND_ALERT_LABELS: 'api',
  MEND_ALERT_DEDUPE_WINDOW: 'api',
  MEND_URL: 'cli',
  MEND_TOKEN: 'cli',
  MEND_SYNC_ON_START: 'api',
  MEND_WORKER_METRICS_PORT: 'service',
  MEND_WORKFLOW_CACHE: 'dev',
};
