/** CPU time and resident memory of a process or a process tree, read from /proc (Linux only). */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Clock ticks per second of /proc/<pid>/stat times: 100 on every Linux this runs on (getconf CLK_TCK). */
const TICKS_PER_SECOND = 100;

export interface ProcSample {
  /** user + system CPU time so far, seconds. */
  cpuSeconds: number;
  rssMiB: number;
}

/** Every pid of the tree under `pid` (itself first), from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(/\s+/).filter(Boolean)) walk(Number(c));
    }
  };
  walk(pid);
  return out;
}

/**
 * CPU and RSS of whole process trees (one tree per root, summed over the roots): each process's own
 * CPU plus that of the children it has reaped (cutime, cstime), so a child that ended within the
 * window still counts; RSS summed over the living processes (shared pages counted per process).
 */
export function sampleTrees(roots: number[]): ProcSample {
  let cpuSeconds = 0;
  let rssMiB = 0;
  for (const pid of roots.flatMap(processTree)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      cpuSeconds += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND;
      rssMiB += rss ? Number(rss[1]) / 1024 : 0;
    } catch {
      // ended between the listing and the read
    }
  }
  return { cpuSeconds, rssMiB };
}

export interface ProcUsage {
  /** Mean CPU over the window, % of one core. */
  cpuPercent: number;
  rssMiBMean: number;
  rssMiBMax: number;
}

/** CPU and RSS of each named set of process trees, sampled every second over `windowMs`. */
export async function usageOver<K extends string>(roots: Record<K, number[]>, windowMs: number): Promise<Record<K, ProcUsage>> {
  const names = Object.keys(roots) as K[];
  const sample = () => Object.fromEntries(names.map((n) => [n, sampleTrees(roots[n])])) as Record<K, ProcSample>;
  const t0 = performance.now();
  const first = sample();
  const rss = Object.fromEntries(names.map((n) => [n, [first[n].rssMiB]])) as Record<K, number[]>;
  while (performance.now() - t0 < windowMs) {
    await new Promise((r) => setTimeout(r, Math.min(1_000, windowMs - (performance.now() - t0))));
    const s = sample();
    for (const n of names) rss[n].push(s[n].rssMiB);
  }
  const last = sample();
  const seconds = (performance.now() - t0) / 1000;
  const round = (x: number) => Math.round(x * 10) / 10;
  return Object.fromEntries(
    names.map((n) => [
      n,
      {
        cpuPercent: round(((last[n].cpuSeconds - first[n].cpuSeconds) / seconds) * 100),
        rssMiBMean: round(rss[n].reduce((a, b) => a + b, 0) / rss[n].length),
        rssMiBMax: round(Math.max(...rss[n])),
      },
    ]),
  ) as Record<K, ProcUsage>;
}
