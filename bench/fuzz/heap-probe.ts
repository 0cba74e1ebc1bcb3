/**
 * Loaded into the fuzz run's API process (`--expose-gc --import` this file; stack.ts), never into a
 * real one: on SIGWINCH (ignored by a process without the probe; the API's close-with-grace takes
 * SIGUSR2 and the other usual ones to shut down) it runs a full garbage collection and appends one JSON line to
 * MEND_FUZZ_HEAP_FILE with the heap that survived it and the RSS. RSS says how much memory V8 has
 * reserved, which follows the load (young generation and old-space growth limits, allocator pools);
 * the heap after a full collection is what the process still holds, the measure a leak grows.
 * With MEND_FUZZ_HEAP_SNAPSHOTS set to a folder, each probe also writes a heap snapshot there.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';

export interface HeapProbe {
  seq: number;
  /** V8's heap in use right after a full collection, in bytes. */
  heapUsed: number;
  /** The process's RSS at the same moment, in bytes. */
  rss: number;
  /** What V8 has reserved for its heap at the same moment (used or not), in bytes. */
  heapTotal: number;
  /** Memory held by Buffers and other off-heap allocations V8 knows of, in bytes. */
  external: number;
  /** How long the two collections took (the API answers nothing meanwhile). */
  gcMs: number;
  snapshot?: string;
}

const out = process.env.MEND_FUZZ_HEAP_FILE;
const snapshots = process.env.MEND_FUZZ_HEAP_SNAPSHOTS;
const gc = (globalThis as { gc?: () => void }).gc;
let seq = 0;

if (out) {
  if (!gc) throw new Error('heap-probe: start the process with --expose-gc');
  process.on('SIGWINCH', () => {
    // Twice: objects freed by the first collection's finalizers and weak callbacks go in the second.
    const t0 = performance.now();
    gc();
    gc();
    const gcMs = performance.now() - t0;
    const mem = process.memoryUsage();
    const probe: HeapProbe = { seq: ++seq, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, rss: mem.rss, external: mem.external, gcMs };
    if (snapshots) probe.snapshot = v8.writeHeapSnapshot(path.join(snapshots, `api-${String(seq).padStart(3, '0')}.heapsnapshot`));
    appendFileSync(out, `${JSON.stringify(probe)}\n`);
  });
}
