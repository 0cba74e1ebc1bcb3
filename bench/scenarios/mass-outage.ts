/**
 * Mass outage: 50 demo services SIGKILLed at once. Per trial: the time from the kill to all 50
 * answering healthy again (each with a new process), and the peak number of services restarting
 * at once. "Restarting" is measured the same way for every peer: from the new process's start
 * (the kernel's start time of the pid that then answers) to the first healthy answer this process
 * sees from it. For mend, the peak of its own recovery runs at once is added, from the
 * start and end its supervisors record for each run: that is what the fleet cap
 * (`supervision.maxConcurrentRecoveries`, or the adaptive window of `supervision.adaptiveRecoveries`) bounds.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { FleetSupervisionSchema } from '../../core/schemas';
import { freePort } from '../../scripts/ports';
import { allHealthyAt, healthyPid, peakOverlap, processStartedAt } from '../lib/fleet-health';
import { serviceCounts } from '../lib/service-state';
import { summarize, type Summary } from '../lib/stats';
import { log, sleep } from '../lib/util';
import type { BenchService, Peer } from '../peers/types';
import { CHAIN_LENGTH, CHAINS } from './mass-outage-chains';
import { orderedRows } from './dependency';
import { barChart } from '../report';

export const MASS_OUTAGE_SIZE = 50;
/** mend's fleet cap when the config does not set one (the bench leaves the default): restarts of process components are admitted by an adaptive window per host. */
const adaptive = FleetSupervisionSchema.parse({}).adaptiveRecoveries;
export const DEFAULT_FLEET_CAP = `adaptive, 1 to ${adaptive.perCore} × ${availableParallelism()} cores (default)`;

export interface MassOutageResult {
  components: number;
  /** What bounds restarts at once, in the peer's own terms. */
  cap: string;
  trials: number;
  /** Seconds from the kill to the last of the services answering healthy, per trial that got there. */
  seconds: number[];
  summary: Summary;
  notRecovered: number;
  /** Per trial: most services restarting at once ([new process start, first healthy answer]). */
  peakRestarting: number[];
  /** mend only, per trial: most recovery runs at once (from its supervisors' records). */
  peakRecoveryRuns?: number[];
  /** Process starts of all services per trial (the minimum is one each). */
  starts: number[];
  /** Dependent variant: starts of a service while its dependency was not healthy, per trial (0 is right). */
  startsTooEarly?: number[];
  /** Dependent variant: how the peer knows the dependencies (or that it cannot). */
  dependencyHandling?: string;
  measuredAt: string;
}

export async function massOutageFleet(dir: string): Promise<BenchService[]> {
  const services: BenchService[] = [];
  for (let i = 1; i <= MASS_OUTAGE_SIZE; i++) {
    const name = `svc${String(i).padStart(2, '0')}`;
    services.push({ name, port: await freePort(), stateFile: path.join(dir, `${name}.json`) });
  }
  return services;
}

interface Recovered {
  service: BenchService;
  /** Wall clock (ms) of the first healthy answer from a new process. */
  healthyAt: number;
  pid: number;
}

/** Polls one service every `pollMs` until a process other than `oldPid` answers healthy. */
async function backAgain(service: BenchService, oldPid: number, deadline: number, pollMs: number): Promise<Recovered | undefined> {
  while (Date.now() < deadline) {
    const pid = await healthyPid(service);
    if (pid !== undefined && pid !== oldPid) return { service, healthyAt: Date.now(), pid };
    await sleep(pollMs);
  }
  return undefined;
}

export interface MassOutageOptions {
  /** Dependent variant: how the peer knows the dependencies; early starts are counted. */
  dependencyHandling?: string;
  /** Before a trial, when the services are not all healthy (a peer that left a chain broken): repair them by hand. */
  repair?: (services: BenchService[]) => Promise<void>;
}

