/**
 * `npm run bench`: mend side by side with monit and supervisord on this machine, same services,
 * same settings, same faults, one clock. Writes bench/results/latest.json, README.md and charts.
 *   --quick            fewer trials (a smoke run; the report says so)
 *   --only a,b         only these scenarios (crash, hang, crashloop, checkpoint, deps, mass, masschains, overhead, scale, scalehosts, hostloss)
 *   --scale 100,1000   component counts of the scale scenario (default 100,1000,5000)
 *   --scale-interval 2000  its check interval in ms, the same at every size, and that of scalehosts (default 1000)
 *   --hostloss-trials 3  trials of the hostloss scenario (default 10, 2 with --quick)
 *   --scalehosts-components 500  components of the scalehosts scenario (default 5000)
 *   --scalehosts-hosts 2         its simulated hosts (default 10)
 *   --peers a,b        only these peers (mend, supervisord, monit)
 *   --merge            lay this run's results over the last report instead of replacing it
 *   --results <dir>    write the report there instead of bench/results (a trial run; --merge reads the last report there too)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../scripts/ports';
import { checkpointBench } from './scenarios/checkpoint';
import { dependencySection, dependencyStack, dependencyTrials, repairByHand, type DependencyResult } from './scenarios/dependency';
import { chainedOutageSection, DEFAULT_FLEET_CAP, massOutageFleet, massOutageSection, massOutageTrials, type MassOutageResult } from './scenarios/mass-outage';
import { chainedFleet } from './scenarios/mass-outage-chains';
import { overheadBench } from './scenarios/overhead';
import { hostLossBench } from './scenarios/hostloss';
import { scaleBench } from './scenarios/scale';
import { scaleHostsBench } from './scenarios/scale-hosts';
import { crashLoop, crashLoopService, faultTrials, type FaultResult } from './scenarios/faults';
import { flapControlBoundMs, mendPeer } from './peers/mend';
import { monitPeer } from './peers/monit';
import { supervisordPeer } from './peers/supervisord';
import type { BenchService, Peer, PeerSettings } from './peers/types';
import { log, run } from './lib/util';
import { writeReport, type BenchResults } from './report';

/** The scalehosts section's name in the report: the same at every size, so a later run (with --merge) replaces an earlier one. */
const SCALE_HOSTS_SECTION = 'Scale across hosts: components over simulated hosts, one central worker';

const SETTINGS: PeerSettings = { intervalMs: 1_000, timeoutMs: 1_000, failures: 2 };

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const list = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? new Set(argv[at + 1]?.split(',')) : undefined;
  };
  const only = list('--only');
  const peers = list('--peers');
  const scale = list('--scale');
  const sizes = scale ? [...scale].map((x) => Number(x)) : [100, 1_000, 5_000];
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('bench: --scale takes component counts, e.g. --scale 100,1000');
  const at = argv.indexOf('--scale-interval');
  const scaleIntervalMs = at >= 0 ? Number(argv[at + 1]) : 1_000;
  if (!Number.isInteger(scaleIntervalMs) || scaleIntervalMs < 1_000)
    throw new Error('bench: --scale-interval takes milliseconds, at least 1000 (a schedule fires at most once a second)');
  const ht = argv.indexOf('--hostloss-trials');
  const hostLossTrials = ht >= 0 ? Number(argv[ht + 1]) : quick ? 2 : 10;
  if (!Number.isInteger(hostLossTrials) || hostLossTrials < 1) throw new Error('bench: --hostloss-trials takes a number of trials, at least 1');
  const count = (flag: string, fallback: number) => {
    const i = argv.indexOf(flag);
    const value = i >= 0 ? Number(argv[i + 1]) : fallback;
    if (!Number.isInteger(value) || value < 1) throw new Error(`bench: ${flag} takes a whole number, at least 1`);
    return value;
  };
  const scaleHosts = { components: count('--scalehosts-components', 5_000), hosts: count('--scalehosts-hosts', 10) };
  if (scaleHosts.components < scaleHosts.hosts) throw new Error('bench: --scalehosts-components must be at least --scalehosts-hosts (one component per host)');
  const ri = argv.indexOf('--results');
  if (ri >= 0 && !argv[ri + 1]) throw new Error('bench: --results takes a folder');
  return {
    quick,
    hostLossTrials,
    scaleHosts,
    resultsDir: ri >= 0 ? path.resolve(argv[ri + 1]!) : path.join(__dirname, 'results'),
    sizes,
    scaleIntervalMs,
    merge: argv.includes('--merge'),
    wants: (name: string) => !only || only.has(name),
    wantsPeer: (name: string) => !peers || peers.has(name),
  };
}

