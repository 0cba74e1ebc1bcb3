/**
 * The activities the worker registers. Every one is idempotent (safe if Temporal runs it twice);
 * the comment on each says why. Built by a factory so tests can pass their own dependencies.
 */
import path from 'node:path';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { DEFAULT_HOST_EMBEDDED_MEMO } from '../core/constants';
import { withHomeDefaults } from '../core/config';
import type { Component, HttpCall } from '../core/schemas';
import { callEndpoint } from '../domain/adapters/http';
import type { ProbeResult } from '../core/failure';
import { AdapterError, startAdapter, stopAdapter, type StartOutcome, type StopOutcome } from '../domain/adapters';
import { CommandNotFoundError, deathOf, processAdapter } from '../domain/adapters/process';
import { warmLauncher } from '../domain/adapters/launcher-client';
import { createBacklogActivities } from './backlog/activities';
import { createDrillActivities } from './drill';
import { createHostActivities } from './hosts';
import { whileBeating } from './heartbeat';
import { restartProcess, type RestartInput, type RestartParts, type RestartResult } from './restart';
import { probeComponent } from '../domain/probes';
import { createSagaActivities } from './saga';
import { createStateActivities } from './state/activities';
import { createSupervisionActivities, type ArmedWatches, type WatchInput, type WatchResult } from './supervision';
import { findLostWatchRestart, watchAndRestart, type LostWatchInput } from './watch-restart';
import { createAdaptiveWindow } from '../domain/adaptive-window';
import { createSweepSpecsReader } from './sweep-specs';

export interface ActivityDeps {
  /** Probe implementation; tests may wrap it to count calls. */
  probe?: (component: Component) => Promise<ProbeResult>;
  /** MEND_HOME: where saga step markers live, and pid files, logs and checkpoints of components the config leaves to this host. */
  stateDir?: string;
  /** Aborted when the worker begins to stop: long watches end early instead of holding the shutdown. */
  shutdown?: AbortSignal;
  /**
   * Set by a central worker that also serves the default host: the supervisors its sweeps start carry
   * DEFAULT_HOST_EMBEDDED_MEMO, so they (and their recoveries) keep the default host's activities on
   * their own queue. Unset on an agent, which cannot tell what the central workers serve.
   */
  defaultHostEmbedded?: boolean;
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
  /** The started process exited before it was healthy; `last` says how (class `crash` or `resource`, exit status, log tail). */
  died?: boolean;
}

