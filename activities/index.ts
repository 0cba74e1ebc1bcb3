/**
 * The activities the worker registers. Every one is idempotent (safe if Temporal runs it twice);
 * the comment on each says why. Built by a factory so tests can pass their own dependencies.
 */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Component } from '../core/schemas';
import type { ProbeResult } from '../core/failure';
import { CommandNotFoundError, processAdapter, startProcess, stopProcess, type StartOutcome, type StopOutcome } from './adapters/process';
import { probeComponent } from './probes';

export interface ActivityDeps {
  /** Probe implementation; tests may wrap it to count calls. */
  probe?: (component: Component) => Promise<ProbeResult>;
}

export interface ComponentRef {
  component: Component;
}

export interface WaitHealthyInput extends ComponentRef {
  timeoutMs: number;
  intervalMs: number;
}

export interface WaitHealthyResult {
  healthy: boolean;
  probes: number;
  elapsedMs: number;
  last: ProbeResult;
}

export function createActivities(deps: ActivityDeps = {}) {
  const probe = deps.probe ?? probeComponent;

  return {
    /** Read-only: a probe changes nothing, so running it twice is harmless. */
    async checkHealth({ component }: ComponentRef): Promise<ProbeResult> {
      return probe(component);
    },

    /** Idempotent: stopping a component whose pid file names no live process does nothing. */
    async stopComponent({ component }: ComponentRef): Promise<StopOutcome> {
      const outcome = await stopProcess(processAdapter(component), () => Context.current().heartbeat());
      log.info('stop', { component: component.id, ...outcome });
      return outcome;
    },

    /** Idempotent: when the pid file already names a live process (a retry after a start that
     *  succeeded), nothing new is started and that pid is returned. */
    async startComponent({ component }: ComponentRef): Promise<StartOutcome> {
      try {
        const outcome = await startProcess(processAdapter(component));
        log.info('start', { component: component.id, ...outcome });
        return outcome;
      } catch (err) {
        if (err instanceof CommandNotFoundError) throw ApplicationFailure.nonRetryable(err.message, 'resource');
        throw err;
      }
    },

    /** Read-only: probes until healthy or the timeout, heartbeating each probe; a retry just probes again. */
    async waitUntilHealthy({ component, timeoutMs, intervalMs }: WaitHealthyInput): Promise<WaitHealthyResult> {
      const ctx = Context.current();
      const started = Date.now();
      let probes = 0;
      for (;;) {
        const last = await probe(component);
        probes += 1;
        ctx.heartbeat({ probes, last: last.detail });
        const elapsedMs = Date.now() - started;
        if (last.healthy || elapsedMs >= timeoutMs) return { healthy: last.healthy, probes, elapsedMs, last };
        await ctx.sleep(Math.min(intervalMs, Math.max(0, timeoutMs - elapsedMs)));
      }
    },
  };
}

export type MendActivities = ReturnType<typeof createActivities>;
