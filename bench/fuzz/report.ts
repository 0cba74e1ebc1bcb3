/** The fuzz run's report: machine, run, coverage per route and per token, statuses, the four findings, memory probes and samples. */
import os from 'node:os';
import type { Role } from '../../core/api';
import type { StartedWorkflow } from './effects';
import type { Sample, Tally } from './tally';

export interface FuzzReport {
  startedAt: Date;
  seed: number;
  concurrency: number;
  total: number;
  elapsedMs: number;
  loadBefore: number[];
  loadAfter: number[];
  commit: string;
  temporalVersion: string;
  operations: string[];
  roles: Map<string, Role | 'public'>;
  tally: Tally;
  /** Changes to the `j` targets between the baseline and the end. */
  changes: string[];
  checkpoints: Array<{ done: number; changes: string[]; badStarts: number }>;
  started: StartedWorkflow[];
  apiAlive: boolean;
}

/** The median of the values at `lo`–`hi` of the requests (fractions of `total`); undefined when no sample fell there. */
function windowMedian<S extends { done: number }>(samples: S[], value: (s: S) => number, total: number, lo: number, hi: number): number | undefined {
  const xs = samples
    .filter((s) => s.done >= lo * total && s.done <= hi * total)
    .map(value)
    .sort((a, b) => a - b);
  return xs.length === 0 ? undefined : xs[Math.floor(xs.length / 2)];
}

export interface MemoryVerdict {
  /** The heap after a full collection did not grow more than FLAT_GROWTH_PCT; false without probes in both windows. */
  flat: boolean;
  /** Median heap after a full collection at 20–40% and at 80–100% of the requests (MiB), and its growth. */
  early?: number;
  late?: number;
  growthPct?: number;
  /** The same medians of the RSS sampled every second, reported and not judged. */
  rss: { early?: number; late?: number; max?: number; growthPct?: number };
}

/** A leak grows the heap after a full collection by more than this from 20–40% to 80–100% of the requests. */
export const FLAT_GROWTH_PCT = 10;

const growth = (early: number | undefined, late: number | undefined) =>
  early === undefined || late === undefined ? undefined : (100 * (late - early)) / early;

/**
 * Memory is judged on what the API process still holds after a full garbage collection, probed at
 * every 5% of the requests (heap-probe.ts), after a warm-up of the first 20%: the median of the
 * probes at 80–100% of the requests is compared with the median at 20–40%, and the memory is flat
 * when the later one is at most FLAT_GROWTH_PCT above (a leak, objects kept per request, route,
 * token or address, grows with the requests). RSS is not judged: it is what V8 and the allocator have
 * reserved, which follows when garbage is collected rather than what is kept (runs without the
 * forced collections saw it climb from 164 to 330 MiB over 100,000 requests on a heap that does not
 * grow; the collections keep it lower), so a verdict on it says more about the load than about a leak.
 */
export function memoryFlat(t: Pick<Tally, 'rss' | 'heap'>, total: number): MemoryVerdict {
  const early = windowMedian(t.heap, (s) => s.heapMiB, total, 0.2, 0.4);
  const late = windowMedian(t.heap, (s) => s.heapMiB, total, 0.8, 1);
  const growthPct = growth(early, late);
  const rssEarly = windowMedian(t.rss, (s) => s.rssMiB, total, 0.2, 0.4);
  const rssLate = windowMedian(t.rss, (s) => s.rssMiB, total, 0.8, 1);
  return {
    flat: growthPct !== undefined && growthPct <= FLAT_GROWTH_PCT,
    early,
    late,
    growthPct,
    rss: {
      early: rssEarly,
      late: rssLate,
      max: t.rss.length ? Math.max(...t.rss.map((s) => s.rssMiB)) : undefined,
      growthPct: growth(rssEarly, rssLate),
    },
  };
}

const n = (x: number) => x.toLocaleString('en-US');
const mib = (x: number | undefined, digits: number) => x?.toFixed(digits) ?? '?';
const pct = (x: number | undefined) => (x === undefined ? '?' : `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`);
const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
const code = (s: string) => `\`${s.replace(/`/g, "'").replace(/\|/g, '\\|').replace(/\n/g, '\\n')}\``;

function samples(list: Sample[]): string[] {
  return list.map(
    (s) =>
      `- ${code(`${s.method} ${s.path}`)} token ${s.token}${s.defects.length ? `, defects: ${s.defects.join(', ')}` : ', clean'}${s.body !== undefined ? `, body ${code(s.body)}` : ''} → ${s.status ?? 'no answer'}: ${code(s.response)}`,
  );
}

function statusCells(m: Map<number, number> | undefined): { total: number; ok: number; c4: number; c429: number; c5: number } {
  const out = { total: 0, ok: 0, c4: 0, c429: 0, c5: 0 };
  for (const [s, k] of m ?? []) {
    out.total += k;
    if (s < 400) out.ok += k;
    else if (s === 429) out.c429 += k;
    else if (s < 500) out.c4 += k;
    else out.c5 += k;
  }
  return out;
}

