/**
 * One firing of a health schedule (`mend/health/<group>`): probe the group's components at once and
 * report failures and changes to their supervisors (signal-with-start, so a supervisor exists for
 * every watched component). With a lease (`leaseMs`), the firing keeps probing every interval for
 * that long (PROBE_LOOP_PATCH); without, it probes once. The schedule skips a firing while the last still runs.
 */
import { patched, proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { MendActivities, ProbeLoopResult, SweepResult } from '../activities';
import type { HealthSweepInput, SweepByRevision } from '../core/sweep-input';
import { DEFAULT_HOST } from '../core/constants';
import { byHost, HOST_QUEUES_PATCH, hostActivities } from './lib/hosts';
import { isPickupTimeout } from './lib/unreachable';

/** Patch: a host whose agent picked up no sweep is reported to its host's workflow (`mend/host/<id>`). */
const SWEEP_REPORTS_OUTAGE_PATCH = 'sweep-reports-host-outage';
/** Patch: a host part no agent picked up is reported and skipped, not a failed sweep (the host's workflow holds that news). */
const SWEEP_SKIPS_UNREACHABLE_PATCH = 'sweep-skips-unreachable-host';
/**
 * Patch: the firing carries the schedule's revision, not its specs (core/sweep-input.ts says why);
 * the host's agent reads the specs itself. A firing with the specs (a schedule not reconciled since)
 * still sweeps as before.
 */
const SWEEP_BY_REVISION_PATCH = 'sweep-input-by-revision';

/**
 * Patch: a firing with a lease (`leaseMs`, from `supervision.checkLease`) probes every interval for
 * the lease in one activity on the host's agent (`probeLoop`), instead of one sweep per firing (a
 * workflow start, its tasks and an activity every second per schedule were most of the server's
 * load at 5,000 components). The schedule's ticks during the lease are skipped (overlap SKIP).
 */
const PROBE_LOOP_PATCH = 'sweep-probe-loop';
/** Beyond a probe's own timeout, how long a probe loop may go without a heartbeat before its agent is taken for lost. */
const LOOP_HEARTBEAT_MARGIN_MS = 10_000;

export type { HealthSweepInput } from '../core/sweep-input';

export async function healthSweep(input: HealthSweepInput): Promise<SweepResult | ProbeLoopResult> {
  if (input.specs === undefined && patched(SWEEP_BY_REVISION_PATCH)) return sweepByRevision(input);
  if (input.specs === undefined) throw new Error(`health sweep of ${input.group}: no specs in its input`);
  // Every probe is bounded by its own timeout: the slowest one plus margin bounds the sweep.
  const slowest = Math.max(1_000, ...input.specs.map((s) => ('timeout' in s.component.probe ? s.component.probe.timeout : 1_000)));
  const options: ActivityOptions = { startToCloseTimeout: slowest + 30_000, retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 2 } };
  const taskQueue = workflowInfo().taskQueue;
  if (!patched(HOST_QUEUES_PATCH)) {
    const { sweepHealth } = proxyActivities<MendActivities>({ ...options, summary: `probe ${input.specs.length} component(s) of group ${input.group}` });
    return sweepHealth({ group: input.group, specs: input.specs, revision: input.revision, taskQueue });
  }
  // Each host's agent probes its own components (127.0.0.1 in a probe means that host), all at once.
  const groups = byHost(input.specs, (spec) => spec.component);
  const named = groups.length > 1 || input.specs.some((s) => s.component.host !== undefined);
  const settled = await Promise.allSettled(
    groups.map(({ host, items }) =>
      hostActivities(host, { ...options, summary: `probe ${items.length} component(s) of group ${input.group}${named ? ` on ${host}` : ''}` }).sweepHealth({
        group: input.group,
        specs: items,
        revision: input.revision,
        taskQueue,
      }),
    ),
  );
  // A host whose agent picked nothing up is reported to its host's workflow: one event per outage, whoever sees it.
  const unreachable = groups.filter((_, n) => settled[n]!.status === 'rejected' && isPickupTimeout((settled[n] as PromiseRejectedResult).reason));
  if (unreachable.length > 0 && patched(SWEEP_REPORTS_OUTAGE_PATCH)) {
    const { reportHostOutage } = proxyActivities<MendActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });
    const seenAt = new Date(Date.now()).toISOString();
    await Promise.all(
      unreachable.map(({ host, items }) =>
        reportHostOutage({
          taskQueue,
          report: { host, by: `sweep ${input.group}`, seenAt, components: items.map((spec) => spec.component.id), notify: items[0]!.notify },
        }).catch(() => undefined),
      ),
    );
  }
  // One host down does not hide what the others found (its components go unreported this time); all down fails the sweep.
  const results = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  // A host no agent serves was reported above: skipped ("unreachable" in the result), not a failed run every few seconds.
  const skipped = unreachable.length > 0 && patched(SWEEP_SKIPS_UNREACHABLE_PATCH) ? unreachable.map((g) => g.host) : [];
  const failed = settled.find((s, n): s is PromiseRejectedResult => s.status === 'rejected' && !skipped.includes(groups[n]!.host));
  if (results.length === 0 && failed) throw failed.reason;
  return {
    probed: results.reduce((n, r) => n + r.probed, 0),
    unhealthy: results.flatMap((r) => r.unhealthy),
    reported: results.flatMap((r) => r.reported),
    ...(skipped.length > 0 ? { unreachable: skipped } : {}),
  };
}

