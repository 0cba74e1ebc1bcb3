/**
 * drain-restart: restart a component without its callers feeling it.
 *
 *   1. probe it (analysis);
 *   2. drain its dependents (POST /admin/drain: they keep answering health checks, take no traffic)
 *      and checkpoint its dependencies' state (preparation);
 *   3. restart it and wait until healthy (execution, validation);
 *   4. smoke-test through each dependent (GET /healthz: it calls the component), then undrain them.
 *
 * The dependents are undrained however the run ends, cancelled included. On the demo fleet:
 * `mend run drain-restart api` drains web, checkpoints store, restarts api, smoke-tests web, undrains it.
 */
import { CancellationScope, defineRunbook, type Component } from 'mend/kit';

/** The origin (scheme://host:port) a component's http probe answers on: where its admin endpoints are. */
function origin(c: Component): string | undefined {
  return c.probe.type === 'http' ? new URL(c.probe.url).origin : undefined;
}

export default defineRunbook({
  name: 'drain-restart',
  description: 'drain the dependents, checkpoint the dependencies, restart, smoke-test through the dependents, undrain',
  targets: 'components',
  async run(ctx) {
    const { component } = ctx;
    const dependents = ctx.relatives('dependents').filter((c) => origin(c) !== undefined);
    const dependencies = ctx.relatives('dependencies').filter((c) => c.state.paths.length > 0);

    ctx.phase('analysis');
    const before = await ctx.probe();

    ctx.phase('preparation');
    for (const d of dependents) await ctx.http({ url: `${origin(d)}/admin/drain` }, { name: 'drain' });
    try {
      for (const d of dependencies) await ctx.checkpoint({ component: d, name: `before-restart-of-${component.id}` });

      const validated = await ctx.restartAndValidate({ before });
      if (!ctx.dryRun && !validated?.healthy) ctx.fail(ctx.notHealthyReason(validated), validated?.last.failureClass);

      for (const d of dependents) await ctx.http({ url: `${origin(d)}/healthz`, method: 'GET' }, { name: 'smoke' });
    } finally {
      // Undrained even when the run fails or is cancelled: a drained web takes no traffic.
      await CancellationScope.nonCancellable(async () => {
        for (const d of dependents) await ctx.http({ url: `${origin(d)}/admin/undrain` }, { name: 'undrain' });
      });
    }
  },
});
