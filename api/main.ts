/** The API process: settings, config and tokens parsed once, a lazy Temporal connection, Fastify on MEND_API_HOST:MEND_API_PORT. */
import { readFileSync } from 'node:fs';
import closeWithGrace from 'close-with-grace';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { readSettings } from '../core/settings';
import { buildApp } from './app';
import { loadTokens } from './auth';
import { syncFromConfig } from './sync';

/** How long a close may take (in-flight requests, the Temporal connection) before the process exits anyway, with 1:
 * under docker's and Kubernetes' grace periods (10 s, 30 s), so a hung close is logged here rather than cut by SIGKILL. */
const SHUTDOWN_TIMEOUT_MS = 8_000;

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const config = loadConfigFile(settings.MEND_CONFIG, { stateDir: settings.MEND_HOME });
  const tokens = loadTokens(settings, (file) => readFileSync(file, 'utf8'));
  const client = await MendClient.connect({
    address: settings.MEND_TEMPORAL_ADDRESS,
    namespace: settings.MEND_NAMESPACE,
    taskQueue: settings.MEND_TASK_QUEUE,
    uiUrl: settings.MEND_UI_URL,
    lazy: true,
  });
  const app = await buildApp({
    mend: client,
    config,
    tokens,
    logger: { level: settings.MEND_LOG_LEVEL },
    rateLimit: { burst: settings.MEND_API_START_BURST, perMinute: settings.MEND_API_START_PER_MINUTE },
    alertLabels: settings.MEND_ALERT_LABELS,
    alertDedupeWindowMs: settings.MEND_ALERT_DEDUPE_WINDOW,
  });
  if (tokens.size === 0) app.log.warn('no API tokens (MEND_TOKENS / MEND_TOKENS_FILE): every /v1 request is refused with 401');
  const sync = settings.MEND_SYNC_ON_START ? syncFromConfig(client, config, app.log) : undefined;
  // On SIGINT/SIGTERM (and a crash): stop taking requests, finish those in flight, close Temporal, exit 0;
  // a second signal or a close past the timeout exits 1 at once.
  closeWithGrace({ delay: SHUTDOWN_TIMEOUT_MS, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'api: closing after an unexpected error');
    else app.log.info({ signal }, 'api: closing');
    sync?.stop();
    await app.close();
    await client.close();
  });
  await app.listen({ host: settings.MEND_API_HOST, port: settings.MEND_API_PORT });
}

main().catch((err: Error) => {
  console.error(`api: ${err.message}`);
  process.exit(1);
});