export interface HttpCallInput {
  call: HttpCall;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** How often validation looks at the started pid between probes. */
const PID_WATCH_MS = 100;

export function createActivities(deps: ActivityDeps = {}) {
  const home = path.resolve(deps.stateDir ?? '.mend');
  // A component on another host than the default comes without pid file, log and state folders:
  // they are placed under the MEND_HOME of the worker that acts on it (its host's agent).
  const local = (component: Component) => withHomeDefaults(component, home);
  const baseProbe = deps.probe ?? probeComponent;
  const probe = (component: Component) => baseProbe(local(component));
  // One cache of the health schedules' specs for the sweeps and the outage reports of this worker.
  const sweepSpecs = createSweepSpecsReader();

  // What this worker's watches restarted in place: the sweeps on this worker need not report it back up.
  const restartedInPlace = new Map<string, number>();
  // Its watches armed to restart in place: a sweep on this worker leaves an exit they will see to them.
  const armedToRestart = new Map<string, ArmedWatches>();
  const supervision = createSupervisionActivities(
    probe,
    deps.shutdown,
    {},
    sweepSpecs,
    deps.defaultHostEmbedded ? { [DEFAULT_HOST_EMBEDDED_MEMO]: true } : undefined,
    restartedInPlace,
    armedToRestart,
  );
  // The restarts this process's pid watches do in place: one adaptive window per host (per agent).
  const restartWindow = createAdaptiveWindow();

  // The single actions, shared by their own activities and by the one-activity restart.
  const parts: RestartParts = {
    probe: (component) => probe(component),
    async stop(component, beat) {
      try {
        const outcome = await stopAdapter(component, beat);
        // Steps of a recovery: debug (the supervisor logs the recovery's start and end).
        log.debug('stop', { component: component.id, adapter: component.adapter.type, ...outcome });
        return outcome;
      } catch (err) {
        throw adapterFailure(err);
      }
    },
    async start(component, beat) {
      try {
        const outcome = await startAdapter(component, beat);
        log.debug('start', { component: component.id, adapter: component.adapter.type, ...outcome });
        return outcome;
      } catch (err) {
        throw adapterFailure(err);
      }
    },
    waitHealthy: (input, beat, sleep) => waitHealthy(probe, input, beat, sleep),
  };

  return withLocalComponents(local, {
    /** Read-only: a probe changes nothing, so running it twice is harmless. */
    async checkHealth({ component }: ComponentRef): Promise<ProbeResult> {
      return probe(component);
    },

    /** Idempotent: stopping a component that is not running does nothing (pid file, `status` command);
     *  command and http stops are themselves safe to repeat (see domain/adapters). */
    async stopComponent({ component }: ComponentRef): Promise<StopOutcome> {
      const ctx = Context.current();
      return whileBeating(() => parts.stop(component, () => ctx.heartbeat()));
    },

    /** Idempotent: when the component already runs (a retry after a start that succeeded: live pid,
     *  `status` exits 0) nothing new is started; an http start endpoint sets a state. */
    async startComponent({ component }: ComponentRef): Promise<StartOutcome> {
      const ctx = Context.current();
      return whileBeating(() => parts.start(component, () => ctx.heartbeat()));
    },

    /**
     * Read-only: probes until healthy or the timeout, heartbeating each probe; a retry just probes again.
     * A process component's recorded pid is watched meanwhile: once it is gone (a zombie counts) while
     * the component is unhealthy, the wait ends at once with how it ended: waiting out the timeout cannot help.
     */
    async waitUntilHealthy(input: WaitHealthyInput): Promise<WaitHealthyResult> {
      const ctx = Context.current();
      return parts.waitHealthy(input, (seen) => ctx.heartbeat(seen));
    },

    /**
     * stop-if-alive, clean (when asked), start and wait until healthy in one activity, for the
     * supervisor's common case (a confirmed failure of a process component): see activities/restart.ts
     * for why it is safe to retry (each sub-step is idempotent, and a retry resumes after a recorded start).
     */
    async restartProcess(input: RestartInput): Promise<RestartResult> {
      return restartProcess(parts, input);
    },

    /**
     * A runbook's HTTP step (mend/kit `ctx.http`): one call, a one-line detail back. As idempotent
     * as the endpoint it calls: a retry calls it again, so runbooks call endpoints safe to repeat
     * (drain, undrain, set a flag), which the kit's documentation asks for.
     */
    async callHttp({ call, headers, timeoutMs }: HttpCallInput): Promise<{ detail: string }> {
      try {
        return { detail: await callEndpoint(call.method, call, headers ?? {}, timeoutMs) };
      } catch (err) {
        throw adapterFailure(err);
      }
    },

    ...createStateActivities(),
    ...supervision,

    /**
     * Read-only while it watches (see activities/supervision.ts); when its supervisor authorized it
     * (`restart`), it restarts the process in place on its exit: see activities/watch-restart.ts for
     * why that is safe to retry (the exit is heartbeated, and the restart resumes, never repeats).
     */
    async watchProcess(input: WatchInput): Promise<WatchResult> {
      // A process component is watched long before its first restart: the launcher that will start it
      // (not a fork of this worker) is started now, so that restart does not wait for it. A worker or
      // agent with no process component never starts one (some 27 MiB of RSS per agent).
      warmLauncher();
      if (!input.restart) return supervision.watchProcess(input);
      const { id } = input.component;
      const armed = armedToRestart.get(id) ?? { watches: 0, pidFile: processAdapter(input.component).pidFile! };
      armed.watches += 1;
      armedToRestart.set(id, armed);
      try {
        const done = await watchAndRestart(
          { parts, watch: (i) => supervision.watchProcess(i), window: restartWindow, shutdown: deps.shutdown, armed },
          { ...input, restart: input.restart },
        );
        if (done.exited && done.restart?.healthy) restartedInPlace.set(id, Date.parse(done.restart.endedAt));
        return done;
      } finally {
        armed.watches -= 1;
        if (armed.watches === 0 && armedToRestart.get(id) === armed) armedToRestart.delete(id);
      }
    },

    /** Read-only but for adopting an unrecorded process into its pid file (see activities/watch-restart.ts): it never starts anything. */
    async findLostWatchRestart(input: LostWatchInput): Promise<WatchResult> {
      return findLostWatchRestart({ parts }, input);
    },
    ...createHostActivities(sweepSpecs),
    ...createSagaActivities(home),
    ...createBacklogActivities(),
    ...createDrillActivities(probe),
  });
}

/** Every activity whose input names a `component` gets it with this worker's home defaults filled in. */
function withLocalComponents<T extends Record<string, (...args: never[]) => unknown>>(local: (c: Component) => Component, activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = (input: unknown, ...rest: unknown[]) => {
      const localized = isComponentRef(input) ? { ...input, component: local(input.component) } : input;
      return (fn as (...args: unknown[]) => unknown)(localized, ...rest);
    };
  }
  return wrapped as T;
}

