/**
 * Draining a host: its supervised components' supervisors are paused with the host named (the pause
 * signal's `host`), so they hold their automatic recoveries (`held: host web-1 drained ...`) until
 * `undrain` lifts the drain. A supervisor keeps a drain apart from a pause made by hand, so undrain
 * leaves such a pause in place. The drain lives where every pause lives, in each supervisor's durable state
 * (carried across continue-as-new, visible in its history and `state` query): no registry of its own.
 */
import { supervisorWorkflowId } from '../core/constants';
import { hostOf } from '../core/hosts';
import { pauseSupervisionSignal, resumeSupervisionSignal } from '../core/messages';
import type { Config } from '../core/schemas';
import type { SupervisorState } from '../core/supervision';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import type { MendClient } from './index';
import { supervisorSpec } from './schedules';
import { supervisorState } from './supervisors';

/** The supervised components the config puts on `host`. */
export function supervisedOnHost(config: Config, host: string): string[] {
  return config.components.filter((c) => c.supervision.enabled && hostOf(c) === host).map((c) => c.id);
}

/**
 * Pauses every supervisor of `host`'s components, starting one that does not run yet (as the sweep
 * would, with the same spec), so a component first swept after the drain is held too. Safe twice:
 * a second pause only restates the first.
 */
export async function drainHost(client: MendClient, config: Config, host: string, by: string, reason?: string): Promise<string[]> {
  const ids = supervisedOnHost(config, host);
  await Promise.all(
    ids.map((id) =>
      client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.supervisor, {
        workflowId: supervisorWorkflowId(id),
        taskQueue: client.taskQueue,
        args: [
          {
            spec: supervisorSpec(
              config.components.find((c) => c.id === id)!,
              config,
            ),
          },
        ],
        memo: client.startMemo,
        signal: pauseSupervisionSignal,
        signalArgs: [{ by, host, ...(reason ? { reason } : {}) }],
        staticSummary: `supervise ${id} (started by a drain of host ${host})`,
      }),
    ),
  );
  return ids;
}

/**
 * Lifts this host's drain from the supervisors of its components (a resume naming the host, which
 * lifts the drain only). A pause made by hand stays, drained or not: those are `skipped` (still
 * paused); `components` are the ones free to be recovered again.
 */
export async function undrainHost(client: MendClient, config: Config, host: string, by: string): Promise<{ components: string[]; skipped: string[] }> {
  const ids = supervisedOnHost(config, host);
  const states = await Promise.all(ids.map(async (id) => ({ id, state: await supervisorState(client, id) })));
  const drained = states.filter((s) => s.state?.drainedHost === host);
  // A drain recorded before drains were kept apart (no drainedBy) was the pause itself: lifting it resumes.
  const pausedByHand = (st: SupervisorState | undefined) => st?.pausedUntil !== undefined && (st.drainedHost !== host || st.drainedBy !== undefined);
  await Promise.all(drained.map((s) => client.temporal.workflow.getHandle(supervisorWorkflowId(s.id)).signal(resumeSupervisionSignal, { by, host })));
  return {
    components: drained.filter((s) => !pausedByHand(s.state)).map((s) => s.id),
    skipped: states.filter((s) => pausedByHand(s.state)).map((s) => s.id),
  };
}
