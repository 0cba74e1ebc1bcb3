/**
 * Health-check schedules, reconciled from config: one Temporal Schedule per check group and host
 * (`mend/health/<group>`, `mend/health/<group>@<host>` for a named host) firing a `healthSweep` of
 * those components. A firing carries the schedule's revision; the specs are the input of a holder
 * workflow per schedule (`mend/health-specs/...`), read by the sweeps once per revision. Reconcile creates,
 * updates and deletes to match, and is idempotent: a schedule whose stored spec hash matches is
 * left alone, so a second reconcile changes nothing.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { ScheduleOverlapPolicy, WorkflowNotFoundError, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { HealthSchedule, ReconcileResult } from '../core/api';
import {
  DEFAULT_HOST,
  DEFAULT_MAX_CONCURRENT_RECOVERIES,
  healthScheduleId,
  healthSchedulePartId,
  healthSpecsWorkflowId,
  hostWorkflowId,
  supervisorWorkflowId,
} from '../core/constants';
import { pausedNote } from '../core/host-outage';
import { dependenciesOf } from '../core/graph';
import type { Component, Config } from '../core/schemas';
import { hostOf } from '../core/hosts';
import type { HealthSpecsInput, SweepByRevision } from '../core/sweep-input';
import { CHEAP_STRATEGIES, DESTRUCTIVE_STRATEGIES, type AdaptiveCap, type SupervisorSpec } from '../core/supervision';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { reconcileDrills } from './drills';
import { recoveryRelatives, type MendClient } from './index';
import { applySchedule, deleteUnwanted, ownedSchedules } from './schedule-sync';

const PREFIX = healthScheduleId('');

export interface HealthGroupPlan {
  group: string;
  /** The host whose components it sweeps (DEFAULT_HOST for components without `host:`). */
  host: string;
  /** Which part of its group this schedule sweeps (1 unless the group is split; see SWEEP_INPUT_BUDGET). */
  part: number;
  scheduleId: string;
  /** The smallest `supervision.interval` of the group's components. */
  intervalMs: number;
  specs: SupervisorSpec[];
  /** The slowest probe timeout of its components (the sweep activity's bound). */
  probeTimeoutMs: number;
  /** How long one firing probes, every `intervalMs` (`supervision.checkLease`); unset when not longer than the interval (one probe per firing). */
  leaseMs?: number;
  /** sha256 of everything the schedule and its specs' holder carry; stored in the action's memo, and the firings' revision. */
  hash: string;
}

export type { ReconcileResult } from '../core/api';

/** A health schedule with its task queue and whose it is, as the CLI and the API show it. */
export type HealthScheduleInfo = HealthSchedule;

/**
 * Largest specs (JSON bytes) one schedule sweeps. They are the input of the schedule's holder
 * workflow (`mend/health-specs/...`), not of each firing (which carries the revision), but a
 * payload above ~2 MB is still refused by the server, so a big group is split into parts. Under
 * the server's 512 kB warning.
 */
export const SWEEP_INPUT_BUDGET = 400 * 1024;

