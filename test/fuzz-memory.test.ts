/**
 * How `npm run fuzz` judges the API's memory: on the heap a process still holds after a full garbage
 * collection (bench/fuzz/heap-probe.ts, loaded into the API process), not on its RSS, which follows
 * when garbage is collected. The probe runs here in a real Node process that keeps or drops memory on
 * request; the verdict is checked on samples shaped like a leak and like a run that only reserves more.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { HeapProbe } from '../bench/fuzz/heap-probe';
import { memoryFlat } from '../bench/fuzz/report';
import type { HeapSample, RssSample } from '../bench/fuzz/tally';
import { ROOT, tempDir, waitFor } from './helpers';

/** Samples every 5% of `total` requests: the heap after GC and the RSS as functions of the fraction done. */
function samples(total: number, heap: (f: number) => number, rss: (f: number) => number): { heap: HeapSample[]; rss: RssSample[] } {
  const at = Array.from({ length: 21 }, (_, i) => i / 20);
  return {
    heap: at.map((f) => ({ atMs: f * 1000, done: f * total, heapMiB: heap(f), heapTotalMiB: 2 * heap(f), rssMiB: rss(f), gcMs: 50 })),
    rss: at.map((f) => ({ atMs: f * 1000, done: f * total, rssMiB: rss(f) })),
  };
}

describe('fuzz: the API memory verdict', () => {
  test('a heap after GC that stays flat is flat however the RSS climbs; one that grows 15% is not; no probes is no verdict', () => {
    const reserving = memoryFlat(
      samples(
        100_000,
        (f) => 48 + f,
        (f) => 164 + 170 * f,
      ),
      100_000,
    );
    assert.equal(reserving.flat, true, JSON.stringify(reserving));
    assert.ok(reserving.rss.growthPct! > 30, 'the RSS growth is still reported');

    const leaking = memoryFlat(
      samples(
        100_000,
        (f) => 48 * (1 + 0.25 * f),
        () => 200,
      ),
      100_000,
    );
    assert.equal(leaking.flat, false, JSON.stringify(leaking));
    assert.ok(leaking.growthPct! > 10 && leaking.growthPct! < 20, JSON.stringify(leaking));

    const unprobed = memoryFlat(
      {
        heap: [],
        rss: samples(
          100,
          () => 1,
          () => 100,
        ).rss,
      },
      100,
    );
    assert.equal(unprobed.flat, false);
  });

  test('the heap probe in a real process: on SIGWINCH it reports the heap kept after a full GC, which garbage does not raise and kept objects do', async () => {
    const dir = tempDir('fuzz-memory');
    const heapFile = path.join(dir, 'heap.jsonl');
    const script = path.join(dir, 'holder.js');
    // Keeps (or allocates and drops) about 20 MiB of arrays per line read; answers each line with "ok".
    writeFileSync(
      script,
      [
        'const kept = [];',
        'const block = () => Array.from({ length: 20 }, () => new Array(128 * 1024).fill(Math.random()));',
        "require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {",
        "  if (line === 'keep') kept.push(block());",
        '  else block();',
        "  process.stdout.write('ok\\n');",
        '});',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', '--import', path.join(ROOT, 'bench/fuzz/heap-probe.ts'), script], {
      cwd: ROOT,
      env: { ...process.env, MEND_FUZZ_HEAP_FILE: heapFile },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const ask = async (line: string) => {
      const before = out.length;
      child.stdin!.write(`${line}\n`);
      await waitFor(`the holder to ${line}`, 30_000, () => out.length > before);
    };
    const probes: HeapProbe[] = [];
    const probe = async () => {
      child.kill('SIGWINCH');
      await waitFor(
        `heap probe ${probes.length + 1}`,
        30_000,
        () => existsSync(heapFile) && readFileSync(heapFile, 'utf8').trim().split('\n').length > probes.length,
      );
      probes.push(JSON.parse(readFileSync(heapFile, 'utf8').trim().split('\n').at(-1)!) as HeapProbe);
      return probes.at(-1)!.heapUsed / 2 ** 20;
    };
    try {
      await ask('drop'); // the script's code is loaded and warm before the baseline
      const baseline = await probe();
      await ask('drop');
      await ask('drop');
      const afterGarbage = await probe();
      await ask('keep');
      const afterKeeping = await probe();
      assert.ok(Math.abs(afterGarbage - baseline) < 3, `garbage: ${baseline.toFixed(1)} → ${afterGarbage.toFixed(1)} MiB`);
      assert.ok(afterKeeping - afterGarbage > 15, `kept 20 MiB: ${afterGarbage.toFixed(1)} → ${afterKeeping.toFixed(1)} MiB`);
      assert.deepEqual(
        probes.map((p) => p.seq),
        [1, 2, 3],
      );
      assert.ok(probes.every((p) => p.rss > p.heapUsed && p.heapTotal >= p.heapUsed && p.gcMs >= 0));
      assert.equal(child.exitCode, null, 'SIGWINCH does not end the process');
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
  });
});