function isComponentRef(input: unknown): input is ComponentRef {
  return typeof input === 'object' && input !== null && 'component' in input && typeof (input as ComponentRef).component === 'object';
}

/** Probes until healthy or the timeout; a process component's pid is watched meanwhile (see waitUntilHealthy). */
async function waitHealthy(
  probe: (component: Component) => Promise<ProbeResult>,
  { component, timeoutMs, intervalMs }: WaitHealthyInput,
  beat: (seen: object) => void,
  /** Between looks: the activity's (cancellable) sleep, or a plain one for a restart that must finish once begun. */
  sleep: (ms: number) => Promise<void> = (ms) => Context.current().sleep(ms),
): Promise<WaitHealthyResult> {
  const watched = component.adapter.type === 'process' ? component.adapter : undefined;
  const started = Date.now();
  let probes = 0;
  const died = async (): Promise<WaitHealthyResult | undefined> => {
    const death = watched && (await deathOf(watched));
    if (!death) return undefined;
    log.debug('died before healthy', { component: component.id, pid: death.pid, ...death.exit });
    return {
      healthy: false,
      died: true,
      probes,
      elapsedMs: Date.now() - started,
      last: { healthy: false, failureClass: death.failureClass, detail: death.detail, latencyMs: 0 },
    };
  };
  for (;;) {
    const last = await probe(component);
    probes += 1;
    beat({ probes, last: last.detail });
    // Healthy wins: whoever answers, the component works (a stale pid file does not fail it).
    const dead = !last.healthy && (await died());
    if (dead) return dead;
    const elapsedMs = Date.now() - started;
    if (last.healthy || elapsedMs >= timeoutMs) return { healthy: last.healthy, probes, elapsedMs, last };
    const until = Date.now() + Math.min(intervalMs, Math.max(0, timeoutMs - elapsedMs));
    while (Date.now() < until) {
      await sleep(Math.min(watched ? PID_WATCH_MS : intervalMs, until - Date.now()));
      const dead = await died();
      if (dead) return dead;
    }
  }
}

export type MendActivities = ReturnType<typeof createActivities>;
export type { RestartInput, RestartResult, SubStep } from './restart';
export type { SweepResult, ProbeLoopResult, ConfirmResult, WatchResult, DependenciesResult } from './supervision';

/** An adapter's error as a Temporal failure: its failure class as the type, non-retryable when trying again cannot help. */
function adapterFailure(err: unknown): unknown {
  if (err instanceof AdapterError) return ApplicationFailure.create({ message: err.message, type: err.failureClass, nonRetryable: !err.retryable });
  if (err instanceof CommandNotFoundError) return ApplicationFailure.nonRetryable(err.message, 'resource');
  return err;
}