/** With --merge: the last report, with what this run measured laid over it (each result keeps its own measuredAt). */
function mergeInto(previous: BenchResults | undefined, next: BenchResults): BenchResults {
  if (!previous) return next;
  const faults = { ...previous.faults };
  for (const [fault, rows] of Object.entries(next.faults) as Array<[keyof BenchResults['faults'], Record<string, FaultResult>]>)
    faults[fault] = { ...faults[fault], ...rows };
  return {
    ...next,
    machine: { ...next.machine, mergedWith: [previous.machine.date, ...(previous.machine.mergedWith ?? [])] },
    versions: { ...previous.versions, ...next.versions },
    faults,
    crashLoop: { ...previous.crashLoop, ...next.crashLoop },
    checkpoint: next.checkpoint ?? previous.checkpoint,
    extra: { ...previous.extra, ...next.extra },
  };
}

async function machine(): Promise<BenchResults['machine']> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function withPeer<T>(
  makePeer: (dir: string) => Peer,
  services: (dir: string) => Promise<BenchService[]>,
  fn: (peer: Peer, services: BenchService[]) => Promise<T>,
): Promise<{ version: string; result: T }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mend-bench-'));
  const peer = makePeer(dir);
  const list = await services(dir);
  try {
    await peer.start(list);
    return { version: peer.version, result: await fn(peer, list) };
  } finally {
    await peer.stop();
    // Retried: a peer's last child may still be writing there for a moment after its stop.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

const oneService = async (dir: string): Promise<BenchService[]> => [{ name: 'svc', port: await freePort(), stateFile: path.join(dir, 'svc.json') }];

async function main(): Promise<void> {
  const { quick, hostLossTrials, scaleHosts, resultsDir, sizes, scaleIntervalMs, merge, wants, wantsPeer } = parseArgs(process.argv.slice(2));
  const trials = quick ? 5 : 30;
  const results: BenchResults = { machine: await machine(), settings: SETTINGS, quick, versions: {}, faults: {}, crashLoop: {} };
  const allPeers: Array<[string, (dir: string) => Peer]> = [
    ['mend', (dir) => mendPeer(dir, SETTINGS)],
    ['supervisord', (dir) => supervisordPeer(dir)],
    ['monit', (dir) => monitPeer(dir, SETTINGS)],
  ];
  const peers = allPeers.filter(([name]) => wantsPeer(name));
  for (const tool of ['monit', 'supervisord']) {
    if ((await run('which', [tool])).code !== 0) throw new Error(`bench: ${tool} is not installed; run scripts/install-bench-peers.sh (npm run bench does)`);
  }

  for (const fault of ['crash', 'hang'] as const) {
    if (!wants(fault)) continue;
    for (const [name, make] of peers) {
      log(`${fault}: ${name}, ${trials} trials`);
      // supervisord has no health probe: a hang is never seen; a few trials show it.
      const n = fault === 'hang' && name === 'supervisord' ? Math.min(trials, 3) : trials;
      const { version, result } = await withPeer(make, oneService, (peer, [svc]) =>
        faultTrials(peer, svc!, fault, n, fault === 'hang' ? 15_000 : 10_000, SETTINGS.intervalMs),
      );
      results.versions[name] = version;
      (results.faults[fault] ??= {})[name] = result;
    }
  }

  if (wants('crashloop')) {
    const windowMs = quick ? 20_000 : 60_000;
    const loopPeers: Array<[string, (dir: string) => Peer]> = peers.map(([name, make]) => [
      name,
      name === 'mend' ? (dir: string) => mendPeer(dir, SETTINGS, { flapControl: true }) : make,
    ]);
    for (const [name, make] of loopPeers) {
      log(`crash loop: ${name}, ${windowMs / 1000}s window`);
      const { result } = await withPeer(
        make,
        async (dir) => [crashLoopService(dir, 'loop', await freePort())],
        // mend: as long as its flap control may hold a restart back after the fix (cool-down + max restart backoff + a run).
        (peer, [svc]) => crashLoop(peer, svc!, windowMs, name === 'mend' ? flapControlBoundMs(SETTINGS) : 30_000),
      );
      results.crashLoop[name] = result;
    }
  }

  if (wants('checkpoint')) {
    const work = mkdtempSync(path.join(os.tmpdir(), 'mend-bench-cp-'));
    try {
      results.checkpoint = await checkpointBench(work, quick ? [1, 10] : [1, 10, 100], quick ? 3 : 30);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  if (wants('deps')) {
    // mend: the whole stack's policy is dependency-aware (a store recovery restarts api, then web).
    const handling: Record<string, string> = { mend: 'dependsOn, policy dependency-aware', monit: '`depends on`', supervisord: 'none (start priority only)' };
    const rows: Record<string, DependencyResult> = {};
    for (const [name, make] of peers) {
      // supervisord never repairs the stack (a few trials show it); the others get the full count.
      const n = name === 'supervisord' ? Math.min(quick ? 2 : 3, trials) : trials;
      log(`dependency order: ${name}, ${n} trials`);
      const peerOf =
        name === 'mend'
          ? (dir: string) => mendPeer(dir, SETTINGS, { strategy: { store: 'dependency-aware', api: 'dependency-aware', web: 'dependency-aware' } })
          : make;
      const { version, result } = await withPeer(peerOf, dependencyStack, (peer, list) =>
        dependencyTrials(peer, list, handling[name] ?? '-', n, name === 'supervisord' ? 10_000 : 30_000),
      );
      results.versions[name] = version;
      rows[name] = result;
    }
    (results.extra ??= {})['Dependency order (store ← api ← web, store killed)'] = dependencySection(rows, path.join(__dirname, 'results'));
  }

  if (wants('mass')) {
    const caps: Record<string, string> = { mend: DEFAULT_FLEET_CAP, monit: 'none', supervisord: 'none' };
    const rows: Record<string, MassOutageResult> = {};
    // 10 trials, each of 50 recoveries: a mend trial takes about 30 s on 2 cores, and 30 trials of
    // four fleets would take most of an hour on their own.
    const massTrials = quick ? 2 : 10;
    for (const [name, make] of peers) {
      const n = massTrials;
      log(`mass outage: ${name}, ${n} trials`);
      const { version, result } = await withPeer(make, massOutageFleet, (peer, list) => massOutageTrials(peer, list, caps[name] ?? '-', n, 120_000));
      results.versions[name] = version;
      rows[name] = result;
    }
    if (wantsPeer('mend')) {
      // The same fleet with maxConcurrentRecoveries 25: a cap on every recovery, adaptive below it.
      const cap = 25;
      log(`mass outage: mend with a fleet cap of ${cap}, ${massTrials} trials`);
      const { result } = await withPeer(
        (dir) => mendPeer(dir, SETTINGS, { maxConcurrentRecoveries: cap }),
        massOutageFleet,
        (peer, list) => massOutageTrials(peer, list, `adaptive, capped at ${cap}`, massTrials, 120_000),
      );
      rows[`mend (cap ${cap})`] = result;
    }
    (results.extra ??= {})['Mass outage (50 services killed at once)'] = massOutageSection(rows, path.join(__dirname, 'results'));
  }

  if (wants('masschains')) {
    // The dependent variant (issue 16): mend with each chain's dependsOn and its default strategy.
    const handling: Record<string, string> = {
      mend: 'dependsOn (supervisors hold a dependent until its dependency is healthy)',
      monit: '`depends on`',
      supervisord: 'cannot express it (start priority only)',
    };
    const rows: Record<string, MassOutageResult> = {};
    for (const [name, make] of peers) {
      // supervisord starts every dependent at once, so each chain stays broken: a few trials show it.
      const n = name === 'supervisord' ? (quick ? 1 : 3) : quick ? 2 : 10;
      log(`mass outage, 10 chains of 5: ${name}, ${n} trials`);
      const { version, result } = await withPeer(make, chainedFleet, (peer, list) =>
        massOutageTrials(peer, list, name === 'mend' ? DEFAULT_FLEET_CAP : 'none', n, name === 'supervisord' ? 20_000 : 120_000, {
          dependencyHandling: handling[name] ?? '-',
          repair: repairByHand,
        }),
      );
      results.versions[name] = version;
      rows[name] = result;
    }
    (results.extra ??= {})['Mass outage, dependent (10 chains of 5 killed at once)'] = chainedOutageSection(rows, path.join(__dirname, 'results'));
  }

  if (wants('overhead')) {
    const runs = quick ? 20 : 100;
    log(`overhead: ${runs} immediate-restart runs, each against the same actions called directly`);
    const overhead = await overheadBench(runs);
    results.versions.mend ??= `mend 0.1.0 on Temporal ${overhead.temporal}`;
    (results.extra ??= {})['Orchestration overhead'] = overhead;
  }

  if (wants('scale')) {
    const scale = await scaleBench({ sizes, intervalMs: scaleIntervalMs, windowMs: quick ? 10_000 : 20_000, failures: quick ? 10 : 20 });
    (results.extra ??= {})['Scale: components per worker'] = scale;
  }

  if (wants('scalehosts')) {
    log(`scale across hosts: ${scaleHosts.components} components over ${scaleHosts.hosts} simulated hosts, check interval ${scaleIntervalMs} ms`);
    (results.extra ??= {})[SCALE_HOSTS_SECTION] = await scaleHostsBench({
      ...scaleHosts,
      intervalMs: scaleIntervalMs,
      windowMs: quick ? 10_000 : 20_000,
      failures: quick ? 10 : 20,
    });
  }

  if (wants('hostloss')) {
    const work = mkdtempSync(path.join(os.tmpdir(), 'mend-bench-hostloss-'));
    try {
      log(`host loss: a simulated host with 10 components killed and back, ${hostLossTrials} trials`);
      (results.extra ??= {})['Host loss (a simulated host killed and back)'] = await hostLossBench(work, {
        components: 10,
        trials: hostLossTrials,
        awayMs: 5_000,
      });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  const previous =
    merge && existsSync(path.join(resultsDir, 'latest.json'))
      ? (JSON.parse(readFileSync(path.join(resultsDir, 'latest.json'), 'utf8')) as BenchResults)
      : undefined;
  const out = await writeReport(resultsDir, mergeInto(previous, results));
  log(`results: ${out.json}, ${out.markdown}`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
