import type { WaitHealthyResult } from '../activities';
import { backoffDelay } from '../core/backoff';
import { defineRunbook } from '../kit';
import { builtinDescription } from '../kit/meta';

/**
 * `progressive`: restart and validate; after a failed attempt wait with exponential backoff and
 * jitter (a durable timer: a 5-minute wait survives worker and server restarts), up to
 * `policy.maxRetries` attempts. Pause holds before the next attempt; cancel stops it cleanly.
 */
export const progressiveRestart = defineRunbook({
  name: 'progressive',
  description: builtinDescription('progressive'),
  targets: 'components',
  async run(ctx) {
    const { component } = ctx;
    const { policy } = component;
    ctx.phase('analysis');
    const before = await ctx.probe();
    let last: WaitHealthyResult | undefined;
    for (let attempt = 1; attempt <= policy.maxRetries; attempt++) {
      ctx.attempt = attempt;
      last = await ctx.restartAndValidate({ label: ` (attempt ${attempt} of ${policy.maxRetries})`, before });
      if (ctx.dryRun) return ctx.finish('planned');
      if (last?.healthy) return ctx.finish('recovered');
      if (attempt === policy.maxRetries) break;
      const delayMs = backoffDelay(attempt, policy, Math.random());
      ctx.run.nextAttemptAt = new Date(Date.now() + delayMs).toISOString();
      ctx.phase('preparation');
      await ctx.sleep(delayMs, `backoff ${delayMs}ms before attempt ${attempt + 1}`, {
        name: 'backoff',
        timerSummary: `backoff ${delayMs}ms before attempt ${attempt + 1} of ${policy.maxRetries}`,
      });
      ctx.run.nextAttemptAt = undefined;
    }
    ctx.fail(`${component.id} not healthy after ${policy.maxRetries} attempts: ${last?.last.detail ?? 'no probe'}`, last?.last.failureClass);
  },
});
