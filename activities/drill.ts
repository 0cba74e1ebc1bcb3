/** Drill activities: break a component on purpose, then watch it come back. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ProbeResult } from '../core/failure';
import type { Component, Drill } from '../core/schemas';
import { runArgv } from '../domain/adapters/exec';
import { processAdapter, runningProcess } from '../domain/adapters/process';

export interface InjectFaultInput {
  component: Component;
  fault: Drill['fault'];
}

export interface WatchRecoveryInput {
  component: Component;
  /** Since when (ms) the component counts as broken: the injection time. */
  sinceMs: number;
  timeoutMs: number;
  intervalMs: number;
}

export function createDrillActivities(probe: (component: Component) => Promise<ProbeResult>) {
  return {
    /**
     * Breaks the component. Not a no-op when run twice, but harmless: a second SIGKILL or SIGSTOP of
     * the same process changes nothing, and a process already gone is reported, not an error.
     */
    async injectFault({ component, fault }: InjectFaultInput): Promise<{ injectedAtMs: number; detail: string }> {
      if (typeof fault !== 'string') {
        const result = await runArgv(fault.command, { cwd: fault.cwd, timeoutMs: fault.timeout });
        const why =
          result.kind === 'timeout'
            ? 'timed out'
            : result.kind === 'cannot-run'
              ? result.message
              : result.code === 0
                ? undefined
                : `exit ${result.code ?? result.signal}`;
        if (why) throw ApplicationFailure.nonRetryable(`fault command ${fault.command.join(' ')} failed: ${why}`, 'resource');
        return { injectedAtMs: Date.now(), detail: `ran ${fault.command.join(' ')}` };
      }
      const running = await runningProcess(processAdapter(component));
      if (!running) return { injectedAtMs: Date.now(), detail: `${component.id} was not running` };
      process.kill(running.pid, fault === 'crash' ? 'SIGKILL' : 'SIGSTOP');
      return { injectedAtMs: Date.now(), detail: `${fault === 'crash' ? 'SIGKILL' : 'SIGSTOP'} to pid ${running.pid}` };
    },

    /** Read-only: probes until the component answers healthy (after `sinceMs`) or the timeout; a retry probes again. */
    async watchRecovery({
      component,
      sinceMs,
      timeoutMs,
      intervalMs,
    }: WatchRecoveryInput): Promise<{ healthy: boolean; atMs: number; probes: number; last: string }> {
      const ctx = Context.current();
      let probes = 0;
      for (;;) {
        const result = await probe(component);
        probes++;
        ctx.heartbeat({ probes });
        const now = Date.now();
        if (result.healthy) return { healthy: true, atMs: now, probes, last: result.detail };
        if (now - sinceMs >= timeoutMs) return { healthy: false, atMs: now, probes, last: result.detail };
        await ctx.sleep(intervalMs);
      }
    },
  };
}
