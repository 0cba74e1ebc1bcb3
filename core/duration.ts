/** Durations as operators write them: "500ms", "30s", "5m", "1h", "1d". */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A duration as written in config: a number and a unit. */
export const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

export type DurationString = `${number}${keyof typeof UNIT_MS}`;

/** Parses "500ms" | "30s" | "5m" | "1h" | "1d" into milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  const match = DURATION_RE.exec(text.trim());
  if (!match) {
    throw new Error(`"${text}" is not a duration (expected a number followed by ms, s, m, h or d, e.g. "500ms", "30s", "5m")`);
  }
  const value = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_MS;
  return Math.round(value * UNIT_MS[unit]);
}

/** Shortest readable form of a millisecond count: 1500 -> "1.5s", 300000 -> "5m". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}m`;
  return `${+(ms / 3_600_000).toFixed(1)}h`;
}
