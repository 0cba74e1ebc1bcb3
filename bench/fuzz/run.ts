/**
 * `npm run fuzz [-- --requests N] [--seed S] [--concurrency C] [--keep] [--heap-snapshots DIR]`: API fuzzing at volume.
 * Brings up its own stack (stack.ts), learns the routes from the API's OpenAPI document and the
 * least role of each from the API itself, then sends N generated requests (requests.ts) with no
 * token, viewer, operator, admin and a scoped operator token. Reports 5xx answers, stack traces in
 * bodies, effects of bad input (effects.ts) and the API process's memory over the run (its heap after
 * a full garbage collection at every 5% of the requests, heap-probe.ts; its RSS every second); writes
 * bench/results/fuzz.md (for a run of 100,000 or more, or with --write) and exits 1 on a finding.
 * Ctrl-C stops the requests and everything the run started.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Role } from '../../core/api';
import { ROOT, sleep } from '../lib/util';
import { EffectWatch, jChanges, type JState, type StartedWorkflow } from './effects';
import { Api } from './openapi';
import { markdown, memoryFlat, type FuzzReport } from './report';
import { RequestGenerator, type FuzzRequest } from './requests';
import { Rng } from './rng';
import { startFuzzStack, type FuzzStack } from './stack';
import { Tally } from './tally';
import { UNKNOWN_NAMES } from './targets';

const RESULTS = path.join(ROOT, 'bench/results');

function say(line: string): void {
  process.stdout.write(`[fuzz] ${line}\n`);
}

function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });
/**
 * A request with a body gets a connection of its own: the API may answer before reading the body
 * (401, 413, 415) and then close, and a kept-alive socket would carry the unread rest into the next request.
 */
const oneShot = new http.Agent({ keepAlive: false, maxSockets: 64 });

type Answer = { status: number; body: string } | { error: string };
type Sendable = Pick<FuzzRequest, 'method' | 'path' | 'headers' | 'body' | 'localAddress'>;

/** Sends once more when a kept-alive socket turned out closed by the server (Node's advice: `reusedSocket`), as any HTTP client does. */
async function send(base: URL, req: Sendable): Promise<Answer> {
  const first = await sendOnce(base, req);
  return 'error' in first && first.reused ? sendOnce(base, req) : first;
}

