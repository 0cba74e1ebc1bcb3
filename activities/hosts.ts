/**
 * Activities of a host outage as one event (the host's workflow, `mend/host/<id>`): reporting a
 * pickup timeout to it, finding the host's supervised components, telling their supervisors, firing
 * their health sweeps when the host is back, and the presence probe on the host's queue. All but
 * the probe are central (they need the Temporal client, not the host). Each is safe twice (see each).
 */
import { Context } from '@temporalio/activity';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, WorkflowNotFoundError } from '@temporalio/client';
import { healthScheduleId, hostWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { HostOutageReport } from '../core/host-outage';
import { hostOf } from '../core/hosts';
import { hostOutageSignal, hostStatusSignal } from '../core/messages';
import { sweptBy } from '../core/sweep-input';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { createSweepSpecsReader, type SweepSpecsReader } from './sweep-specs';

export interface HostComponents {
  /** Supervised components of the host, by id (sorted). */
  components: string[];
  /** The health schedules that sweep them. */
  schedules: string[];
}

const HEALTH_PREFIX = healthScheduleId('');

/** The ids of `host`'s components among a firing's specs (a schedule from before hosts, sweeping several). */
function hostsComponents(input: unknown, host: string): string[] {
  const specs = (input as { specs?: Array<{ component: { id: string; host?: string } }> } | undefined)?.specs ?? [];
  return specs.filter((spec) => hostOf(spec.component) === host).map((spec) => spec.component.id);
}

const notFound = (err: unknown) => {
  if (err instanceof ScheduleNotFoundError) return undefined;
  throw err;
};

export function createHostActivities(sweepSpecs: SweepSpecsReader = createSweepSpecsReader()) {
  return {
    /**
     * Signal-with-start of the host's workflow with what was seen. Safe twice: the workflow treats
     * every report of an outage it already knows as the same outage (one notification).
     */
    async reportHostOutage({
      taskQueue,
      report: given,
      specsOf,
    }: {
      taskQueue: string;
      report: HostOutageReport;
      specsOf?: { scheduleId: string; revision: string };
    }): Promise<void> {
      const client = Context.current().client;
      // A sweep by revision names its schedule: its components and where to notify come from its specs.
      const specs = specsOf && (await sweepSpecs(client, specsOf.scheduleId, specsOf.revision)).specs;
      const report: HostOutageReport = specs ? { ...given, components: specs.map((s) => s.component.id), notify: specs[0]?.notify } : given;
      await client.workflow.signalWithStart(WORKFLOW_TYPES.hostWatch, {
        workflowId: hostWorkflowId(taskQueue, report.host),
        taskQueue,
        args: [{ host: report.host }],
        signal: hostOutageSignal,
        signalArgs: [report],
        staticSummary: `host ${report.host}: one event per outage (first seen by ${report.by})`,
      });
    },

    /**
     * Read-only (lists and describes schedules): the supervised components of `host` on `taskQueue`,
     * as the health schedules reconcile made from the config say, and those schedules.
     */
    async hostComponents({ taskQueue, host }: { taskQueue: string; host: string }): Promise<HostComponents> {
      const client = Context.current().client;
      const ids: string[] = [];
      for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(HEALTH_PREFIX)) ids.push(s.scheduleId);
      const components = new Set<string>();
      const schedules: string[] = [];
      for (const id of ids) {
        const d = await client.schedule
          .getHandle(id)
          .describe()
          .catch((err: unknown) => {
            if (err instanceof ScheduleNotFoundError) return undefined;
            throw err;
          });
        if (d?.action.type !== 'startWorkflow' || d.action.taskQueue !== taskQueue) continue;
        const swept = sweptBy(d.action.args?.[0], d.action.memo);
        if (!swept.hosts.includes(host)) continue;
        // A schedule of one host (every one since hosts came): all its components are that host's.
        const mine = swept.hosts.length === 1 ? swept.components : hostsComponents(d.action.args?.[0], host);
        if (mine.length === 0) continue;
        schedules.push(id);
        for (const c of mine) components.add(c);
      }
      return { components: [...components].sort(), schedules: schedules.sort() };
    },

    /** Signals the running supervisors of `components` that their host is (un)reachable. Safe twice: the same news changes nothing. */
    async tellSupervisorsHostStatus({ host, reachable, components }: { host: string; reachable: boolean; components: string[] }): Promise<number> {
      const client = Context.current().client;
      const told = await Promise.all(
        components.map((id) =>
          client.workflow
            .getHandle(supervisorWorkflowId(id))
            .signal(hostStatusSignal, { host, reachable })
            .then(
              () => 1,
              (err: unknown) => {
                if (err instanceof WorkflowNotFoundError) return 0;
                throw err;
              },
            ),
        ),
      );
      return told.reduce((a, b) => a + b, 0);
    },

    /**
     * Fires the health schedules now (any overlap allowed), except those paused: a pause (an
     * operator's) stops a schedule's checks, and a trigger would run one anyway. Safe twice: a sweep
     * more only probes again.
     */
    async triggerHealthSchedules({ schedules }: { schedules: string[] }): Promise<string[]> {
      const client = Context.current().client;
      const fired: string[] = [];
      for (const id of schedules) {
        const d = await client.schedule.getHandle(id).describe().catch(notFound);
        if (!d || d.state.paused) continue;
        const ok = await client.schedule
          .getHandle(id)
          .trigger(ScheduleOverlapPolicy.ALLOW_ALL)
          .then(
            () => true,
            (err: unknown) => {
              if (err instanceof ScheduleNotFoundError) return false;
              throw err;
            },
          );
        if (ok) fired.push(id);
      }
      return fired;
    },

    /**
     * Pauses those of `schedules` that sweep only `host` and are running, with `note` (naming the
     * outage), so a dead host's schedule fires no sweep that can only time out; returns the ids it
     * paused (the only ones `resumeHealthSchedules` may resume). One already paused is left alone (an
     * operator's pause is theirs), unless it carries `note` already. Safe twice: a retry finds its
     * own pauses by their note and returns them again.
     */
    async pauseHealthSchedules({ host, schedules, note }: { host: string; schedules: string[]; note: string }): Promise<string[]> {
      const client = Context.current().client;
      const paused: string[] = [];
      for (const id of schedules) {
        const handle = client.schedule.getHandle(id);
        const d = await handle.describe().catch(notFound);
        if (!d || d.action.type !== 'startWorkflow') continue;
        // A schedule that also sweeps another host keeps going for that host's sake.
        if (sweptBy(d.action.args?.[0], d.action.memo).hosts.some((h) => h !== host)) continue;
        if (d.state.paused) {
          if (d.state.note === note) paused.push(id);
          continue;
        }
        await handle.pause(note);
        paused.push(id);
      }
      return paused;
    },

    /**
     * Resumes those of `schedules` still paused with `note` (so never one an operator paused, or paused
     * again with their own note meanwhile). Returns the ids it resumed. Safe twice: a resumed schedule
     * no longer carries the note.
     */
    async resumeHealthSchedules({ schedules, note, why }: { schedules: string[]; note: string; why: string }): Promise<string[]> {
      const client = Context.current().client;
      const resumed: string[] = [];
      for (const id of schedules) {
        const handle = client.schedule.getHandle(id);
        const d = await handle.describe().catch(notFound);
        if (!d?.state.paused || d.state.note !== note) continue;
        await handle.unpause(why);
        resumed.push(id);
      }
      return resumed;
    },

    /** Changes nothing: that a worker of the host's queue picked it up is the answer (the host is back). */
    async agentPresent(): Promise<{ at: string }> {
      // Who picked it up is on the activity's started event (the agent's identity).
      return { at: new Date().toISOString() };
    },
  };
}
