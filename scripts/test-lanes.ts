/**
 * How scripts/run-tests.ts splits and orders the test files, and adds up the lanes' summaries.
 *
 * Every test/*.test.ts runs in the concurrent lane (several files at a time, each kept apart by
 * its own task queue, ids, ports and folders) unless it carries the heavy marker: a line
 * `// test-lane: heavy — <why>`. Those are files that run whole stacks of their own (dev servers,
 * workers, killed on a clock: the chaos suite, the dev stack); they run in a lane of their own,
 * beside the concurrent one and from the start, two at a time, so that no more than two such
 * stacks load the machine at once and none waits behind the many short files.
 *
 * In the concurrent lane, files share processes (packFiles): a test file's process costs about a
 * CPU-second before its first test (node, the TypeScript hook, the Temporal client's gRPC and
 * protobuf code, the first worker's native runtime), and the suite is CPU-bound. Files that measure
 * their own process (its heap, say) carry `// test-lane: alone — <why>` and keep one of their own.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const HEAVY_MARKER = /^\/\/ test-lane: heavy\b/m;
export const ALONE_MARKER = /^\/\/ test-lane: alone\b/m;

export interface TestFile {
  /** Relative to the repository root, e.g. test/saga.test.ts. */
  path: string;
  /** Carries the heavy marker: runs in the heavy lane. */
  heavy: boolean;
  /** Carries the alone marker: never shares its process with another file. */
  alone: boolean;
}

/** test/*.test.ts whose names contain one of `filter` (all when empty), with their lane. */
export function discoverTestFiles(root: string, filter: string[]): TestFile[] {
  return readdirSync(path.join(root, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .filter((f) => filter.length === 0 || filter.some((part) => f.includes(part)))
    .sort()
    .map((f) => {
      const rel = path.join('test', f);
      const text = readFileSync(path.join(root, rel), 'utf8');
      return { path: rel, heavy: HEAVY_MARKER.test(text), alone: ALONE_MARKER.test(text) };
    });
}

/**
 * Slowest first (by the last measured durations), so that a long file does not start last and
 * hold the run alone at the end. Files never measured go first: they may be slow.
 */
export function slowestFirst(files: TestFile[], durations: Record<string, number>): TestFile[] {
  const known = (f: TestFile) => durations[f.path] ?? Number.POSITIVE_INFINITY;
  return [...files].sort((a, b) => known(b) - known(a) || a.path.localeCompare(b.path));
}

/**
 * Splits files into `processes` groups of about equal length (by the last measured durations; a
 * file never measured counts as an average one), each run by one process, one file after another:
 * the longest first, each into the group with the least so far. An alone file is a group of its own.
 * Groups come slowest first, like files in slowestFirst.
 */
export function packFiles(files: TestFile[], durations: Record<string, number>, processes: number): TestFile[][] {
  const known = files.map((f) => durations[f.path]).filter((ms): ms is number => ms !== undefined);
  const average = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  const length = (f: TestFile) => durations[f.path] ?? average;
  const alone = files.filter((f) => f.alone).map((f) => ({ files: [f], ms: length(f) }));
  const shared: Array<{ files: TestFile[]; ms: number }> = [];
  for (const f of slowestFirst(
    files.filter((f) => !f.alone),
    durations,
  )) {
    if (shared.length < processes) shared.push({ files: [f], ms: length(f) });
    else {
      const least = shared.reduce((a, b) => (b.ms < a.ms ? b : a));
      least.files.push(f);
      least.ms += length(f);
    }
  }
  return [...alone, ...shared].sort((a, b) => b.ms - a.ms).map((g) => g.files);
}

/**
 * The script a process of a group runs: each file of the group in turn (node:test runs the top-level
 * tests of one process one after another). A file that does not load fails as a test named for it,
 * and the others still run.
 */
export function groupScript(absolutePaths: string[]): string {
  return [
    "'use strict';",
    '// Test files sharing one process (scripts/test-lanes.ts packFiles).',
    "const { test } = require('node:test');",
    `for (const file of ${JSON.stringify(absolutePaths)}) {`,
    '  try {',
    '    require(file);',
    '  } catch (err) {',
    '    test(`${file} loads`, () => {',
    '      throw err;',
    '    });',
    '  }',
    '}',
    '',
  ].join('\n');
}

export function durationsFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'mend', 'test-durations.json');
}

export function loadDurations(file: string): Record<string, number> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/** Keeps the earlier figures of files this run did not measure. */
export function saveDurations(file: string, measured: Record<string, number>): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ ...loadDurations(file), ...measured }, null, 2) + '\n');
  } catch {
    /* only an ordering hint: a read-only home costs speed, not correctness */
  }
}

/** Per-file milliseconds from the timing reporter's JSON lines (top-level tests, summed). */
export function fileDurations(root: string, jsonLines: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of jsonLines.split('\n')) {
    if (!line.trim()) continue;
    const { file, ms } = JSON.parse(line) as { file: string; ms: number };
    const rel = path.relative(root, file);
    if (rel.startsWith('..')) continue; // a test of a group's own script (a file that did not load)
    out[rel] = (out[rel] ?? 0) + ms;
  }
  return out;
}

/** The spec reporter's closing counters, in the order it prints them. */
export const SUMMARY_KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'] as const;
export type Summary = Record<(typeof SUMMARY_KEYS)[number], number>;

const SUMMARY_LINE = new RegExp(`^ℹ (${SUMMARY_KEYS.join('|')}) (\\d+(?:\\.\\d+)?)$`);

/** Reads one summary line of the spec reporter (`ℹ pass 12`) into `into`; false for other lines. */
export function readSummaryLine(line: string, into: Partial<Summary>): boolean {
  const m = SUMMARY_LINE.exec(line);
  if (!m) return false;
  into[m[1] as keyof Summary] = Number(m[2]);
  return true;
}

export function addSummaries(parts: Array<Partial<Summary>>, durationMs: number): Summary {
  const total = Object.fromEntries(SUMMARY_KEYS.map((k) => [k, parts.reduce((sum, p) => sum + (p[k] ?? 0), 0)])) as Summary;
  total.duration_ms = durationMs;
  return total;
}

/** The same lines the spec reporter closes with, so whatever reads the end of the output still can. */
export function formatSummary(s: Summary): string[] {
  return SUMMARY_KEYS.map((k) => `ℹ ${k} ${k === 'duration_ms' ? s[k].toFixed(3) : s[k]}`);
}
