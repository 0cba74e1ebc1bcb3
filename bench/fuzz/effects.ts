/**
 * What requests did to Temporal, read from Temporal itself: which workflows started since the run
 * began (visibility), and the state of every `j` target (targets.ts): its run waiting for an
 * approval, its supervisor, its backlog entity (signals, cancellations and updates in their
 * histories), its health schedule (paused, note, actions taken) and its demo process (starts).
 * Only bad requests name `j`, so any change there, and any workflow that started outside `v`, is
 * an effect of bad input.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { MendClient } from '../../client';
import { backlogWorkflowId, healthScheduleId, recoveryWorkflowId, supervisorWorkflowId } from '../../core/constants';
import { T } from './targets';

/** History events by which a request acts on a running workflow. */
const ACTED = [
  'workflowExecutionSignaledEventAttributes',
  'workflowExecutionCancelRequestedEventAttributes',
  'workflowExecutionUpdateAdmittedEventAttributes',
  'workflowExecutionUpdateAcceptedEventAttributes',
  'workflowExecutionTerminatedEventAttributes',
] as const;

export interface JState {
  /** Per entity workflow id: runs and the events that acted on them, by kind. */
  entities: Record<string, { runs: number; acted: Record<string, number> }>;
  gate: { approval?: string; paused?: boolean };
  schedule: { paused: boolean; note: string; actions: number };
  demoStarts: number;
}

export interface StartedWorkflow {
  workflowId: string;
  type: string;
  root: string;
  startTime: string;
  status: string;
  kind: 'v' | 'continued' | 'background' | 'bad-input';
}

export class EffectWatch {
  private baselineIds = new Set<string>();
  since = new Date();
  baseline!: JState;

  constructor(
    private readonly client: MendClient,
    private readonly dir: string,
  ) {}

  async start(): Promise<void> {
    this.since = new Date(Date.now() - 1_000);
    this.baselineIds = new Set((await this.list('ExecutionStatus = "Running"')).map((e) => e.workflowId));
    this.baseline = await this.jState();
  }

  private async list(query: string): Promise<Array<{ workflowId: string; type: string; root: string; startTime: string; status: string }>> {
    const out: Array<{ workflowId: string; type: string; root: string; startTime: string; status: string }> = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const res = await this.client.connection.workflowService.listWorkflowExecutions({
        namespace: this.client.namespace,
        query,
        pageSize: 1000,
        nextPageToken,
      });
      for (const e of res.executions ?? []) {
        const workflowId = e.execution?.workflowId ?? '?';
        const start = e.startTime?.seconds ? new Date(Number(e.startTime.seconds) * 1000).toISOString() : '?';
        out.push({
          workflowId,
          type: e.type?.name ?? '?',
          root: e.rootExecution?.workflowId || e.parentExecution?.workflowId || workflowId,
          startTime: start,
          status: String(e.status ?? '?'),
        });
      }
      nextPageToken = res.nextPageToken && res.nextPageToken.length > 0 ? res.nextPageToken : undefined;
    } while (nextPageToken);
    return out;
  }

  /** Every workflow that started since `start()`, classified. */
  async started(): Promise<StartedWorkflow[]> {
    const all = await this.list(`StartTime >= "${this.since.toISOString()}"`);
    return all.map((w) => {
      const ids = [w.workflowId, w.root];
      let kind: StartedWorkflow['kind'];
      if (ids.some((id) => Object.values(T.v).some((name) => id.split(/[/@]/).includes(name) || id.startsWith(`${healthScheduleId(T.v.group)}-`)))) kind = 'v';
      else if (this.baselineIds.has(w.workflowId)) kind = 'continued';
      // Entities the runs of `v` start or wake: the fleet-wide limiter, the host watches.
      else if (/^mend\/(fleet|host)\//.test(w.workflowId)) kind = 'background';
      else kind = 'bad-input';
      return { ...w, kind };
    });
  }

  async jState(): Promise<JState> {
    const entities: JState['entities'] = {};
    for (const id of [recoveryWorkflowId(T.j.gate), supervisorWorkflowId(T.j.svc), backlogWorkflowId(T.j.spool)]) {
      const runIds = await this.runIds(id);
      const acted: Record<string, number> = {};
      for (const runId of runIds) {
        const history = await this.client.temporal.workflow.getHandle(id, runId).fetchHistory();
        for (const e of history.events ?? []) {
          const event = e as unknown as Record<string, unknown>;
          for (const k of ACTED) {
            const kind = k.replace(/^workflowExecution|EventAttributes$/g, '');
            if (event[k] != null) acted[kind] = (acted[kind] ?? 0) + 1;
          }
        }
      }
      entities[id] = { runs: runIds.length, acted };
    }
    const progress = await this.client.progress(recoveryWorkflowId(T.j.gate)).catch(() => undefined);
    const d = await this.client.temporal.schedule.getHandle(healthScheduleId(T.j.group)).describe();
    return {
      entities,
      gate: { approval: progress?.approval?.state, paused: progress?.paused },
      schedule: { paused: d.state.paused, note: d.state.note ?? '', actions: d.info.numActionsTaken + d.info.numActionsSkippedOverlap },
      demoStarts: demoStarts(this.dir, T.j.svc),
    };
  }

  private async runIds(workflowId: string): Promise<string[]> {
    const res = await this.client.connection.workflowService.listWorkflowExecutions({
      namespace: this.client.namespace,
      query: `WorkflowId = "${workflowId}"`,
      pageSize: 100,
    });
    return (res.executions ?? []).map((e) => e.execution?.runId ?? '').filter(Boolean);
  }
}

/** Differences between two states of `j`, one line each. */
export function jChanges(before: JState, after: JState): string[] {
  const out: string[] = [];
  for (const [id, b] of Object.entries(before.entities)) {
    const a = after.entities[id]!;
    if (a.runs !== b.runs) out.push(`${id}: ${b.runs} run(s) → ${a.runs}`);
    for (const kind of new Set([...Object.keys(b.acted), ...Object.keys(a.acted)]))
      if ((a.acted[kind] ?? 0) !== (b.acted[kind] ?? 0)) out.push(`${id}: ${kind} events ${b.acted[kind] ?? 0} → ${a.acted[kind] ?? 0}`);
  }
  if (before.gate.approval !== after.gate.approval) out.push(`${recoveryWorkflowId(T.j.gate)}: approval ${before.gate.approval} → ${after.gate.approval}`);
  if (before.gate.paused !== after.gate.paused) out.push(`${recoveryWorkflowId(T.j.gate)}: paused ${before.gate.paused} → ${after.gate.paused}`);
  const bs = before.schedule;
  const as = after.schedule;
  if (bs.paused !== as.paused || bs.note !== as.note) out.push(`${healthScheduleId(T.j.group)}: paused ${bs.paused} "${bs.note}" → ${as.paused} "${as.note}"`);
  if (bs.actions !== as.actions) out.push(`${healthScheduleId(T.j.group)}: actions ${bs.actions} → ${as.actions}`);
  if (before.demoStarts !== after.demoStarts) out.push(`${T.j.svc}: process starts ${before.demoStarts} → ${after.demoStarts}`);
  return out;
}

function demoStarts(dir: string, id: string): number {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'state', `${id}.json`), 'utf8')) as { starts: number }).starts;
  } catch {
    return 0;
  }
}