export async function massOutageTrials(
  peer: Peer,
  services: BenchService[],
  cap: string,
  trials: number,
  deadlineMs: number,
  options: MassOutageOptions = {},
): Promise<MassOutageResult> {
  const result: MassOutageResult = {
    components: services.length,
    cap,
    trials,
    seconds: [],
    summary: summarize([]),
    notRecovered: 0,
    peakRestarting: [],
    starts: [],
    ...(options.dependencyHandling ? { startsTooEarly: [], dependencyHandling: options.dependencyHandling } : {}),
    measuredAt: new Date().toISOString(),
  };
  const totalStarts = () => services.reduce((n, s) => n + serviceCounts(s.stateFile).starts, 0);
  const totalEarly = () => services.reduce((n, s) => n + serviceCounts(s.stateFile).startsWithoutDependency, 0);
  for (let i = 1; i <= trials; i++) {
    if (options.repair && (await allHealthyAt(services, 30_000, 1_500, 50)) === undefined)
      // A repair that fails leaves the check below to say which trial could not start.
      await options.repair(services).catch((err: unknown) => log(`${peer.name} mass outage: repair by hand before trial ${i} failed: ${String(err)}`));
    if ((await allHealthyAt(services, 90_000, 1_500, 50)) === undefined)
      throw new Error(`bench: ${peer.name} mass outage: the ${services.length} services were not all healthy before trial ${i}`);
    const pids = await Promise.all(services.map((s) => healthyPid(s, 1_000)));
    const before = totalStarts();
    const earlyBefore = totalEarly();
    const killedAt = Date.now();
    pids.forEach((pid, n) => {
      if (!pid) throw new Error(`bench: ${services[n]!.name} did not report its pid`);
      process.kill(pid, 'SIGKILL');
    });
    // 50 ms between polls of each service: 1,000 GETs a second at most, on a 2-core machine shared with the peer.
    const back = await Promise.all(services.map((s, n) => backAgain(s, pids[n]!, killedAt + deadlineMs, 50)));
    const recovered = back.filter((b): b is Recovered => b !== undefined);
    const intervals = (
      await Promise.all(
        recovered.map(async (r) => {
          const start = await processStartedAt(r.pid);
          return start === undefined ? undefined : { start, end: r.healthyAt };
        }),
      )
    ).filter((x): x is { start: number; end: number } => x !== undefined);
    result.peakRestarting.push(peakOverlap(intervals));
    if (peer.recoveries) {
      const runs = (await Promise.all(services.map((s) => peer.recoveries!(s.name))))
        .flat()
        .map((r) => ({ start: Date.parse(r.startedAt), end: r.endedAt ? Date.parse(r.endedAt) : Date.now() }))
        .filter((r) => r.start >= killedAt);
      (result.peakRecoveryRuns ??= []).push(peakOverlap(runs));
    }
    result.starts.push(totalStarts() - before);
    result.startsTooEarly?.push(totalEarly() - earlyBefore);
    if (recovered.length < services.length) {
      result.notRecovered++;
      log(
        `${peer.name} mass outage ${i}/${trials}: ${services.length - recovered.length} of ${services.length} not healthy within ${deadlineMs / 1000}s${result.startsTooEarly ? `, ${result.startsTooEarly.at(-1)} started too early` : ''}`,
      );
      continue;
    }
    const seconds = (Math.max(...recovered.map((r) => r.healthyAt)) - killedAt) / 1000;
    result.seconds.push(seconds);
    log(
      `${peer.name} mass outage ${i}/${trials}: all ${services.length} healthy after ${seconds.toFixed(2)}s${result.startsTooEarly ? ` (${result.startsTooEarly.at(-1)} started too early)` : ''}, peak ${result.peakRestarting.at(-1)} restarting at once${result.peakRecoveryRuns ? ` (${result.peakRecoveryRuns.at(-1)} recovery runs)` : ''}, ${result.starts.at(-1)} starts`,
    );
  }
  result.summary = summarize(result.seconds);
  return result;
}

const secs = (x: number) => (Number.isNaN(x) ? '-' : `${x.toFixed(2)} s`);

/** The report section: the table lines (and the chart written beside the report). */
export function massOutageSection(rows: Record<string, MassOutageResult>, resultsDir: string): { peers: Record<string, MassOutageResult>; markdown: string[] } {
  const mend = rows.mend?.summary;
  const markdown = [
    `${MASS_OUTAGE_SIZE} demo services SIGKILLed at once. "All healthy" is the time from the kill to the last of them answering healthy from a new process (each polled every 50 ms). A service counts as restarting from its new process's start (the kernel's start time) to its first healthy answer; the peak is the most at one moment in a trial. For mend the peak of its recovery runs at once (start to end, as its supervisors record them) is given too: the fleet cap bounds those.`,
    '',
    '| peer | limit on restarts at once | trials | all healthy: median | p95 | not recovered | peak restarting at once (max over trials) | peak recovery runs at once | process starts per trial (median) | mend / peer (median) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, r] of Object.entries(rows)) {
    const never = r.seconds.length === 0;
    markdown.push(
      `| ${name} | ${r.cap} | ${r.trials} | ${never ? 'never' : secs(r.summary.median)} | ${never ? 'never' : secs(r.summary.p95)} | ${r.notRecovered} | ${r.peakRestarting.length ? Math.max(...r.peakRestarting) : '-'} | ${r.peakRecoveryRuns?.length ? Math.max(...r.peakRecoveryRuns) : '-'} | ${summarize(r.starts).median} | ${name.startsWith('mend') || never || !mend || mend.n === 0 ? '-' : `${(mend.median / r.summary.median).toFixed(2)}×`} |`,
    );
  }
  markdown.push('', '![mass outage](mass-outage.svg)');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    path.join(resultsDir, 'mass-outage.svg'),
    barChart(
      `${MASS_OUTAGE_SIZE} services killed at once: time until all are healthy (median, p95)`,
      Object.entries(rows).map(([label, r]) => ({ label, summary: r.seconds.length ? r.summary : undefined, note: 'never all healthy' })),
    ),
  );
  return { peers: rows, markdown };
}

/** The dependent variant's section: 10 chains of 5, all killed at once; time to all healthy and starts made too early. */
export function chainedOutageSection(
  rows: Record<string, MassOutageResult>,
  resultsDir: string,
): { peers: Record<string, MassOutageResult>; markdown: string[] } {
  const markdown = [
    `${CHAINS} chains of ${CHAIN_LENGTH} demo services (each needs the one before it), all ${CHAINS * CHAIN_LENGTH} SIGKILLed at once. Each dependent opens its "connection" to its dependency at start (demo/service.js CONNECT_DEPENDENCIES): one started while its dependency is not healthy stays broken and counts that start as too early (0 is right). "All healthy" is the time from the kill to the last service answering healthy from a new process. A peer that leaves a chain broken is repaired by hand (restarted in order) before its next trial, and its trial counts as not recovered.`,
    '',
    '| peer | dependencies | trials | all healthy: median | p95 | not recovered | started too early (all trials) | process starts per trial (median) | mend / peer (median) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  markdown.push(...orderedRows(rows, (r) => ({ handling: r.dependencyHandling, early: r.startsTooEarly })));
  markdown.push('', '![mass outage, dependent](mass-outage-chains.svg)');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    path.join(resultsDir, 'mass-outage-chains.svg'),
    barChart(
      `${CHAINS} chains of ${CHAIN_LENGTH} killed at once: time until all are healthy (median, p95)`,
      Object.entries(rows).map(([label, r]) => ({ label, summary: r.seconds.length ? r.summary : undefined, note: 'never all healthy' })),
    ),
  );
  return { peers: rows, markdown };
}
