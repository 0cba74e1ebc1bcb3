/**
 * A host's outage as one event (`mend/host/<id>`, one per host and main queue): started (or
 * signalled) by whoever first sees a pickup timeout on the host's queue (a supervisor's probe or pid
 * watch, a health sweep), through the central `reportHostOutage` activity. It
 *  - counts the host's supervised components (from the health schedules) and notifies once:
 *    "host X unreachable, N components affected", however many supervisors and sweeps report it;
 *  - tells those supervisors to hold (no pid watch queued in vain, no restarts, no breaker trips);
 *  - waits for the agent with one presence probe at a time on the host's queue (a schedule-to-start
 *    timeout, then again after a growing gap): a returning agent picks the queued probe up at once;
 *  - when it is back: tells the supervisors, fires the health sweeps of the host's components at once
 *    (each supervisor recovers what died, after its dependencies: the dependency hold orders it,
 *    across hosts too) and notifies once: "host X reachable again".
 * Then it ends after a quiet window in which a report from before the return is dropped as stale
 * and a newer one is a new outage.
 */
import { condition, continueAsNew, log, patched, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { MendActivities } from '../activities';
import { HOST_PICKUP_TIMEOUT_MS } from '../core/constants';
import {
  HOST_PROBE_GAP_MS,
  HOST_QUIET_MS,
  pausedNote,
  reachableText,
  unreachableText,
  type HostOutageReport,
  type HostWatchState,
  type OutageNotify,
} from '../core/host-outage';
import { hostOutageSignal, hostWatchStateQuery } from '../core/messages';
import { hostActivities } from './lib/hosts';
import { causeMessage } from './lib/runbook';
import { isPickupTimeout } from './lib/unreachable';

export interface HostWatchInput {
  host: string;
  /** Carried across continue-as-new while the host is away (its outage was notified already). */
  state?: HostWatchState;
  notify?: OutageNotify;
}

const central = proxyActivities<MendActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
});
const KEEP_REPORTERS = 10;
/** Patch: the host's health schedules are paused while it is away (each sweep could only time out, a failed run every few seconds). */
const PAUSES_SCHEDULES_PATCH = 'host-watch-pauses-health-schedules';

export async function hostWatch(input: HostWatchInput): Promise<HostWatchState> {
  const { host } = input;
  const { taskQueue } = workflowInfo();
  let notify = input.notify;
  const state: HostWatchState = input.state ?? {
    host,
    status: 'unreachable',
    since: new Date(Date.now()).toISOString(),
    outages: 0,
    affected: [],
    schedules: [],
    reportedBy: [],
    reports: 0,
    probes: 0,
  };
  let reachableAt = 0;
  let newOutage = input.state === undefined;

  setHandler(hostWatchStateQuery, () => state);
  setHandler(hostOutageSignal, (report: HostOutageReport) => {
    if (report.notify?.webhook) notify = report.notify;
    if (state.status === 'reachable') {
      // Seen before the host came back: the outage that just ended, not a new one.
      if (Date.parse(report.seenAt) <= reachableAt) return;
      newOutage = true;
      state.reports = 0;
    }
    state.reports += 1;
    if (state.reportedBy.length < KEEP_REPORTERS && !state.reportedBy.includes(report.by)) state.reportedBy.push(report.by);
    state.affected = union(state.affected, report.components ?? []);
  });

  for (;;) {
    if (newOutage) {
      newOutage = false;
      state.status = 'unreachable';
      state.since = new Date(Date.now()).toISOString();
      state.outages += 1;
      state.probes = 0;
      const found = await central.hostComponents({ taskQueue, host });
      state.affected = union(state.affected, found.components);
      state.schedules = found.schedules;
      log.warn('host unreachable', { host, affected: state.affected.length, reportedBy: state.reportedBy });
      await central.tellSupervisorsHostStatus({ host, reachable: false, components: state.affected });
      await alert('host-unreachable', unreachableText(host, state.affected.length), { components: state.affected, reportedBy: state.reportedBy });
      // No sweep fires on a queue nobody polls; the supervisors hold meanwhile, and the presence probe watches for the agent.
      if (patched(PAUSES_SCHEDULES_PATCH)) {
        const paused = await central.pauseHealthSchedules({ host, schedules: state.schedules, note: pausedNote(host) });
        state.paused = union(state.paused ?? [], paused);
        if (paused.length > 0) log.info('health schedules paused while the host is away', { host, paused });
      }
    }

    await agentBack();
    const awayMs = Date.now() - Date.parse(state.since);
    reachableAt = Date.now();
    state.status = 'reachable';
    state.since = new Date(reachableAt).toISOString();
    log.info('host reachable again', { host, awayMs });
    await central.tellSupervisorsHostStatus({ host, reachable: true, components: state.affected });
    // Only what this workflow paused (a schedule an operator paused stays paused); set only on the patched branch.
    if ((state.paused ?? []).length > 0) {
      await central.resumeHealthSchedules({ schedules: state.paused!, note: pausedNote(host), why: `mend: host ${host} reachable again` });
      state.paused = [];
    }
    // Every component of the host checked now, not at its group's next firing.
    await central.triggerHealthSchedules({ schedules: state.schedules });
    await alert('host-reachable', reachableText(host, state.affected.length, awayMs), { components: state.affected, awayMs });

    if (!(await condition(() => newOutage, HOST_QUIET_MS))) return state;
    state.reportedBy = [];
  }

  /** Returns once an agent of the host picked up a presence probe; continues as new while away if the history grows long. */
  async function agentBack(): Promise<void> {
    const probe = hostActivities(host, {
      scheduleToStartTimeout: HOST_PICKUP_TIMEOUT_MS,
      startToCloseTimeout: '30s',
      retry: { maximumAttempts: 1 },
      summary: `is an agent of ${host} back?`,
    });
    for (let gap: number = HOST_PROBE_GAP_MS.initial; ; gap = Math.min(gap * 2, HOST_PROBE_GAP_MS.max)) {
      state.probes += 1;
      try {
        await probe.agentPresent();
        return;
      } catch (err) {
        if (!isPickupTimeout(err)) log.warn('presence probe failed', { host, error: causeMessage(err) });
      }
      const { continueAsNewSuggested, historyLength } = workflowInfo();
      if (continueAsNewSuggested || historyLength > 5_000) await continueAsNew<typeof hostWatch>({ host, state, notify });
      await sleep(gap);
    }
  }

  async function alert(kind: string, text: string, details: Record<string, unknown>): Promise<void> {
    if (!notify?.webhook) return;
    await central.notifyWebhook({ url: notify.webhook, timeoutMs: notify.timeoutMs, event: { kind, text, host, details: { host, ...details } } });
  }
}

function union(a: string[], b: string[]): string[] {
  return b.every((x) => a.includes(x)) ? a : [...new Set([...a, ...b])].sort();
}
