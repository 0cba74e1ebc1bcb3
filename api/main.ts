/** The API process: settings, a lazy Temporal connection, Fastify on MEND_API_HOST:MEND_API_PORT. */
import { MendClient } from '../client';
import { readSettings } from '../core/settings';
import { buildApp } from './app';

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const client = await MendClient.connect({
    address: settings.MEND_TEMPORAL_ADDRESS,
    namespace: settings.MEND_NAMESPACE,
    taskQueue: settings.MEND_TASK_QUEUE,
    uiUrl: settings.MEND_UI_URL,
    lazy: true,
  });
  const app = await buildApp({ temporalReachable: () => client.isReachable(), logger: { level: settings.MEND_LOG_LEVEL } });
  const close = async () => {
    await app.close();
    await client.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void close());
  process.once('SIGTERM', () => void close());
  await app.listen({ host: settings.MEND_API_HOST, port: settings.MEND_API_PORT });
}

main().catch((err: Error) => {
  console.error(`api: ${err.message}`);
  process.exit(1);
});
