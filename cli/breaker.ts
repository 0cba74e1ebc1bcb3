/** `mend breaker reset <component> --reason <text>`: close a supervisor's circuit breaker by hand. */
import type { Command } from '@commander-js/extra-typings';
import { BreakerResetBodySchema } from '../core/api';
import type { Settings } from '../core/settings';
import { CliError, EXIT } from './errors';
import { withOps } from './ops';

/** The reason as the API checks it, so a bad one is refused the same way either way mend is reached. */
function parseReason(text: string | undefined): string {
  const parsed = BreakerResetBodySchema.shape.reason.safeParse(text ?? '');
  if (!parsed.success) throw new CliError(`--reason: ${parsed.error.issues[0]?.message ?? 'invalid'}`, EXIT.usage);
  return parsed.data;
}

export function addBreakerCommand(program: Command, settings: Settings): void {
  const breaker = program.command('breaker').description("a component supervisor's circuit breaker");
  breaker
    .command('reset <component>')
    .description(
      "close the component's circuit breaker now: its supervisor records who and why, starts its backoffs over and checks the component at once (a failure is then recovered)",
    )
    .requiredOption('--reason <text>', "why (recorded in the supervisor's history and sent with the alert)")
    .option('-c, --config <file>', "components config (not used with MEND_URL: the API's config is)", settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .addHelpText('after', "\nExample:\n  mend breaker reset api --reason 'disk freed; restarts should work again'")
    .action(async (component, opts) => {
      const reason = parseReason(opts.reason);
      const done = await withOps(settings, opts.config, (ops) => ops.resetBreaker(component, reason));
      if (opts.json) return console.log(JSON.stringify(done, null, 2));
      console.log(
        `${done.component}: breaker ${done.state} (was ${done.previous}), reset by ${done.by}: ${done.reason}${done.checking ? '; checking it now' : ''}`,
      );
    });
}