/**
 * One host's sweep, by revision: its agent reads the schedule's specs (once per revision) and probes
 * them. A host whose agent picks nothing up is reported to its host's workflow and skipped, as above.
 */
async function sweepByRevision(input: SweepByRevision): Promise<SweepResult | ProbeLoopResult> {
  const options: ActivityOptions = {
    startToCloseTimeout: Math.max(1_000, input.probeTimeoutMs) + 30_000,
    retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 2 },
  };
  const taskQueue = workflowInfo().taskQueue;
  const { group, scheduleId, revision, host } = input;
  const summary = `probe ${input.components} component(s) of group ${group}${host === DEFAULT_HOST ? '' : ` on ${host}`}`;
  try {
    const { leaseMs, intervalMs } = input;
    if (leaseMs !== undefined && intervalMs !== undefined && patched(PROBE_LOOP_PATCH)) {
      // The lease ends at the same instant for a retry: an agent lost mid-lease (no heartbeat) is
      // retried on the host's queue, where a pickup timeout says the host is unreachable (below).
      const until = new Date(Date.now() + leaseMs).toISOString();
      const loop = hostActivities(host, {
        startToCloseTimeout: leaseMs + Math.max(1_000, input.probeTimeoutMs) + 30_000,
        heartbeatTimeout: Math.max(input.probeTimeoutMs, intervalMs) + LOOP_HEARTBEAT_MARGIN_MS,
        retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 3 },
        summary: `${summary} every ${intervalMs} ms for ${Math.round(leaseMs / 1_000)} s`,
      });
      return await loop.probeLoop({ group, scheduleId, revision, taskQueue, intervalMs, until });
    }
    return await hostActivities(host, { ...options, summary }).sweepHealth({ group, scheduleId, revision, taskQueue });
  } catch (err) {
    if (!isPickupTimeout(err)) throw err;
    const { reportHostOutage } = proxyActivities<MendActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });
    // Which components and where to notify: the central activity reads them from the same specs.
    await reportHostOutage({
      taskQueue,
      report: { host, by: `sweep ${group}`, seenAt: new Date(Date.now()).toISOString() },
      specsOf: { scheduleId, revision },
    }).catch(() => undefined);
    return { probed: 0, unhealthy: [], reported: [], unreachable: [host] };
  }
}
