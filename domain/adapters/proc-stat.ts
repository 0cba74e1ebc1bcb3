/** A process as /proc shows it: read by the process adapter and by its launcher's client. */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  state: string;
  startTicks: number;
}

/** State and start time of a pid, or undefined when there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', startTicks: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

/** The pid's stat while it runs: undefined when it is gone, or exited and not yet reaped (a zombie). */
export function liveProcStat(pid: number): ProcStat | undefined {
  const stat = readProcStat(pid);
  return stat && stat.state !== 'Z' && stat.state !== 'X' ? stat : undefined;
}
