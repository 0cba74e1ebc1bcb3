/** CPU time and resident memory of a process, read from /proc (Linux only). */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times: 100 on every Linux this runs on (getconf CLK_TCK). */
const TICKS_PER_SECOND = 100;

export interface ProcSample {
  /** user + system CPU time so far, seconds. */
  cpuSeconds: number;
  rssMiB: number;
}

export function sampleProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!rss || Number.isNaN(utime)) throw new Error(`bench: cannot read /proc/${pid}`);
  return { cpuSeconds: (utime + stime) / TICKS_PER_SECOND, rssMiB: Number(rss[1]) / 1024 };
}