export function markdown(r: FuzzReport): string {
  const t = r.tally;
  const mem = memoryFlat(t, r.total);
  const badStarts = r.started.filter((w) => w.kind === 'bad-input');
  const effects = r.changes.length + badStarts.length;
  const kinds = (k: StartedWorkflow['kind']) => r.started.filter((w) => w.kind === k).length;
  const cpus = os.cpus();
  const lines = [
    `# API fuzz (${r.startedAt.toISOString()})`,
    '',
    `\`npm run fuzz -- --requests ${r.total} --seed ${r.seed}\` against its own stack (Temporal dev server ${r.temporalVersion}, worker, API process with a tokens file), commit ${r.commit}.`,
    '',
    `Machine: ${cpus.length} × ${cpus[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, Node ${process.version}; shared with other jobs.`,
    `Load average (1/5/15 min): ${load(r.loadBefore)} at the start, ${load(r.loadAfter)} at the end.`,
    `${n(t.done)} requests in ${(r.elapsedMs / 1000).toFixed(0)} s (${(t.done / (r.elapsedMs / 1000)).toFixed(0)} req/s, ${r.concurrency} at a time); ${n(t.clean)} clean (${n(t.acts)} of them could act, on the \`fzv-*\` targets), ${n(t.done - t.clean)} with at least one defect.`,
    '',
    '## Findings',
    '',
    '| check | goal | result |',
    '| --- | --- | --- |',
    `| 5xx responses | 0 | ${t.fiveXx} |`,
    `| stack traces (or code paths) in bodies | 0 | ${t.stacks} |`,
    `| effects of bad input (workflows started outside \`fzv-*\`, changes to \`fzj-*\`) | 0 | ${effects} |`,
    `| API memory (heap after a full garbage collection, median at 20–40% → 80–100% of requests) | flat (≤ ${FLAT_GROWTH_PCT}% growth) | ${mib(mem.early, 1)} → ${mib(mem.late, 1)} MiB (${pct(mem.growthPct)}): ${mem.flat ? 'flat' : 'NOT flat'} |`,
    '',
    `Also: API alive and /healthz 200 at the end: ${r.apiAlive ? 'yes' : 'NO'}; transport errors (no HTTP answer): ${t.transportErrors}; 4xx bodies not in the error shape: ${t.badErrorBodies}; requests with a defect answered 2xx: ${t.acceptedBad}; API RSS (not judged, see API memory), median at 20–40% → 80–100% of requests: ${mib(mem.rss.early, 0)} → ${mib(mem.rss.late, 0)} MiB (${pct(mem.rss.growthPct)}; max ${mib(mem.rss.max, 0)} MiB).`,
    '',
    `Workflows started during the run: ${r.started.length} (${kinds('v')} by clean requests on \`fzv-*\`, ${kinds('continued')} continued entities, ${kinds('background')} background entities, ${badStarts.length} by bad input).`,
    '',
  ];
  if (t.fiveXxSamples.length) lines.push('### 5xx samples', '', ...samples(t.fiveXxSamples), '');
  if (t.stackSamples.length) lines.push('### Stack trace samples', '', ...samples(t.stackSamples), '');
  if (effects) {
    lines.push(
      '### Effects of bad input',
      '',
      ...r.changes.map((c) => `- ${c}`),
      ...badStarts.slice(0, 20).map((w) => `- started ${code(w.workflowId)} (${w.type}) at ${w.startTime}`),
      '',
    );
    lines.push(
      'By tenth of the run:',
      '',
      ...r.checkpoints.map(
        (c) =>
          `- after ${n(c.done)} requests: ${c.changes.length} change(s), ${c.badStarts} workflow(s) started by bad input${c.changes.length ? `: ${c.changes.join('; ')}` : ''}`,
      ),
      '',
    );
  }
  if (t.transportErrorSamples.length) lines.push('### Transport error samples', '', ...samples(t.transportErrorSamples), '');
  if (t.badErrorBodySamples.length) lines.push('### 4xx bodies not in the error shape (samples)', '', ...samples(t.badErrorBodySamples), '');
  if (t.acceptedBadSamples.length) lines.push('### Requests with a defect answered 2xx (samples)', '', ...samples(t.acceptedBadSamples), '');

  lines.push(
    '## Status histogram',
    '',
    '| status | requests |',
    '| --- | --- |',
    ...[...t.statuses].sort((a, b) => a[0] - b[0]).map(([s, k]) => `| ${s} | ${n(k)} |`),
    '',
  );
  lines.push(
    '## Requests per token',
    '',
    '| token | requests | 2xx/3xx | 4xx (not 429) | 429 | 5xx |',
    '| --- | --- | --- | --- | --- | --- |',
    ...(['none', 'viewer', 'operator', 'admin', 'scoped'] as const).map((k) => {
      const c = statusCells(t.perToken.get(k));
      return `| ${k === 'none' ? 'none (missing or unknown)' : k === 'scoped' ? 'operator scoped to fzv-svc' : k} | ${n(c.total)} | ${n(c.ok)} | ${n(c.c4)} | ${n(c.c429)} | ${n(c.c5)} |`;
    }),
    '',
  );
  lines.push(
    '## Requests per route',
    '',
    'Every operation of the OpenAPI document, with the least role the API answered for it, then wrong methods on its paths and odd paths.',
    '',
    '| route | role | requests | 2xx/3xx | 4xx (not 429) | 429 | 5xx |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...[...r.operations, 'wrong method', 'odd path'].map((route) => {
      const c = statusCells(t.perRoute.get(route));
      return `| ${code(route)} | ${r.roles.get(route) ?? '-'} | ${n(c.total)} | ${n(c.ok)} | ${n(c.c4)} | ${n(c.c429)} | ${n(c.c5)} |`;
    }),
    '',
  );
  const every = Math.max(1, Math.floor(r.total / 20));
  const picked = t.rss.filter((s, i) => i === 0 || i === t.rss.length - 1 || Math.floor(s.done / every) !== Math.floor((t.rss[i - 1]?.done ?? 0) / every));
  lines.push(
    '## API memory',
    '',
    `What the API process still holds is read after a full garbage collection: at the start and at every 5% of the requests the fuzz has the process collect its garbage (\`--expose-gc\`, bench/fuzz/heap-probe.ts; the API answers nothing for its duration, in the last column) and report the heap V8 kept. Flat means: after a warm-up of 20% of the requests, the median of these probes at 80–100% of the requests is at most ${FLAT_GROWTH_PCT}% above the median at 20–40%. A leak (objects kept per request, route, token or address) grows it with the requests; the load does not move it.`,
    '',
    "RSS is reported and not judged: it is what V8 (its heap's reserved pages) and the allocator hold, and it follows when garbage is collected rather than what is kept: between two collections the heap fills with garbage and V8 lets it grow further under load. Runs without these forced collections saw RSS climb from 164 to 330 MiB over 100,000 requests; the collections keep it lower, so RSS here is not comparable with such runs. To see what a growing heap holds, run with `--heap-snapshots <dir>` (a snapshot at every probe; slow, and it stalls the API, so expect 503s) and compare them by constructor.",
    '',
    '| requests done | time (s) | heap after GC (MiB) | heap reserved (MiB) | RSS (MiB) | collection (ms) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...t.heap.map(
      (s) =>
        `| ${n(s.done)} | ${(s.atMs / 1000).toFixed(0)} | ${s.heapMiB.toFixed(1)} | ${s.heapTotalMiB.toFixed(1)} | ${s.rssMiB.toFixed(1)} | ${s.gcMs.toFixed(0)} |`,
    ),
    '',
    'RSS of the API process (/proc/<pid>/status VmRSS), sampled every second; one sample per 5% of the requests shown.',
    '',
    '| requests done | time (s) | RSS (MiB) |',
    '| --- | --- | --- |',
    ...picked.map((s) => `| ${n(s.done)} | ${(s.atMs / 1000).toFixed(0)} | ${s.rssMiB.toFixed(1)} |`),
    '',
  );
  lines.push(
    '## How it works',
    '',
    "- Routes, parameters and body schemas come from the API's OpenAPI document (`/docs/json`); the least role of each route is asked of the API (viewer, then operator, on names nobody configured). A new route is fuzzed without a change here.",
    "- A request is clean when its body, parameters and content type are what the document accepts and its token's role suffices; clean requests name the `fzv-*` targets (demo services that are fine to restart; starts are dry runs) and at most one in 100 may act. Every other request carries at least one certain defect (a body the schema refuses, malformed JSON, `__proto__` or `constructor.prototype`, nesting up to 20,000 deep, a body over 64 KiB or of another content type, a bad path or query parameter, no or an unknown token, too small a role, an undeclared method) and names the `fzj-*` targets or nothing configured.",
    "- Effects of bad input: every workflow started during the run (Temporal visibility) must belong to `fzv-*` (or be an entity such as the fleet limiter); the `fzj-*` targets (a run waiting for an approval, a supervisor, a backlog entity, a health schedule, a demo process) must not change: the signals, cancellations and updates in their histories, the schedule's paused state, note and action count, and the process's start count are compared with a baseline taken before the first request.",
    "- Rate limits: requests without a valid token come from 254 loopback addresses (127.0.1.x), so the failed-authentication guard (burst 20, then 10 a minute per address) answers some with 429 without holding off the tokens' requests, which come from 127.0.0.1 and never fail authentication. The run-start limit stays at its default (burst 10, 30 a minute per token): it applies after validation, so bad bodies still get their 400.",
    '',
  );
  return lines.join('\n');
}
