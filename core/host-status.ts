/**
 * What `mend hosts` and GET /v1/hosts say of a host, from the config and Temporal's view of the
 * pollers on its queue (`<queue>/host/<id>`): no registry of mend's own. Pure.
 */
import { DEFAULT_HOST } from './constants';
import { hostOf } from './hosts';
import type { Config } from './schemas';

/**
 * A poller Temporal has not heard from for this long is gone: a live worker starts a new long poll
 * (at most a minute each) as soon as the last one returns.
 */
export const POLLER_FRESH_MS = 75_000;

export interface Poller {
  identity: string;
  /** When Temporal last heard a poll from it (ISO). */
  lastAccessTime?: string;
}

export interface WorkerIdentity {
  role: 'agent' | 'worker';
  host: string;
  machine: string;
  pid: number;
  version: string;
  startedAt: string;
}

const IDENTITY_RE = /^mend-(agent|worker)\/([\w-]+)@(\S+) pid (\d+) v(\S+) started (\S+)$/;

/** Reads back what workers/identity.ts wrote; undefined for another worker's identity. */
export function parseWorkerIdentity(identity: string): WorkerIdentity | undefined {
  const m = IDENTITY_RE.exec(identity);
  if (!m) return undefined;
  return { role: m[1] as 'agent' | 'worker', host: m[2]!, machine: m[3]!, pid: Number(m[4]), version: m[5]!, startedAt: m[6]! };
}

export interface HostAgent extends Partial<WorkerIdentity> {
  identity: string;
  lastSeen?: string;
  up: boolean;
}

export interface HostStatus {
  id: string;
  description?: string;
  labels: Record<string, string>;
  /** The default host: served by the central worker unless an agent runs for it. */
  default: boolean;
  taskQueue: string;
  agent: 'up' | 'down';
  /** When a poller of this host was last heard (ISO), up or not. */
  lastSeen?: string;
  /** mend version of the newest live poller. */
  version?: string;
  components: number;
  agents: HostAgent[];
}

/** Every host of the config (the default host too, when anything is on it or no hosts are listed), with its pollers. */
export function hostStatuses(
  config: Pick<Config, 'hosts' | 'components'>,
  pollers: (host: string) => Poller[],
  taskQueueOf: (host: string) => string,
  now: number,
): HostStatus[] {
  const listed = config.hosts.map((h) => ({ id: h.id, description: h.description, labels: h.labels }));
  const onDefault = config.components.some((c) => hostOf(c) === DEFAULT_HOST);
  const all =
    listed.some((h) => h.id === DEFAULT_HOST) || (!onDefault && listed.length > 0)
      ? listed
      : [...listed, { id: DEFAULT_HOST, description: 'served by the central worker', labels: {} }];
  return all.map((h) => hostStatus(h, config, pollers(h.id), taskQueueOf(h.id), now));
}

/** The ids `hostStatuses` lists: what `mend hosts drain` and /v1/hosts/:id accept. */
export function hostIds(config: Pick<Config, 'hosts' | 'components'>): string[] {
  return hostStatuses(
    config,
    () => [],
    (h) => h,
    0,
  ).map((h) => h.id);
}

function hostStatus(
  h: { id: string; description?: string; labels: Record<string, string> },
  config: Pick<Config, 'components'>,
  pollers: Poller[],
  taskQueue: string,
  now: number,
): HostStatus {
  const agents: HostAgent[] = pollers
    .map((p) => {
      const seen = p.lastAccessTime ? Date.parse(p.lastAccessTime) : NaN;
      return {
        identity: p.identity,
        ...parseWorkerIdentity(p.identity),
        lastSeen: p.lastAccessTime,
        up: Number.isFinite(seen) && now - seen <= POLLER_FRESH_MS,
      };
    })
    .sort((a, b) => (b.lastSeen ?? '').localeCompare(a.lastSeen ?? ''));
  const live = agents.filter((a) => a.up);
  return {
    id: h.id,
    ...(h.description ? { description: h.description } : {}),
    labels: h.labels,
    default: h.id === DEFAULT_HOST,
    taskQueue,
    agent: live.length > 0 ? 'up' : 'down',
    ...(agents[0]?.lastSeen ? { lastSeen: agents[0].lastSeen } : {}),
    ...(live[0]?.version ? { version: live[0].version } : {}),
    components: config.components.filter((c) => hostOf(c) === h.id).length,
    agents,
  };
}
