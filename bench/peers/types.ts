import type { TimelinePoint } from '../lib/timeline';

/** What every supervisor under test (mend, monit, supervisord) offers the scenarios. */
export interface BenchService {
  name: string;
  port: number;
  /** Demo service state file: its `starts` count is the restart count, the same for every peer. */
  stateFile: string;
  env?: Record<string, string>;
  /** Names of the bench services this one needs (monit: `depends on`; supervisord: start priority; mend: `dependsOn`). */
  dependsOn?: string[];
}

/** The settings every peer gets, the same for all: check interval, probe timeout, failures before acting. */
export interface PeerSettings {
  intervalMs: number;
  timeoutMs: number;
  failures: number;
}

export interface Peer {
  name: string;
  version: string;
  /** Starts supervising `services`; resolves once each answers its health URL. */
  start(services: BenchService[]): Promise<void>;
  stop(): Promise<void>;
  /** Whether the peer said something an operator would see as an alert (not just a log line). */
  alerted?(service: string): Promise<boolean>;
  /** What the peer reports about the service now (e.g. supervisord's FATAL). */
  state?(service: string): Promise<string>;
  /** The recovery runs the peer itself recorded for the service (start and end, ISO), where it keeps such a record (mend). */
  recoveries?(service: string): Promise<Array<{ startedAt: string; endedAt?: string }>>;
  /** The steps of the peer's last recovery run of the service, in wall-clock ms, where it records them (mend). */
  timeline?(service: string): Promise<TimelinePoint[]>;
  /** The supervisor's side of the service's recoveries (mend): `signal <name>`, activities, `child started`. */
  supervisorTimeline?(service: string): Promise<TimelinePoint[]>;
}

export const healthUrl = (s: BenchService) => `http://127.0.0.1:${s.port}/healthz`;
