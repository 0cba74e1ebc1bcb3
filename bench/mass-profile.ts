/**
 * Where a mass outage's time goes, recovery by recovery: `node --import tsx bench/mass-profile.ts
 * [--trials N] [--chains]`. Kills the 50 bench services at once (or, with --chains, 10 chains of 5),
 * waits for all to answer healthy from a new process, then reads each one's supervisor and recovery
 * histories and prints, per stage, the median and max over services of the time since the kill:
 * detected (pid watch or a failed report), permit asked, permit granted, recovery run started,
 * restart activity scheduled / started / closed, and healthy (as the bench sees it). Prints one
 * JSON line per trial too (`profile:`), for A/B comparisons. With --counts, also what each recovery
 * cost in orchestration (a `counts:` JSON line): workflow tasks, activities, signals and child starts
 * per recovery in the supervisors, the recovery runs and the fleet limiter (from their histories,
 * since the kill), and the worker's and the dev server's CPU time from the kill to all healthy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import { healthyPid } from './lib/fleet-health';
import { addCounts, countHistory, cpuMs, emptyCounts, perEach } from './lib/history-counts';
import { summarize } from './lib/stats';
import type { TimelinePoint } from './lib/timeline';
import { log, sleep } from './lib/util';
import { mendPeer } from './peers/mend';
import type { BenchService } from './peers/types';
import { chainedFleet } from './scenarios/mass-outage-chains';
import { massOutageFleet } from './scenarios/mass-outage';

/** As bench/run.ts gives every peer. */
const SETTINGS = { intervalMs: 1_000, timeoutMs: 1_000, failures: 2 };

const argv = process.argv.slice(2);
const ti = argv.indexOf('--trials');
const trials = ti >= 0 ? Number(argv[ti + 1]) : 5;
const chains = argv.includes('--chains');
const di = argv.indexOf('--dump');
const dump = di >= 0 ? argv[di + 1] : undefined;
const counting = argv.includes('--counts');

