/**
 * Dependency order: a stack store ← api ← web whose dependents hold a connection opened at start
 * (demo/service.js with CONNECT_DEPENDENCIES): once the store restarts, api's connection is stale
 * and api must be restarted too, then web (whose connection to api goes stale in turn). A
 * dependent started while its dependency is not healthy comes up "without" it and stays unhealthy.
 *
 * Each trial SIGKILLs the store and measures, from this process's clock, the time until all three
 * answer healthy together (and stay so for a second), and how many starts happened while a
 * dependency was not healthy: each service counts those itself in its state file, so the figure is
 * measured the same way whatever restarted it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../scripts/ports';
import { summarize, type Summary } from '../lib/stats';
import { serviceCounts } from '../lib/service-state';
import { allHealthyAt } from '../lib/fleet-health';
import { healthy, log, now, servicePid, steadyHealthy } from '../lib/util';
import { healthUrl, type BenchService, type Peer } from '../peers/types';
import { barChart } from '../report';

export interface DependencyResult {
  /** How the peer knows about the dependencies (configured as such, or not at all). */
  dependencyHandling: string;
  trials: number;
  /** Seconds from killing the store to all three healthy, per trial that got there. */
  seconds: number[];
  summary: Summary;
  notRecovered: number;
  /** Starts of a service while its dependency was not healthy, per trial (0 is right). */
  startsBeforeDependency: number[];
  /** Process starts of the three services per trial (3 is the minimum: store, api, web once each). */
  starts: number[];
  measuredAt: string;
}

/** store ← api ← web on free ports; each dependent connects to its dependency at start. */
export async function dependencyStack(dir: string): Promise<BenchService[]> {
  const [store, api, web] = [await freePort(), await freePort(), await freePort()];
  const svc = (name: string, port: number, dependsOn?: BenchService): BenchService => ({
    name,
    port,
    stateFile: path.join(dir, `${name}.json`),
    ...(dependsOn ? { dependsOn: [dependsOn.name], env: { DEPENDS_ON: healthUrl(dependsOn), CONNECT_DEPENDENCIES: '1' } } : {}),
  });
  const storeSvc = svc('store', store);
  const apiSvc = svc('api', api, storeSvc);
  return [storeSvc, apiSvc, svc('web', web, apiSvc)];
}

/**
 * What an operator does when the peer leaves the stack broken: restart the unhealthy services by
 * hand in dependency order (SIGKILL, the peer starts it again), each once its dependency is healthy.
 */
export async function repairByHand(services: BenchService[]): Promise<void> {
  for (const s of services) {
    if (await healthy(healthUrl(s), 300)) continue;
    const pid = await servicePid(healthUrl(s));
    if (pid) process.kill(pid, 'SIGKILL');
    await steadyHealthy(healthUrl(s), 1_000, 30_000).catch(() => {
      throw new Error(`bench: ${s.name} did not come back after being restarted by hand`);
    });
  }
}

