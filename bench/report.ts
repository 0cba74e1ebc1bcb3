/** Writes the results: latest.json (everything measured), README.md (tables) and SVG charts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { summarize, type Summary } from './lib/stats';
import type { PeerSettings } from './peers/types';
import type { CheckpointRow } from './scenarios/checkpoint';
import { STAGES, type CrashLoopResult, type FaultResult, type StageName } from './scenarios/faults';

export interface BenchResults {
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string; date: string; loadAverage?: number[]; mergedWith?: string[] };
  settings: PeerSettings;
  quick: boolean;
  versions: Record<string, string>;
  faults: Partial<Record<'crash' | 'hang', Record<string, FaultResult>>>;
  crashLoop: Record<string, CrashLoopResult>;
  checkpoint?: CheckpointRow[];
  /** Scenarios measured by other modules, each with its own rows. */
  extra?: Record<string, unknown>;
}

/** A chart an `extra` section asks for: bars of medians (seconds) with p95 whiskers, written to `file` in the results folder. */
export interface ExtraChart {
  file: string;
  title: string;
  rows: Array<{ label: string; summary?: Summary; note?: string }>;
}

const ms = (x: number) => (Number.isNaN(x) ? '-' : `${Math.round(x * 1000)} ms`);
const s = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${x.toFixed(2)} s`);
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !b || Number.isNaN(a) || Number.isNaN(b) ? '-' : `${(a / b).toFixed(2)}×`;

function faultTable(fault: 'crash' | 'hang', rows: Record<string, FaultResult>): string[] {
  const mend = rows.mend?.summary;
  const lines = [`| ${fault} | trials | median | p95 | not recovered | mend / peer (median) | measured |`, '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const [name, r] of Object.entries(rows)) {
    const never = r.seconds.length === 0;
    lines.push(
      `| ${name} | ${r.trials} | ${never ? 'never' : s(r.summary.median)} | ${never ? 'never' : s(r.summary.p95)} | ${r.notRecovered} | ${name === 'mend' || never ? '-' : ratio(mend?.median, r.summary.median)} | ${r.measuredAt?.slice(0, 16).replace('T', ' ') ?? '-'} |`,
    );
  }
  return lines;
}

/** A horizontal bar chart of medians (with p95 whiskers) per peer. */
export function barChart(title: string, rows: Array<{ label: string; summary?: Summary; note?: string }>): string {
  const width = 640;
  const rowH = 34;
  const left = 120;
  const height = 50 + rows.length * rowH;
  const max = Math.max(0.001, ...rows.map((r) => r.summary?.p95 ?? 0)) * 1.15;
  const x = (v: number) => left + (v / max) * (width - left - 80);
  const bars = rows.map((r, i) => {
    const y = 40 + i * rowH;
    if (!r.summary || r.summary.n === 0)
      return `<text x="${left}" y="${y + 16}" font-size="13" fill="#a33">${r.label}: ${r.note ?? 'never recovered'}</text><text x="10" y="${y + 16}" font-size="13">${r.label}</text>`;
    const m = r.summary.median;
    return [
      `<text x="10" y="${y + 16}" font-size="13">${r.label}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${x(m) - left}" height="16" fill="${r.label === 'mend' ? '#2a7' : '#789'}"/>`,
      `<line x1="${x(r.summary.p95)}" y1="${y + 2}" x2="${x(r.summary.p95)}" y2="${y + 22}" stroke="#333"/>`,
      `<text x="${x(r.summary.p95) + 6}" y="${y + 16}" font-size="12">${m.toFixed(2)} s (p95 ${r.summary.p95.toFixed(2)})</text>`,
    ].join('');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/><text x="10" y="22" font-size="15" font-weight="bold">${title}</text>${bars.join('')}</svg>\n`;
}

const STAGE_WORDS: Record<StageName, string> = {
  detect: "fault → recovery begun: its run started, or the pid watch's own restart (seen, confirmed, decided)",
  prepare: 'begun → start action running (first steps, stop)',
  start: 'start action (spawn, pid file)',
  boot: "start done → first healthy answer (the service's own start-up)",
};

/** mend's time stage by stage, from its recovery runs' histories (medians over the trials it covers). */
function stageTable(fault: 'crash' | 'hang', mend: FaultResult | undefined): string[] {
  const stages = mend?.stages;
  if (!stages || stages.detect.length === 0) return [];
  const lines = [
    `Where mend's ${fault} time goes (${stages.detect.length} trials; stages from each recovery run's history, on the same clock as the fault):`,
    '',
    '| stage | median | p95 |',
    '| --- | --- | --- |',
  ];
  for (const k of STAGES) {
    const sum = summarize(stages[k]);
    lines.push(`| ${STAGE_WORDS[k]} | ${ms(sum.median)} | ${ms(sum.p95)} |`);
  }
  return [...lines, ''];
}

export async function writeReport(dir: string, r: BenchResults): Promise<{ json: string; markdown: string }> {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'latest.json');
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');

  const md: string[] = [
    '# mend benchmarks: latest results',
    '',
    `Measured ${r.machine.date} on ${r.machine.cpu} (${r.machine.cores} cores, ${r.machine.memoryGiB} GiB), ${r.machine.os}, Node ${r.machine.node}${r.machine.loadAverage ? `; load average at the start ${r.machine.loadAverage.join(', ')} (1, 5, 15 min)` : ''}${r.machine.mergedWith?.length ? ` (merged over the runs of ${r.machine.mergedWith.join(', ')}: each row says when it was measured)` : ''}.${r.quick ? ' **Quick run (few trials): not for quoting.**' : ''}`,
    `Peers: ${
      Object.entries(r.versions)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ') || '-'
    }.`,
    `Same settings for every peer: check every ${r.settings.intervalMs / 1000} s, probe timeout ${r.settings.timeoutMs / 1000} s, act after ${r.settings.failures} failed checks. Times run from the fault (injected by the benchmark at a random point of the check cycle) to the first healthy answer the benchmark sees, polling every 10 ms. Raw samples: [latest.json](latest.json).`,
    '',
  ];
  for (const fault of ['crash', 'hang'] as const) {
    const rows = r.faults[fault];
    if (!rows) continue;
    md.push(
      `## ${fault === 'crash' ? 'Crash (SIGKILL)' : 'Hang (SIGSTOP: alive, not answering)'}`,
      '',
      ...faultTable(fault, rows),
      '',
      `![${fault}](${fault}.svg)`,
      '',
    );
    if (fault === 'hang' && rows.supervisord && rows.supervisord.seconds.length === 0)
      md.push('supervisord has no health probe: it cannot see a hung process, so it never restarts it.', '');
    md.push(...stageTable(fault, rows.mend));
    writeFileSync(
      path.join(dir, `${fault}.svg`),
      barChart(
        `time to recover from a ${fault} (median, p95 whisker)`,
        Object.entries(rows).map(([label, res]) => ({ label, summary: res.seconds.length ? res.summary : undefined })),
      ),
    );
  }
  const loops = Object.entries(r.crashLoop);
  if (loops.length) {
    md.push(
      '## Crash loop (dies 0.5 s after each start, then fixed)',
      '',
      '| peer | window | starts in window | alert | state at fix | fix → healthy | given |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const [name, c] of loops)
      md.push(
        `| ${name} | ${c.windowSeconds} s | ${c.restarts} | ${c.alerted ? 'yes' : 'no'} | ${c.stateAtFix} | ${c.fixToHealthySeconds === undefined ? 'never' : s(c.fixToHealthySeconds)} | ${c.deadlineSeconds === undefined ? '30 s' : `${c.deadlineSeconds} s`} |`,
      );
    md.push(
      '',
      "mend's flap control here: at most 3 recoveries in 2 min, then a 20 s cool-down; half-open, one trial, which waits out the restart backoff (doubling from 1 s, at most 30 s); a relapse within 5 s reopens the breaker. So a fix waits between nothing and cool-down + backoff + a run, depending on where in that cycle it lands, and mend is given that long (the state at the fix says where it was).",
      '',
    );
  }
  if (r.checkpoint?.length) {
    md.push(
      '## Checkpoint create and restore (8 files of random data)',
      '',
      '| size | mend create | tar + sha256sum create | ratio | mend restore (verify + copy) | sha256sum -c + tar -x | ratio |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const c of r.checkpoint) {
      md.push(
        `| ${c.sizeMb} MB | ${s(c.mendCreate.median)} | ${s(c.tarCreate.median)} | ${ratio(c.mendCreate.median, c.tarCreate.median)} | ${s(c.mendRestore.median)} | ${s(c.tarRestore.median)} | ${ratio(c.mendRestore.median, c.tarRestore.median)} |`,
      );
    }
    md.push('', 'Medians; p95 and every sample are in latest.json.', '');
  }
  for (const [name, section] of Object.entries(r.extra ?? {})) {
    const { markdown: text, chart } = section as { markdown?: string[]; chart?: ExtraChart };
    if (text) md.push(`## ${name}`, '', ...text, '');
    if (chart) {
      writeFileSync(path.join(dir, chart.file), barChart(chart.title, chart.rows));
      md.push(`![${name}](${chart.file})`, '');
    }
  }
  const markdown = path.join(dir, 'README.md');
  writeFileSync(markdown, md.join('\n'));
  return { json, markdown };
}
