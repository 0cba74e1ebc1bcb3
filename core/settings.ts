/**
 * Every environment variable mend reads, parsed once at start. The README's table lists the same.
 * Pure: callers pass in `process.env`.
 */
import { z } from 'zod';
import { DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE } from './constants';
import { formatIssues, ValidationError } from './errors';

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
  MEND_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** A workflow bundle built ahead of time (tests, production images); otherwise bundled at worker start. */
  MEND_WORKFLOW_BUNDLE: z.string().optional(),
  TEMPORAL_CLI_PATH: z.string().optional(),
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
  MEND_LOG_LEVEL: 'log level of the worker and API (default info)',
  MEND_WORKFLOW_BUNDLE: 'prebuilt workflow bundle for the worker (optional)',
  TEMPORAL_CLI_PATH: 'the temporal binary to use instead of finding or building one (optional)',
};

export function readSettings(env: Record<string, string | undefined>): Settings {
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) throw new ValidationError('environment', formatIssues(parsed.error.issues));
  return parsed.data;
}

/**
 * Which processes read each setting: `service` ones must be set for the worker and API wherever
 * they run (docker-compose.yml too); `dev` ones only matter to the embedded dev stack and tests.
 */
export const SETTINGS_SCOPE: Record<keyof Settings, 'service' | 'dev'> = {
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
  MEND_WORKFLOW_BUNDLE: 'dev',
  TEMPORAL_CLI_PATH: 'dev',
};