function sendOnce(base: URL, req: Sendable): Promise<Answer & { reused?: boolean }> {
  return new Promise((resolve) => {
    let r: http.ClientRequest;
    // A body goes with its length, as clients send it (Node's HTTP parser refuses a chunked GET outright).
    const headers = req.body === undefined ? req.headers : { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) };
    const options = {
      host: base.hostname,
      port: base.port,
      method: req.method,
      headers,
      agent: req.body === undefined ? agent : oneShot,
      localAddress: req.localAddress,
      timeout: 60_000,
    };
    try {
      r = http.request({ ...options, path: req.path });
    } catch {
      // Node refuses to send some raw paths (control characters): send them percent-encoded.
      r = http.request({ ...options, path: req.path.replace(/[^\x21-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`) });
    }
    r.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if ((size += c.length) <= 1 << 20) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ error: `response: ${err.message}` }));
    });
    r.on('timeout', () => r.destroy(new Error('no answer in 60s')));
    r.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.message, reused: r.reusedSocket && err.code === 'ECONNRESET' }));
    r.end(req.body);
  });
}

/** The least role of each operation, asked of the API with a viewer and an operator token on names nobody configured. */
async function learnRoles(stack: FuzzStack, api: Api): Promise<Map<string, Role | 'public'>> {
  const roles = new Map<string, Role | 'public'>();
  for (const op of api.operations) {
    const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'run' ? '0000000a' : UNKNOWN_NAMES[1]!));
    const ask = async (token?: string) => {
      const res = await send(stack.apiUrl, { method: op.method, path, headers: token ? { authorization: `Bearer ${token}` } : {}, localAddress: '127.0.0.1' });
      if ('error' in res) throw new Error(`learning the role of ${op.method} ${op.path}: ${res.error}`);
      return res;
    };
    const anonymous = await ask();
    if (anonymous.status !== 401) {
      roles.set(`${op.method} ${op.path}`, 'public');
      continue;
    }
    let role: Role = 'viewer';
    for (const [token, next] of [
      [stack.tokens.viewer, 'operator'],
      [stack.tokens.operator, 'admin'],
    ] as const) {
      const res = await ask(token);
      if (res.status !== 403) break;
      role = next;
    }
    roles.set(`${op.method} ${op.path}`, role);
  }
  return roles;
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT }).toString().trim() !== '';
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '100000' },
      seed: { type: 'string' },
      concurrency: { type: 'string', default: '16' },
      keep: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      'heap-snapshots': { type: 'string' },
    },
  });
  const total = Number(values.requests);
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const concurrency = Number(values.concurrency);
  for (const [name, v] of [
    ['--requests', total],
    ['--seed', seed],
    ['--concurrency', concurrency],
  ] as const)
    if (!Number.isInteger(v) || v < (name === '--seed' ? 0 : 1)) throw new Error(`${name}: expected a positive integer, got ${String(v)}`);

  let interrupted: string | undefined;
  const onSignal = (signal: string) => {
    if (interrupted) return;
    interrupted = signal;
    say(`${signal}: stopping the requests and everything this run started ...`);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const dir = mkdtempSync(path.join(os.tmpdir(), 'mend-fuzz-'));
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  say(`${total} requests, seed ${seed}, concurrency ${concurrency}; working in ${dir}`);
  let stack: FuzzStack | undefined;
  try {
    stack = await startFuzzStack(dir, say, () => interrupted !== undefined, {
      heapSnapshots: values['heap-snapshots'] && path.resolve(values['heap-snapshots']),
    });
    const doc = (await (await fetch(new URL('/docs/json', stack.apiUrl))).json()) as unknown;
    const api = new Api(doc);
    const roles = await learnRoles(stack, api);
    say(`${api.operations.length} operations in the OpenAPI document; roles: ${[...roles].map(([k, r]) => `${k}=${r}`).join(', ')}`);

    const watch = new EffectWatch(stack.client, dir);
    await watch.start();
    const gen = new RequestGenerator({ api, rng: new Rng(seed), tokens: stack.tokens, roles, actEvery: 100 });
    const tally = new Tally();
    const t0 = Date.now();
    const sampleRss = () => {
      const rss = rssMiB(stack!.apiPid);
      if (rss !== undefined) tally.rss.push({ atMs: Date.now() - t0, done: tally.done, rssMiB: rss });
    };
    // The heap after a full collection, at the start and at every 5% of the requests, one probe at a time.
    const probeHeap = async () => {
      const done = tally.done;
      const p = await stack!.probeHeap();
      tally.heap.push({
        atMs: Date.now() - t0,
        done,
        heapMiB: p.heapUsed / 2 ** 20,
        heapTotalMiB: p.heapTotal / 2 ** 20,
        rssMiB: p.rss / 2 ** 20,
        gcMs: p.gcMs,
      });
    };
    let nextProbe = 0;
    let probing: Promise<void> | undefined;
    const maybeProbeHeap = () => {
      if (probing || tally.done < nextProbe) return;
      nextProbe = tally.done + Math.max(1, Math.floor(total / 20));
      probing = probeHeap()
        .catch((err: Error) => say(`heap probe: ${err.message}`))
        .finally(() => (probing = undefined));
    };
    sampleRss();
    maybeProbeHeap();
    const rssTimer = setInterval(sampleRss, 1_000);
    let lastDone = 0;
    let shownTransport = false;
    const progress = setInterval(() => {
      const rate = (tally.done - lastDone) / 5;
      lastDone = tally.done;
      const top = [...tally.statuses]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      const rss = tally.rss.at(-1)?.rssMiB.toFixed(0) ?? '?';
      const heap = tally.heap.at(-1)?.heapMiB.toFixed(1) ?? '?';
      if (tally.transportErrorSamples.length > 0 && !shownTransport) {
        shownTransport = true;
        say(`first transport error: ${JSON.stringify(tally.transportErrorSamples[0])}`);
      }
      say(
        `${tally.done}/${total} (${((100 * tally.done) / total).toFixed(1)}%), ${rate.toFixed(0)} req/s; 5xx ${tally.fiveXx}, stacks ${tally.stacks}, transport errors ${tally.transportErrors}; API RSS ${rss} MiB, heap after GC ${heap} MiB; ${top}`,
      );
    }, 5_000);

    // Effects are read at every tenth of the run as well as at the end: a change says in which tenth it happened.
    const checkpoints: Array<{ done: number; changes: string[]; badStarts: number }> = [];
    let nextCheckpoint = Math.ceil(total / 10);
    let checking: Promise<void> | undefined;
    const checkpoint = async (done: number) => {
      const [state, started] = await Promise.all([watch.jState(), watch.started()]);
      checkpoints.push({ done, changes: jChanges(watch.baseline, state), badStarts: started.filter((w) => w.kind === 'bad-input').length });
    };

    let next = 0;
    const workers = Array.from({ length: concurrency }, async () => {
      while (next < total && !interrupted) {
        const req = gen.next(next++);
        tally.record(req, await send(stack!.apiUrl, req));
        maybeProbeHeap();
        if (tally.done >= nextCheckpoint && !checking) {
          nextCheckpoint += Math.ceil(total / 10);
          const done = tally.done;
          checking = checkpoint(done)
            .catch((err: Error) => say(`checkpoint at ${done}: ${err.message}`))
            .finally(() => (checking = undefined));
        }
        if (stack!.api.exitCode !== null) throw new Error(`the API process exited (${stack!.api.exitCode}); its log: ${path.join(dir, 'api.log')}`);
      }
    });
    await Promise.all(workers);
    await checking;
    await probing;
    clearInterval(progress);
    sampleRss();
    // The last probe, unless the one at the last 5% mark was already taken with every request done.
    if (!interrupted && tally.heap.at(-1)?.done !== tally.done) await probeHeap();
    clearInterval(rssTimer);
    const elapsedMs = Date.now() - t0;
    if (interrupted) return 130;
    say(`${tally.done} requests in ${(elapsedMs / 1000).toFixed(0)} s; letting the runs of clean requests settle before the last look ...`);
    // Effects land asynchronously (a signal is applied by the worker): wait for the clean runs to end, at most 60 s.
    const settleEnd = Date.now() + 60_000;
    while (Date.now() < settleEnd && !interrupted) {
      const running = (await watch.started()).filter((w) => w.kind === 'v' && w.status === '1' && !w.workflowId.startsWith('mend/supervisor/'));
      if (running.length === 0) break;
      await sleep(2_000);
    }
    const finalState: JState = await watch.jState();
    const started: StartedWorkflow[] = await watch.started();
    const healthz = await fetch(new URL('/healthz', stack.apiUrl))
      .then((r) => r.status)
      .catch(() => 0);
    const report: FuzzReport = {
      startedAt,
      seed,
      concurrency,
      total,
      elapsedMs,
      loadBefore,
      loadAfter: os.loadavg(),
      commit: gitCommit(),
      temporalVersion: stack.temporalVersion,
      operations: api.operations.map((o) => `${o.method} ${o.path}`),
      roles,
      tally,
      changes: jChanges(watch.baseline, finalState),
      checkpoints,
      started,
      apiAlive: stack.api.exitCode === null && healthz === 200,
    };
    const text = markdown(report);
    process.stdout.write(`\n${text}\n`);
    writeFileSync(path.join(dir, 'fuzz.md'), text);
    if (total >= 100_000 || values.write) {
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(path.join(RESULTS, 'fuzz.md'), text);
      say(`report written to ${path.relative(process.cwd(), path.join(RESULTS, 'fuzz.md'))}`);
    } else say(`report in ${path.join(dir, 'fuzz.md')} (bench/results/fuzz.md is written for runs of 100,000 or more, or with --write)`);
    return report.tally.fiveXx + report.tally.stacks + report.changes.length + started.filter((w) => w.kind === 'bad-input').length === 0 &&
      memoryFlat(tally, total).flat &&
      report.apiAlive
      ? 0
      : 1;
  } finally {
    await stack?.stop();
    agent.destroy();
    oneShot.destroy();
    if (!values.keep && !interrupted) rmSync(dir, { recursive: true, force: true });
    else say(`files kept in ${dir}`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`fuzz: ${err.message}`);
    process.exit(1);
  },
);