/** `trials` store kills; a trial not all healthy within `deadlineMs` is repaired by hand before the next. */
export async function dependencyTrials(
  peer: Peer,
  services: BenchService[],
  dependencyHandling: string,
  trials: number,
  deadlineMs: number,
): Promise<DependencyResult> {
  const store = services[0]!;
  const result: DependencyResult = {
    dependencyHandling,
    trials,
    seconds: [],
    summary: summarize([]),
    notRecovered: 0,
    startsBeforeDependency: [],
    starts: [],
    measuredAt: new Date().toISOString(),
  };
  const totals = () =>
    services
      .map((s) => serviceCounts(s.stateFile))
      .reduce((a, c) => ({ starts: a.starts + c.starts, without: a.without + c.startsWithoutDependency }), { starts: 0, without: 0 });
  for (let i = 1; i <= trials; i++) {
    // Settled first: all healthy together for 1.5 s (supervisord counts a start after 1 s up).
    if ((await allHealthyAt(services, 30_000, 1_500)) === undefined) await repairByHand(services);
    const before = totals();
    const pid = await servicePid(healthUrl(store));
    if (!pid) throw new Error(`bench: ${store.name} did not report its pid`);
    const t0 = now();
    process.kill(pid, 'SIGKILL');
    const t1 = await allHealthyAt(services, deadlineMs);
    const after = totals();
    result.startsBeforeDependency.push(after.without - before.without);
    result.starts.push(after.starts - before.starts);
    if (t1 === undefined) {
      result.notRecovered++;
      const states = await Promise.all(services.map(async (s) => `${s.name}: ${(await peer.state?.(s.name)) ?? '?'}`));
      log(`${peer.name} dependency: not all healthy within ${deadlineMs / 1000}s (${states.join('; ')}); repairing by hand`);
      await repairByHand(services);
      continue;
    }
    result.seconds.push((t1 - t0) / 1000);
    log(
      `${peer.name} dependency ${i}/${trials}: all healthy after ${((t1 - t0) / 1000).toFixed(2)}s, ${after.starts - before.starts} starts, ${after.without - before.without} before their dependency was healthy`,
    );
  }
  result.summary = summarize(result.seconds);
  return result;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The fields of a dependency-order result that its table row reads. */
interface OrderedResult {
  trials: number;
  seconds: number[];
  summary: Summary;
  notRecovered: number;
  starts: number[];
}

/**
 * The rows of a dependency-order table (this scenario's and the mass outage's dependent variant):
 * peer, how it handles dependencies, trials, median and p95 to all healthy, not recovered, starts
 * made too early over all trials, process starts per trial, and mend's median over the peer's.
 */
export function orderedRows<R extends OrderedResult>(rows: Record<string, R>, of: (r: R) => { handling?: string; early?: number[] }): string[] {
  const mend = rows.mend?.summary;
  return Object.entries(rows).map(([name, r]) => {
    const never = r.seconds.length === 0;
    const { handling, early } = of(r);
    const ratio = name === 'mend' || never || !mend || mend.n === 0 ? '-' : `${(mend.median / r.summary.median).toFixed(2)}×`;
    return `| ${name} | ${handling ?? '-'} | ${r.trials} | ${never ? 'never' : secs(r.summary.median)} | ${never ? 'never' : secs(r.summary.p95)} | ${r.notRecovered} | ${sum(early ?? [])} | ${summarize(r.starts).median} | ${ratio} |`;
  });
}
const secs = (x: number) => (Number.isNaN(x) ? '-' : `${x.toFixed(2)} s`);

/** The report section: the table lines (and the chart written beside the report). */
export function dependencySection(rows: Record<string, DependencyResult>, resultsDir: string): { peers: Record<string, DependencyResult>; markdown: string[] } {
  const markdown = [
    'A stack store ← api ← web; each dependent opens its connection to its dependency at start, so after the store restarts api must be restarted too, then web; a dependent started while its dependency is not healthy stays broken. The benchmark SIGKILLs the store and measures the time until all three answer healthy together (and stay so for 1 s). "Started too early" counts the starts of a service while its dependency was not healthy, as each service records them itself. A trial not recovered by the deadline is repaired by hand (restart in dependency order) before the next.',
    '',
    '| peer | dependencies | trials | all healthy: median | p95 | not recovered | started too early (all trials) | process starts per trial (median) | mend / peer (median) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  markdown.push(...orderedRows(rows, (r) => ({ handling: r.dependencyHandling, early: r.startsBeforeDependency })));
  markdown.push('', '![dependency order](dependency-order.svg)');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    path.join(resultsDir, 'dependency-order.svg'),
    barChart(
      'store killed: time until store, api and web are all healthy (median, p95)',
      Object.entries(rows).map(([label, r]) => ({ label, summary: r.seconds.length ? r.summary : undefined, note: 'never all healthy' })),
    ),
  );
  return { peers: rows, markdown };
}
