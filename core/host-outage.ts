/**
 * A host outage as one event (DESIGN §2a): the types shared by the per-host workflow
 * (`mend/host/<id>`, workflows/host-watch.ts), the supervisors and sweeps that report a pickup
 * timeout on a host queue, and the activities that read and tell. Pure types and constants: workflow
 * code imports this.
 */

/** Where an outage's notifications go (a supervisor spec's `notify`). */
export interface OutageNotify {
  webhook?: string;
  timeoutMs: number;
}

/** A pickup timeout seen on a host's queue (the `hostOutage` signal). */
export interface HostOutageReport {
  host: string;
  /** Who saw it: `supervisor <component>` or `sweep <group>`. */
  by: string;
  /** When it was seen (ISO): a report from before the host came back is stale. */
  seenAt: string;
  /** Components of that host the reporter knows of. */
  components?: string[];
  notify?: OutageNotify;
}

/** The `hostStatus` signal a host's workflow sends its components' supervisors. */
export interface HostStatusUpdate {
  host: string;
  reachable: boolean;
}

/** What `mend/host/<id>` holds (its `state` query). */
export interface HostWatchState {
  host: string;
  status: 'unreachable' | 'reachable';
  /** When the current status began (ISO). */
  since: string;
  /** Outages seen by this run. */
  outages: number;
  /** The host's supervised components (from the health schedules) and any a reporter named. */
  affected: string[];
  /** Health schedules that sweep those components: fired at once when the host is back. */
  schedules: string[];
  /** Who reported the outage (first few). */
  reportedBy: string[];
  /** Reports of this outage received (all but the first told it nothing new). */
  reports: number;
  /** Presence probes scheduled on the host's queue while it was away. */
  probes: number;
  /** Health schedules this outage paused (with `pausedNote`): resumed, and only they, when the host is back. */
  paused?: string[];
}

/** After the host is back, a run waits this long for a new outage (stale reports are dropped) before it ends. */
export const HOST_QUIET_MS = 30_000;
/** Between two presence probes (each waits up to HOST_PICKUP_TIMEOUT_MS on the queue): grows to the max. */
export const HOST_PROBE_GAP_MS = { initial: 500, max: 5_000 } as const;

export function unreachableText(host: string, n: number): string {
  return `host ${host} unreachable, ${n} component${n === 1 ? '' : 's'} affected`;
}

export function reachableText(host: string, n: number, awayMs: number): string {
  return `host ${host} reachable again after ${Math.round(awayMs / 1000)}s; checking its ${n} component${n === 1 ? '' : 's'} now`;
}

/**
 * The note on a health schedule paused while its host is away: the Web UI and `mend schedules` say
 * why. The same for every outage of the host, so a pause left by a host workflow that was ended by
 * hand is taken over (and resumed) by the next one; an operator's pause has a note of their own.
 */
export function pausedNote(host: string): string {
  return `mend: paused while host ${host} is unreachable (mend/host/${host}); resumed when its agent is back`;
}
