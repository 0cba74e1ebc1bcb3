/**
 * How the newer commands reach mend: through the HTTP API when MEND_URL is set (MEND_TOKEN as the
 * bearer token), else straight to Temporal with MendClient, as the older commands do.
 */
import { MendClient } from '../client';
import type { Settings } from '../core/settings';
import { ApiClient, ApiError } from './api-client';
import { CliError, EXIT } from './errors';

export type Backend = { kind: 'api'; api: ApiClient } | { kind: 'temporal'; connect: () => Promise<MendClient> };

export function backendOf(settings: Settings): Backend {
  const api = ApiClient.fromSettings(settings);
  if (api) return { kind: 'api', api };
  return {
    kind: 'temporal',
    connect: () => MendClient.connect({ address: settings.MEND_TEMPORAL_ADDRESS, namespace: settings.MEND_NAMESPACE, taskQueue: settings.MEND_TASK_QUEUE, uiUrl: settings.MEND_UI_URL }),
  };
}

/** An API answer that is not a success, as a CLI error with the exit code scripts rely on. */
export function fromApiError(err: unknown): unknown {
  if (!(err instanceof ApiError)) return err;
  const code = err.status === 0 || err.status === 503 ? EXIT.unreachable : err.status === 400 || err.status === 404 ? EXIT.usage : EXIT.failed;
  return new CliError(err.status === 0 ? err.message : `the API answered ${err.status}: ${err.message}`, code);
}

/** Runs `fn` with the API client, mapping API errors to exit codes. */
export async function withApi<T>(api: ApiClient, fn: (api: ApiClient) => Promise<T>): Promise<T> {
  try {
    return await fn(api);
  } catch (err) {
    throw fromApiError(err);
  }
}

export async function withTemporal<T>(connect: () => Promise<MendClient>, fn: (client: MendClient) => Promise<T>): Promise<T> {
  const client = await connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
