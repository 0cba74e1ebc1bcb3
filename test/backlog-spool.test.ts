/** The backlog spool on real files, and delivery to a real demo/sink.js child process. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deliver, SinkError, sinkHas, sinkHealthy } from '../domain/backlog/sink';
import { counts, deadLetter, listFailed, listPending, readAttempts, recordAttempt, removeDelivered, resetFailed, writeItem } from '../domain/backlog/spool';
import { parseConfig } from '../core/config';
import { SpoolSchema, type Spool } from '../core/schemas';
import { freePort } from '../scripts/ports';
import { httpStatus, spawnTs, tempDir, waitFor, type Spawned } from './helpers';

const t0 = Date.parse('2026-11-23T10:00:00Z');
const at = (offsetMs: number) => new Date(t0 + offsetMs);

describe('spool schema', () => {
  test('defaults, health URL from the sink URL, and dir resolved against the config folder', () => {
    const text = `spools:\n  - name: orders\n    dir: spool/orders\n    sink: { url: "http://127.0.0.1:9/api/" }\n`;
    const config = parseConfig(text, 'test.yaml', { baseDir: '/etc/mend', stateDir: '/var/mend' });
    const spool = config.spools[0]!;
    assert.equal(spool.dir, '/etc/mend/spool/orders');
    assert.equal(spool.sink.healthUrl, 'http://127.0.0.1:9/api/healthz');
    assert.deepEqual(
      {
        timeout: spool.sink.timeout,
        headers: spool.sink.headers,
        batchSize: spool.batchSize,
        maxAttempts: spool.maxAttempts,
        maxItemBytes: spool.maxItemBytes,
        maxBackoff: spool.maxBackoff,
      },
      { timeout: 5_000, headers: {}, batchSize: 10, maxAttempts: 3, maxItemBytes: 1024 * 1024, maxBackoff: 300_000 },
    );
    assert.deepEqual(spool.intervals, { busy: 10_000, some: 30_000, idle: 60_000, busyAt: 50 });
  });

  test('rejects unknown keys, bad names and out-of-range batches', () => {
    const base = { name: 'orders', dir: 'x', sink: { url: 'http://127.0.0.1:1' } };
    assert.equal(SpoolSchema.safeParse({ ...base, extra: 1 }).success, false);
    assert.equal(SpoolSchema.safeParse({ ...base, name: 'Orders!' }).success, false);
    assert.equal(SpoolSchema.safeParse({ ...base, batchSize: 101 }).success, false);
    assert.equal(SpoolSchema.safeParse({ ...base, sink: { url: 'ftp://x' } }).success, false);
    assert.throws(
      () => parseConfig(`spools:\n  - ${JSON.stringify(base)}\n  - ${JSON.stringify(base)}\n`, 't.yaml', { baseDir: '/', stateDir: '/s' }),
      /spool name/,
    );
  });
});

describe('spool files', () => {
  test('items list oldest first, with their payloads', async () => {
    const dir = tempDir('spool-order');
    await writeItem(dir, { id: 'b', createdAt: at(2000), payload: { n: 2 } });
    const first = await writeItem(dir, { id: 'a', createdAt: at(1000), payload: { n: 1 } });
    const generated = await writeItem(dir, { createdAt: at(3000), payload: 'three' });
    assert.match(generated.item.id, /^[0-9a-f-]{36}$/);
    const entries = await listPending(dir, 10);
    assert.deepEqual(
      entries.map((e) => (e.ok ? e.item.payload : e.reason)),
      [{ n: 1 }, { n: 2 }, 'three'],
    );
    assert.deepEqual(entries[0], { ok: true, file: first.file, item: { id: 'a', createdAt: '2026-11-23T10:00:01.000Z', payload: { n: 1 } } });
    assert.deepEqual(
      (await listPending(dir, 2)).map((e) => e.ok && e.item.id),
      ['a', 'b'],
    );
    assert.deepEqual(await counts(dir), { pending: 3, failed: 0 });
  });

  test('writing the same id and time twice keeps one item', async () => {
    const dir = tempDir('spool-twice');
    await writeItem(dir, { id: 'x', createdAt: at(0), payload: 1 });
    await writeItem(dir, { id: 'x', createdAt: at(0), payload: 1 });
    assert.deepEqual(await counts(dir), { pending: 1, failed: 0 });
    await assert.rejects(writeItem(dir, { id: '../evil', payload: 1 }));
  });

  test('a half-written temp file is never listed; corrupt, invalid and oversized items are reported, not thrown', async () => {
    const dir = tempDir('spool-bad');
    await writeItem(dir, { id: 'good', createdAt: at(5000), payload: 'ok' });
    const pending = path.join(dir, 'pending');
    writeFileSync(path.join(pending, `.${String(t0).padStart(15, '0')}-half.json.123-ab.tmp`), '{"id":"ha');
    writeFileSync(path.join(pending, `${String(t0 + 1000).padStart(15, '0')}-corrupt.json`), '{"id":"corr');
    writeFileSync(path.join(pending, `${String(t0 + 2000).padStart(15, '0')}-shape.json`), JSON.stringify({ id: 'shape', payload: 1 }));
    writeFileSync(
      path.join(pending, `${String(t0 + 3000).padStart(15, '0')}-other.json`),
      JSON.stringify({ id: 'mismatch', createdAt: at(0).toISOString(), payload: 1 }),
    );
    await writeItem(dir, { id: 'big', createdAt: at(4000), payload: 'x'.repeat(2000) });
    const entries = await listPending(dir, 10, 1000);
    assert.deepEqual(
      entries.map((e) => [e.file.replace(/^\d+-/, ''), e.ok]),
      [
        ['corrupt.json', false],
        ['shape.json', false],
        ['other.json', false],
        ['big.json', false],
        ['good.json', true],
      ],
    );
    const reasons = entries.map((e) => (e.ok ? '' : e.reason));
    assert.match(reasons[0]!, /not valid JSON/);
    assert.match(reasons[1]!, /createdAt/);
    assert.match(reasons[2]!, /does not match/);
    assert.match(reasons[3]!, /maxItemBytes 1000/);
    assert.deepEqual(await counts(dir), { pending: 5, failed: 0 });
  });

  test('attempts count up, and delivery removes the item and its count; removing twice is fine', async () => {
    const dir = tempDir('spool-attempts');
    const { file, item } = await writeItem(dir, { id: 'a1', payload: {} });
    assert.equal(await recordAttempt(dir, item.id, 'sink answered 503'), 1);
    assert.equal(await recordAttempt(dir, item.id, 'timeout'), 2);
    assert.deepEqual(await readAttempts(dir, item.id), { attempts: 2, lastError: 'timeout' });
    await removeDelivered(dir, file);
    await removeDelivered(dir, file);
    assert.deepEqual(await counts(dir), { pending: 0, failed: 0 });
    assert.deepEqual(await readAttempts(dir, item.id), { attempts: 0, lastError: '' });
    await assert.rejects(removeDelivered(dir, '../../etc/passwd'), /not a spool item file name/);
  });

  test('dead-letter moves the item beside a reason (twice is fine), and reset moves it back with a fresh count', async () => {
    const dir = tempDir('spool-dead');
    const { file } = await writeItem(dir, { id: 'd1', createdAt: at(0), payload: { bad: true } });
    await writeItem(dir, { id: 'keep', createdAt: at(1), payload: 1 });
    await recordAttempt(dir, 'd1', 'rejected');
    assert.deepEqual(await deadLetter(dir, file, { failureClass: 'data', reason: 'sink answered 422', attempts: 1 }), { moved: true });
    assert.deepEqual(await deadLetter(dir, file, { failureClass: 'data', reason: 'sink answered 422', attempts: 1 }), { moved: true });
    assert.deepEqual(await counts(dir), { pending: 1, failed: 1 });
    assert.deepEqual(readdirSync(path.join(dir, 'failed')).sort(), [file, file.replace(/\.json$/, '.reason.json')]);
    const reason = JSON.parse(readFileSync(path.join(dir, 'failed', file.replace(/\.json$/, '.reason.json')), 'utf8'));
    assert.deepEqual({ ...reason, failedAt: typeof reason.failedAt }, { failureClass: 'data', reason: 'sink answered 422', attempts: 1, failedAt: 'string' });
    assert.equal((await listFailed(dir))[0]!.reason?.failureClass, 'data');
    assert.equal(existsSync(path.join(dir, 'attempts', 'd1.json')), false);

    await recordAttempt(dir, 'd1', 'stale count');
    assert.equal(await resetFailed(dir), 1);
    assert.equal(await resetFailed(dir), 0);
    assert.deepEqual(await counts(dir), { pending: 2, failed: 0 });
    assert.deepEqual(readdirSync(path.join(dir, 'failed')), []);
    assert.equal((await readAttempts(dir, 'd1')).attempts, 0);
    assert.deepEqual(
      (await listPending(dir, 10)).map((e) => e.ok && e.item.id),
      ['d1', 'keep'],
    );
  });
});

describe('delivery to a real sink', () => {
  let sinkProc: Spawned;
  let base: string;
  let spool: Spool;
  let storeDir: string;

  before(async () => {
    const port = await freePort();
    storeDir = tempDir('sink');
    base = `http://127.0.0.1:${port}`;
    sinkProc = spawnTs('demo/sink.js', { ...process.env, PORT: String(port), STORE_FILE: path.join(storeDir, 'store.json'), FAIL_RATE: '0' });
    await waitFor('demo sink to answer', 10_000, async () => (await httpStatus(`${base}/healthz`)) === 200);
    spool = SpoolSchema.parse({ name: 'orders', dir: path.join(storeDir, 'spool'), sink: { url: base, timeout: '2s' } });
  });

  after(async () => {
    await sinkProc?.stop();
  });

  const received = async () => ((await (await fetch(`${base}/items`)).json()) as { items: Array<{ id: string; payload: unknown }> }).items;

  test('sinkHas before and after; delivering twice leaves one copy', async () => {
    mkdirSync(spool.dir, { recursive: true });
    const { item } = await writeItem(spool.dir, { id: 'order-1', payload: { total: 42 } });
    assert.equal(await sinkHas(spool, item.id), false);
    assert.deepEqual(await deliver(spool, item), { delivered: true, already: false });
    assert.equal(await sinkHas(spool, item.id), true);
    assert.deepEqual(await deliver(spool, item), { delivered: false, already: true });
    const items = await received();
    assert.deepEqual(
      items.filter((i) => i.id === 'order-1').map((i) => i.payload),
      [{ total: 42 }],
    );
    // A raw second POST (a retry that skipped the lookup) is a duplicate, not a second copy.
    const res = await fetch(`${base}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1' },
      body: JSON.stringify(item),
    });
    assert.deepEqual([res.status, await res.json()], [200, { id: 'order-1', duplicate: true }]);
    assert.equal((await received()).filter((i) => i.id === 'order-1').length, 1);
    assert.equal((await sinkHealthy(spool)).healthy, true);
  });

  test('while the sink is down, delivery fails retryably and health says why', async () => {
    await fetch(`${base}/admin/down`, { method: 'POST' });
    try {
      const item = { id: 'order-2', createdAt: new Date().toISOString(), payload: 1 };
      await assert.rejects(deliver(spool, item), (err: unknown) => {
        assert.ok(err instanceof SinkError);
        assert.deepEqual([err.failureClass, err.retryable, err.status], ['resource', true, 503]);
        return true;
      });
      const health = await sinkHealthy(spool);
      assert.deepEqual([health.healthy, health.failureClass], [false, 'resource']);
    } finally {
      await fetch(`${base}/admin/up`, { method: 'POST' });
    }
    assert.deepEqual(await deliver(spool, { id: 'order-2', createdAt: new Date().toISOString(), payload: 1 }), { delivered: true, already: false });
  });

  test('a rejected item is not retryable; an unreachable sink is a retryable network failure', async () => {
    // 5 MB to send and refuse: more time than the 2 s of the other cases, which a loaded box has exceeded.
    const patient = { ...spool, sink: { ...spool.sink, timeout: 20_000 } };
    await assert.rejects(
      deliver(patient, { id: 'bad', createdAt: new Date().toISOString(), payload: 'x'.repeat(5 * 1024 * 1024) }),
      (err: unknown) => err instanceof SinkError && err.status === 413 && err.failureClass === 'data' && !err.retryable,
    );
    const gone = SpoolSchema.parse({ name: 'gone', dir: spool.dir, sink: { url: `http://127.0.0.1:${await freePort()}`, timeout: '1s' } });
    await assert.rejects(sinkHas(gone, 'x'), (err: unknown) => err instanceof SinkError && err.failureClass === 'network' && err.retryable);
    assert.deepEqual([(await sinkHealthy(gone)).healthy, (await sinkHealthy(gone)).failureClass], [false, 'network']);
  });
});
