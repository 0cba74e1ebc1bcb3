/**
 * At API start: make Temporal match the config. Health schedules are reconciled (created, updated,
 * deleted; idempotent) and every spool's backlog replay is started or handed the current config.
 * Temporal may come up after the API (docker compose), so this retries until it succeeds.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { MendClient } from '../client';
import { BacklogControl } from '../client/backlog';
import { reconcileSchedules } from '../client/schedules';
import type { Config } from '../core/schemas';

export function syncFromConfig(mend: MendClient, config: Config, log: FastifyBaseLogger, retryMs = 5_000): { stop(): void; done: Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const done = (async () => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        const r = await reconcileSchedules(mend, config);
        const backlog = new BacklogControl(mend);
        for (const spool of config.spools) await backlog.ensure(spool);
        log.info(
          { created: r.created, updated: r.updated, deleted: r.deleted, unchanged: r.unchanged.length, spools: config.spools.map((s) => s.name) },
          'synced health schedules and backlog replays with the config',
        );
        return;
      } catch (err) {
        log.warn({ attempt, error: (err as Error).message }, `could not sync with Temporal yet; retrying in ${retryMs / 1000}s`);
        await new Promise<void>((resolve) => (timer = setTimeout(resolve, retryMs)));
      }
    }
  })();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    done,
  };
}