/** Splits specs, in order, into runs whose JSON stays within `budget` bytes (a single larger spec goes alone). */
export function splitSpecs(specs: SupervisorSpec[], budget = SWEEP_INPUT_BUDGET): SupervisorSpec[][] {
  const parts: SupervisorSpec[][] = [];
  let current: SupervisorSpec[] = [];
  // JSON of the array: its brackets, then each spec and a comma (one fewer than counted: the `]`).
  let bytes = 1;
  for (const spec of specs) {
    const size = JSON.stringify(spec).length + 1;
    if (current.length > 0 && bytes + size > budget) {
      parts.push(current);
      current = [];
      bytes = 1;
    }
    current.push(spec);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

/** What a supervisor gets for each watched component of `config`; `cores`: of the machine reading the config (for hosts that do not say). */
export function supervisorSpec(component: Component, config: Config, cores = availableParallelism()): SupervisorSpec {
  return specOf(component, config, fleetFacts(config), cores);
}

/** What every spec of a config reads of the whole fleet, worked out once for all of them (a walk of the whole config per spec made 5,000 components' specs take seconds). */
interface FleetFacts {
  watched: number;
  dependenciesOf: (id: string) => string[];
}

function fleetFacts(config: Config): FleetFacts {
  return { watched: config.components.filter((c) => c.supervision.enabled).length, dependenciesOf: dependenciesOf(config.components) };
}

function specOf(component: Component, config: Config, fleet: FleetFacts, cores: number): SupervisorSpec {
  const { notify, maxConcurrentRecoveries: explicit, maxDestructivePerMinute } = config.supervision;
  const maxConcurrentRecoveries = explicit ?? DEFAULT_MAX_CONCURRENT_RECOVERIES;
  // A cap the fleet cannot reach never refuses a permit: its limiter round trip is left out (a
  // destructive recovery still goes through it, for the per-minute ration).
  const capNeeded = fleet.watched > maxConcurrentRecoveries || DESTRUCTIVE_STRATEGIES.includes(component.policy.strategy);
  const dependencies = new Set(fleet.dependenciesOf(component.id));
  return {
    component,
    related: recoveryRelatives(component.policy.strategy, component, config.components),
    ...(dependencies.size > 0 ? { dependencies: config.components.filter((c) => dependencies.has(c.id)) } : {}),
    notify: notify.webhook ? { webhook: notify.webhook, timeoutMs: notify.timeout } : undefined,
    maxConcurrentRecoveries: capNeeded ? maxConcurrentRecoveries : undefined,
    maxDestructivePerMinute,
    ...(capNeeded ? adaptiveCap(component, config, cores) : {}),
  };
}

/**
 * A cheap recovery's adaptive window (issue 16): immediate or progressive restarts, whatever the
 * adapter (a process, a command or an HTTP restart call), unless turned off. Only the destructive
 * strategies, sagas and dependency-aware restarts (which restart the dependents too) keep the
 * strict cap: an http component's restart waited behind it before, one permit round at a time. Its ceiling is `adaptiveRecoveries.ceiling` or an explicit
 * `maxConcurrentRecoveries` (a cap on every recovery), the lower of the two; with neither, it
 * scales with its host's cores (`hosts[].cores`, else this machine's).
 */
function adaptiveCap(component: Component, config: Config, cores: number): { adaptive?: AdaptiveCap } {
  const { adaptiveRecoveries: a, maxConcurrentRecoveries: explicit } = config.supervision;
  const cheap = a.enabled && CHEAP_STRATEGIES.includes(component.policy.strategy);
  if (!cheap) return {};
  const hostCores = config.hosts.find((h) => h.id === hostOf(component))?.cores ?? cores;
  const ceiling = a.ceiling === undefined && explicit === undefined ? a.perCore * hostCores : Math.min(a.ceiling ?? Infinity, explicit ?? Infinity);
  return { adaptive: { ceiling, slowMs: a.slowAfter } };
}

/**
 * The schedules `config` asks for: one per group and host of enabled components, sorted by group
 * then id (so the default host's `mend/health/<group>` comes before `mend/health/<group>@<host>`); a
 * group's part of a host whose specs exceed SWEEP_INPUT_BUDGET gets one schedule per part, in
 * config order. Per host because the host's agent runs its sweeps: a lost host stalls only its
 * own schedule, and pausing it stops only its checks.
 */
export function planHealthGroups(config: Config, taskQueue: string, budget = SWEEP_INPUT_BUDGET): HealthGroupPlan[] {
  const groups = new Map<string, { group: string; host: string; components: Component[] }>();
  for (const c of config.components) {
    if (!c.supervision.enabled) continue;
    const host = hostOf(c);
    const key = healthSchedulePartId(c.supervision.group, 1, host);
    const entry = groups.get(key) ?? { group: c.supervision.group, host, components: [] };
    entry.components.push(c);
    groups.set(key, entry);
  }
  const fleet = fleetFacts(config);
  const cores = availableParallelism();
  return [...groups.values()]
    .sort((a, b) => a.group.localeCompare(b.group) || (a.host === DEFAULT_HOST ? -1 : b.host === DEFAULT_HOST ? 1 : a.host.localeCompare(b.host)))
    .flatMap(({ group, host, components }) => {
      const intervalMs = Math.min(...components.map((c) => c.supervision.interval));
      const leaseMs = config.supervision.checkLease;
      const lease = leaseMs !== undefined && leaseMs > intervalMs ? { leaseMs } : {};
      return splitSpecs(
        components.map((c) => specOf(c, config, fleet, cores)),
        budget,
      ).map((specs, i) => {
        const part = i + 1;
        // v 2: the firing carries the revision, not the specs (v 1 schedules get one update to it).
        // The lease only when there is one: a schedule without it keeps its hash.
        const shape =
          host !== DEFAULT_HOST
            ? { v: 2, host, part, intervalMs, ...lease, taskQueue, specs }
            : part === 1
              ? { v: 2, intervalMs, ...lease, taskQueue, specs }
              : { v: 2, part, intervalMs, ...lease, taskQueue, specs };
        const hash = createHash('sha256').update(JSON.stringify(shape)).digest('hex');
        const probeTimeoutMs = Math.max(1_000, ...specs.map((spec) => ('timeout' in spec.component.probe ? spec.component.probe.timeout : 1_000)));
        return { group, host, part, scheduleId: healthSchedulePartId(group, part, host), intervalMs, specs, probeTimeoutMs, ...lease, hash };
      });
    });
}

function scheduleParts(plan: HealthGroupPlan, taskQueue: string, startMemo: Record<string, unknown>) {
  const action: ScheduleOptionsStartWorkflowAction<Workflow> = {
    type: 'startWorkflow',
    workflowType: WORKFLOW_TYPES.healthSweep,
    // The schedule appends the firing time: mend/health/<group>-2026-11-23T16:00:00Z.
    workflowId: plan.scheduleId,
    taskQueue,
    // The revision, not the specs: the host's agent reads them from the holder once per revision.
    args: [
      {
        group: plan.group,
        scheduleId: plan.scheduleId,
        host: plan.host,
        revision: plan.hash,
        components: plan.specs.length,
        probeTimeoutMs: plan.probeTimeoutMs,
        // With a lease, the firing probes every interval until it ends (activities/supervision.ts, probeLoop).
        ...(plan.leaseMs === undefined ? {} : { leaseMs: plan.leaseMs, intervalMs: plan.intervalMs }),
      } satisfies SweepByRevision,
    ],
    memo: {
      ...startMemo,
      mendSpecHash: plan.hash,
      mendGroup: plan.group,
      mendPart: plan.part,
      mendComponents: plan.specs.map((s) => s.component.id),
      // Only named hosts: a one-host config's schedules stay exactly as they were.
      ...(plan.host === DEFAULT_HOST ? {} : { mendHost: plan.host }),
    },
    staticSummary: `health sweep of ${plan.group}${plan.host === DEFAULT_HOST ? '' : ` on ${plan.host}`}${plan.part > 1 ? ` part ${plan.part}` : ''} (${plan.specs.length} component(s))`,
  };
  return {
    spec: { intervals: [{ every: plan.intervalMs }] },
    action,
    // A sweep still running when the next is due: skip the next one, never pile them up. With a
    // lease the firing runs that long, and the ticks meanwhile are skipped: the schedule still ticks
    // every interval, so the next lease starts within one interval of the last one's end, and a
    // resumed schedule fires within one interval.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute', pauseOnFailure: false },
  };
}

/**
 * Makes the server's health schedules match `config`. Only schedules owned by `owner` (default:
 * the task queue) are deleted when their group is gone, so several stacks can share a server.
 */
export async function reconcileSchedules(client: MendClient, config: Config, opts: { owner?: string } = {}): Promise<ReconcileResult> {
  const taskQueue = client.taskQueue;
  const owner = opts.owner ?? taskQueue;
  const result: ReconcileResult = { created: [], updated: [], deleted: [], unchanged: [], retired: [], resumed: [] };
  const plans = planHealthGroups(config, taskQueue);
  const wanted = new Set(plans.map((p) => p.scheduleId));
  for (const plan of plans) {
    // The specs first: a firing of the new revision finds them.
    await holdSpecs(client, plan, taskQueue);
    const change = await applySchedule(client, plan.scheduleId, scheduleParts(plan, taskQueue, client.startMemo), plan.hash, owner);
    result[change].push(plan.scheduleId);
  }
  const deleted = await deleteUnwanted(client, PREFIX, owner, wanted);
  await releaseSpecs(client, deleted);
  result.deleted.push(...deleted);
  result.retired = await retireSupervisors(client, config);
  result.drills = await reconcileDrills(client, config, owner);
  result.resumed = await resumeOrphanedHostPauses(client, plans);
  return result;
}

/**
 * Health schedules still paused by a host's outage workflow (`mend/host/<id>`, their note says so)
 * that no longer runs: ended by hand while its host was away, it will never resume them, and the
 * host's checks would stay off until its next outage (which nothing could notice) or `mend resume`.
 * Resumed here: if the host is back, its sweeps run again; if it is still away, the first sweep
 * finds no agent and starts its workflow again, which pauses them again. A pause with any other
 * note (an operator's) is left alone, and so is one whose outage workflow still runs.
 */
async function resumeOrphanedHostPauses(client: MendClient, plans: HealthGroupPlan[]): Promise<string[]> {
  const resumed: string[] = [];
  for (const { scheduleId, host } of plans) {
    const handle = client.temporal.schedule.getHandle(scheduleId);
    const d = await handle.describe().catch(() => undefined);
    if (!d?.state.paused || d.state.note !== pausedNote(host) || d.action.type !== 'startWorkflow') continue;
    const watchId = hostWorkflowId(d.action.taskQueue, host);
    const watching = await client.temporal.workflow
      .getHandle(watchId)
      .describe()
      .then(
        (w) => w.status.name === 'RUNNING',
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        },
      );
    if (watching) continue;
    await handle.unpause(`mend: reconcile: paused for host ${host}'s outage, but ${watchId} no longer runs to resume it`);
    resumed.push(scheduleId);
  }
  return resumed;
}

/**
 * Makes the schedule's specs holder (`mend/health-specs/...`) hold `plan`'s revision: left alone
 * when it runs with it; otherwise a new one takes its place (the old one is terminated; its history
 * still answers a firing of the old revision within the namespace's retention).
 */
async function holdSpecs(client: MendClient, plan: HealthGroupPlan, taskQueue: string): Promise<void> {
  const workflowId = healthSpecsWorkflowId(plan.scheduleId);
  const current = await client.temporal.workflow
    .getHandle(workflowId)
    .describe()
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
  if (current?.status.name === 'RUNNING' && current.memo?.mendSpecHash === plan.hash) return;
  const input: HealthSpecsInput = { scheduleId: plan.scheduleId, revision: plan.hash, specs: plan.specs };
  await client.temporal.workflow.start(WORKFLOW_TYPES.healthSpecs, {
    workflowId,
    taskQueue,
    args: [input],
    memo: { mendSpecHash: plan.hash },
    workflowIdConflictPolicy: 'TERMINATE_EXISTING',
    staticSummary: `specs of ${plan.scheduleId} (${plan.specs.length} component(s)), read by its sweeps once per revision`,
  });
}

/** Ends the specs holders of deleted schedules. */
async function releaseSpecs(client: MendClient, scheduleIds: string[]): Promise<void> {
  for (const id of scheduleIds)
    await client.temporal.workflow
      .getHandle(healthSpecsWorkflowId(id))
      .terminate('health schedule deleted')
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
}

/**
 * Terminates the running supervisors on the client's task queue whose component is gone from the
 * config or no longer supervised, so none of them restarts what the operator took out. A recovery
 * one of them started goes on (it is not its child past ABANDON).
 */
async function retireSupervisors(client: MendClient, config: Config): Promise<string[]> {
  const wanted = new Set(config.components.filter((c) => c.supervision.enabled).map((c) => supervisorWorkflowId(c.id)));
  const query = `WorkflowType = ${JSON.stringify(WORKFLOW_TYPES.supervisor)} AND ExecutionStatus = "Running" AND TaskQueue = ${JSON.stringify(client.taskQueue)}`;
  const retired: string[] = [];
  for await (const run of client.temporal.workflow.list({ query })) {
    if (wanted.has(run.workflowId)) continue;
    await client.temporal.workflow
      .getHandle(run.workflowId)
      .terminate('component no longer supervised by the config')
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
    retired.push(run.workflowId);
  }
  return retired.sort();
}

/** Every mend health schedule on the server (of `owner` when given), described. */
export async function listHealthSchedules(client: MendClient, opts: { owner?: string } = {}): Promise<HealthScheduleInfo[]> {
  const ids: Array<{ id: string; owner?: string }> = [];
  for await (const s of client.temporal.schedule.list()) {
    if (!s.scheduleId.startsWith(PREFIX)) continue;
    const scheduleOwner = typeof s.memo?.mendOwner === 'string' ? s.memo.mendOwner : undefined;
    if (opts.owner !== undefined && scheduleOwner !== opts.owner) continue;
    ids.push({ id: s.scheduleId, owner: scheduleOwner });
  }
  const infos = await Promise.all(
    ids.map(async ({ id, owner }): Promise<HealthScheduleInfo | undefined> => {
      const d = await client.temporal.schedule
        .getHandle(id)
        .describe()
        .catch(() => undefined);
      if (!d) return undefined;
      const action = d.action.type === 'startWorkflow' ? d.action : undefined;
      const every = d.spec.intervals?.[0]?.every;
      return {
        scheduleId: id,
        group: typeof action?.memo?.mendGroup === 'string' ? action.memo.mendGroup : id.slice(PREFIX.length),
        host: typeof action?.memo?.mendHost === 'string' ? action.memo.mendHost : DEFAULT_HOST,
        intervalMs: typeof every === 'number' ? every : undefined,
        paused: d.state.paused,
        // Temporal keeps the last note after an unpause too: it is shown only while it explains a pause.
        pauseNote: d.state.paused && d.state.note ? d.state.note : undefined,
        components: Array.isArray(action?.memo?.mendComponents) ? (action.memo.mendComponents as string[]) : [],
        taskQueue: action?.taskQueue,
        owner,
        nextRunAt: d.info.nextActionTimes[0]?.toISOString(),
        lastRunAt: d.info.recentActions.at(-1)?.takenAt.toISOString(),
      };
    }),
  );
  return infos.filter((i): i is HealthScheduleInfo => i !== undefined).sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

/** Deletes every health schedule of `owner`, and the `known` ids (which a just-created schedule may need: visibility lags). */
export async function deleteHealthSchedules(client: MendClient, owner: string, known: string[] = []): Promise<string[]> {
  const deleted: string[] = [];
  const ids = new Set([...known, ...(await ownedSchedules(client, owner, PREFIX)).map((s) => s.scheduleId)]);
  for (const scheduleId of ids) {
    await client.temporal.schedule
      .getHandle(scheduleId)
      .delete()
      .catch(() => undefined);
    deleted.push(scheduleId);
  }
  await releaseSpecs(client, deleted);
  return deleted;
}