const firstAfter = (points: TimelinePoint[], since: number, what: (w: string) => boolean) => points.find((p) => p.at >= since && what(p.what))?.at;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mend-massprof-'));
  const services: BenchService[] = chains ? await chainedFleet(dir) : await massOutageFleet(dir);
  const peer = mendPeer(dir, SETTINGS);
  try {
    await peer.start(services);
    for (let t = 1; t <= trials; t++) {
      // Settled: every supervisor healthy again (the peer's start waits for that the first time).
      await sleep(3_000);
      const pids = await Promise.all(services.map((s) => healthyPid(s, 1_000)));
      const cpuBefore = await Promise.all([cpuMs(peer.pids().worker), cpuMs(peer.pids().server)]);
      const killedAt = Date.now();
      pids.forEach((pid) => {
        try {
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          // Gone already (it answered, then died): its supervisor restarts it anyway.
        }
      });
      const healthyAt = await Promise.all(
        services.map(async (s, n) => {
          while (Date.now() < killedAt + 120_000) {
            const pid = await healthyPid(s);
            if (pid !== undefined && pid !== pids[n]) return Date.now();
            await sleep(50);
          }
          return undefined;
        }),
      );
      const cpuAfter = await Promise.all([cpuMs(peer.pids().worker), cpuMs(peer.pids().server)]);
      await sleep(1_500);
      const stages: Record<string, number[]> = {};
      const add = (k: string, at: number | undefined) => at !== undefined && (stages[k] ??= []).push(at - killedAt);
      for (const [n, s] of services.entries()) {
        // A service with no run yet (not recovered by the deadline) has no recovery history.
        const sup = await peer.supervisorTimeline!(s.name).catch(() => []);
        const run = await peer.timeline!(s.name).catch(() => []);
        if (s.name === dump)
          for (const p of [...sup.map((x) => ({ ...x, what: `sup ${x.what}` })), ...run.map((x) => ({ ...x, what: `run ${x.what}` }))].sort(
            (a, b) => a.at - b.at,
          ))
            if (p.at >= killedAt - 100) log(`    ${String(Math.round(p.at - killedAt)).padStart(6)} ms  ${p.what}`);
        add(
          '1 detected',
          firstAfter(sup, killedAt, (w) => w === 'watchProcess closed' || w === 'signal report'),
        );
        add(
          '2 permit asked',
          firstAfter(sup, killedAt, (w) => w === 'requestFleetPermit scheduled'),
        );
        add(
          '3 permit granted',
          firstAfter(sup, killedAt, (w) => w === 'signal permit'),
        );
        add(
          '4 child start',
          firstAfter(sup, killedAt, (w) => w === 'child start'),
        );
        add(
          '5 run started',
          firstAfter(run, killedAt, (w) => w === 'run started'),
        );
        add(
          '6 restart scheduled',
          firstAfter(run, killedAt, (w) => w.endsWith(' scheduled')),
        );
        add(
          '7 restart started',
          firstAfter(run, killedAt, (w) => w.endsWith(' started') && w !== 'run started' && !w.startsWith('step')),
        );
        add(
          '7w window wait started',
          firstAfter(run, killedAt, (w) => w === 'window wait started'),
        );
        add(
          '7x step stop started',
          firstAfter(run, killedAt, (w) => w === 'step stop started'),
        );
        add(
          '8 step start ended',
          firstAfter(run, killedAt, (w) => w === 'step start ended'),
        );
        add('9 healthy (bench)', healthyAt[n]);
        add(
          'a run closed',
          firstAfter(run, killedAt, (w) => w === 'run closed'),
        );
      }
      const all = healthyAt.every((h) => h !== undefined) ? (Math.max(...(healthyAt as number[])) - killedAt) / 1000 : undefined;
      log(
        `trial ${t}/${trials}: all healthy after ${all?.toFixed(2) ?? 'never'} s (load ${os
          .loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')})`,
      );
      for (const [k, v] of Object.entries(stages).sort()) {
        const sm = summarize(v);
        log(`  ${k.padEnd(22)} n=${String(v.length).padStart(2)} min ${Math.min(...v)} median ${Math.round(sm.median)} max ${Math.max(...v)} ms`);
      }
      console.log(
        `profile: ${JSON.stringify({ trial: t, allHealthyS: all, load: os.loadavg()[0], stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(summarize(v).median)])) })}`,
      );
      if (counting) {
        const part = { supervisor: emptyCounts(), recovery: emptyCounts(), limiter: emptyCounts() };
        for (const s of services) {
          countHistory(await peer.history(supervisorWorkflowId(s.name)).catch(() => []), killedAt, part.supervisor);
          countHistory(await peer.history(recoveryWorkflowId(s.name)).catch(() => []), killedAt, part.recovery);
        }
        countHistory(await peer.history(peer.limiterId).catch(() => []), killedAt, part.limiter);
        const all = addCounts(addCounts(addCounts(emptyCounts(), part.supervisor), part.recovery), part.limiter);
        const n = services.length;
        const cpu = (k: 0 | 1) => (cpuAfter[k] !== undefined && cpuBefore[k] !== undefined ? Math.round((cpuAfter[k] - cpuBefore[k]) / n) : undefined);
        const per = { supervisor: perEach(part.supervisor, n), recovery: perEach(part.recovery, n), limiter: perEach(part.limiter, n), all: perEach(all, n) };
        for (const [k, c] of Object.entries(per))
          log(
            `  per recovery, ${k.padEnd(10)} ${c.workflowTasks} workflow tasks (${c.workflowTaskMs} ms), ${Object.values(c.activities).reduce((a, b) => a + b, 0)} activities ${JSON.stringify(c.activities)}, signals in ${JSON.stringify(c.signalsIn)}, out ${c.signalsOut}, children ${c.children}, events ${c.events}`,
          );
        const windows = (await peer.limiterState())?.windows;
        log(`  host windows after the trial: ${JSON.stringify(windows)}`);
        log(`  per recovery, CPU ms: worker ${cpu(0) ?? '?'}, server ${cpu(1) ?? '?'}`);
        console.log(`counts: ${JSON.stringify({ trial: t, load: os.loadavg()[0], cpuMsPerRecovery: { worker: cpu(0), server: cpu(1) }, windows, per })}`);
      }
    }
  } finally {
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
