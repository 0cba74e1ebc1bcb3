/** Checkpoints, moving state aside and cleanup, against real files in temp folders. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cleanState, moveStateAside, runKeyFor } from '../domain/state/aside';
import {
  CheckpointError,
  checkpointId,
  createCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  restoreCheckpoint,
  selectCheckpoint,
  verifyCheckpoint,
} from '../domain/state/checkpoint';
import { globMatcher, walkTree } from '../domain/state/files';
import { parseConfig } from '../core/config';
import type { Component } from '../core/schemas';
import { tempDir } from './helpers';

/** A component parsed from YAML like an operator's config, so every path is resolved against `dir`. */
function componentIn(dir: string, state: Record<string, unknown>): Component {
  const text = `components:
  - id: store
    adapter: { type: process, command: [node, x.js] }
    probe: { type: http, url: "http://127.0.0.1:1/healthz" }
    state: ${JSON.stringify({ checkpointDir: 'checkpoints', asideDir: 'aside', ...state })}
`;
  return parseConfig(text, 'test.yaml', { baseDir: dir, stateDir: path.join(dir, '.mend') }).components[0]!;
}

/** A folder with `data/state.json` as the component's one state file. */
function fileState(prefix: string, content: string | Buffer = '{"version":1}\n'): { dir: string; file: string; component: Component } {
  const dir = tempDir(prefix);
  mkdirSync(path.join(dir, 'data'));
  const file = path.join(dir, 'data', 'state.json');
  writeFileSync(file, content);
  return { dir, file, component: componentIn(dir, { paths: ['data/state.json'] }) };
}

const at = (iso: string) => new Date(iso);

/** Every file under `dir` (recursively) with its content, as relative path -> text. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const abs = path.join(dir, rel);
    if (statSync(abs).isFile()) out[rel] = readFileSync(abs, 'utf8');
  }
  return out;
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('checkpoints', () => {
  test('create, list and verify a checkpoint of a state file', async () => {
    const { component } = fileState('ckpt-basic');
    const info = await createCheckpoint(component, { label: 'before upgrade', now: at('2026-11-23T10:15:00.123Z') });
    assert.equal(info.id, '20261123T101500123Z');
    assert.deepEqual({ files: info.files, totalBytes: info.totalBytes, label: info.label }, { files: 1, totalBytes: 14, label: 'before upgrade' });
    assert.deepEqual(await listCheckpoints(component), [info]);
    assert.deepEqual(await verifyCheckpoint(component, info.id), { ok: true, problems: [] });
    const manifest = JSON.parse(readFileSync(path.join(info.dir, 'manifest.json'), 'utf8'));
    assert.equal(manifest.files[0].source, component.state.paths[0]);
    assert.equal(manifest.files[0].sha256, sha('{"version":1}\n'));
  });

  test('checkpoint ids sort like the times they were made', () => {
    const ids = ['2026-01-02T00:00:00Z', '2025-12-31T23:59:59.999Z', '2026-01-01T12:00:00.5Z'].map((t) => checkpointId(new Date(t)));
    assert.deepEqual([...ids].sort(), [ids[1], ids[2], ids[0]]);
  });

  test('restore after the state file was corrupted writes back the exact bytes, and a second restore changes nothing', async () => {
    // Several 1 MiB chunks, not valid UTF-8: the copy must be byte-exact.
    const original = randomBytes(2.5 * 1024 * 1024);
    const { file, component } = fileState('ckpt-restore', original);
    const info = await createCheckpoint(component);
    writeFileSync(file, 'garbage');
    const first = await restoreCheckpoint(component, info.id);
    assert.deepEqual(first, { restored: [file], bytes: original.length });
    assert.ok(readFileSync(file).equals(original));
    const second = await restoreCheckpoint(component, info.id);
    assert.deepEqual(second, first);
    assert.ok(readFileSync(file).equals(original));
    assert.deepEqual(readdirSync(path.dirname(file)), ['state.json'], 'no temp files left behind');
  });

  test('a restore recreates a deleted state file and its folder', async () => {
    const dir = tempDir('ckpt-recreate');
    mkdirSync(path.join(dir, 'var', 'db'), { recursive: true });
    writeFileSync(path.join(dir, 'var', 'db', 'main.db'), 'rows');
    const component = componentIn(dir, { paths: ['var/db/main.db'] });
    const info = await createCheckpoint(component);
    await moveStateAside(component, 'run-1');
    assert.equal(existsSync(path.join(dir, 'var', 'db', 'main.db')), false);
    await restoreCheckpoint(component, info.id);
    assert.equal(readFileSync(path.join(dir, 'var', 'db', 'main.db'), 'utf8'), 'rows');
  });

  test('large files are copied and hashed in chunks, reporting progress on the way', async () => {
    const size = 8 * 1024 * 1024 + 17;
    const { component } = fileState('ckpt-large', randomBytes(size));
    const chunks: number[] = [];
    const info = await createCheckpoint(component, { onProgress: (bytes) => chunks.push(bytes) });
    assert.equal(info.totalBytes, size);
    assert.ok(chunks.length >= 8, `progress reported ${chunks.length} times`);
    assert.equal(
      chunks.reduce((a, b) => a + b, 0),
      size,
    );
    let hashed = 0;
    await verifyCheckpoint(component, info.id, (bytes) => (hashed += bytes));
    assert.equal(hashed, size);
  });

  test('a folder state path round-trips as a tree: nested files and empty folders, symlinks not followed', async () => {
    const dir = tempDir('ckpt-tree');
    const db = path.join(dir, 'db');
    mkdirSync(path.join(db, 'wal', 'segments'), { recursive: true });
    mkdirSync(path.join(db, 'empty'));
    writeFileSync(path.join(db, 'meta.json'), '{"tables":2}');
    writeFileSync(path.join(db, 'wal', '0001.log'), 'first');
    writeFileSync(path.join(db, 'wal', 'segments', 'a.seg'), 'segment a');
    writeFileSync(path.join(dir, 'outside.txt'), 'not state');
    symlinkSync(path.join(dir, 'outside.txt'), path.join(db, 'link.txt'));
    const component = componentIn(dir, { paths: ['db', 'missing.json'] });
    const before = tree(db);

    const info = await createCheckpoint(component);
    assert.equal(info.files, 3, 'the symlink is not recorded');
    const manifest = JSON.parse(readFileSync(path.join(info.dir, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.skipped, [path.join(db, 'link.txt')]);

    await moveStateAside(component, 'run-1');
    assert.equal(existsSync(db), false);
    const restored = await restoreCheckpoint(component, info.id);
    assert.equal(restored.restored.length, 3);
    delete before['link.txt'];
    assert.deepEqual(tree(db), before);
    assert.ok(statSync(path.join(db, 'empty')).isDirectory(), 'empty folder recreated');
  });

  test('with no state path present, create fails as a resource problem and leaves nothing behind', async () => {
    const dir = tempDir('ckpt-none');
    const component = componentIn(dir, { paths: ['nope.json', 'nodir'] });
    await assert.rejects(
      createCheckpoint(component),
      (err: unknown) => err instanceof CheckpointError && err.failureClass === 'resource' && /no state to checkpoint/.test(err.message),
    );
    assert.deepEqual(readdirSync(component.state.checkpointDir!), [], 'temp folder removed');
  });

  test('create is idempotent for the same id: the second call returns the first checkpoint without copying', async () => {
    const { file, component } = fileState('ckpt-idem', 'first');
    const first = await createCheckpoint(component, { id: 'nightly-1' });
    writeFileSync(file, 'second, longer');
    const second = await createCheckpoint(component, { id: 'nightly-1' });
    assert.deepEqual(second, first);
    assert.equal(readFileSync(path.join(first.dir, 'data', '0-state.json'), 'utf8'), 'first');
    assert.equal((await listCheckpoints(component)).length, 1);
  });

  test('a tampered newer checkpoint is skipped with the file named, and the older one chosen', async () => {
    const { file, component } = fileState('ckpt-tamper');
    const older = await createCheckpoint(component, { now: at('2026-11-20T10:00:00Z') });
    writeFileSync(file, '{"version":2}\n');
    const newer = await createCheckpoint(component, { now: at('2026-11-21T10:00:00Z') });
    writeFileSync(path.join(newer.dir, 'data', '0-state.json'), '{"version":9}\n');

    const { chosen, skipped } = await selectCheckpoint(component, {});
    assert.equal(chosen?.id, older.id);
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]!.id, newer.id);
    assert.match(skipped[0]!.problems.join('\n'), /0-state\.json: changed \(sha256 differs/);
    await assert.rejects(
      restoreCheckpoint(component, newer.id),
      (err: unknown) => err instanceof CheckpointError && err.failureClass === 'data' && /0-state\.json/.test(err.message),
    );
    assert.equal(readFileSync(file, 'utf8'), '{"version":2}\n', 'a refused restore touches nothing');
  });

  test('verify names missing, extra and resized files and a manifest that points outside the state', async () => {
    const dir = tempDir('ckpt-problems');
    mkdirSync(path.join(dir, 'db'));
    writeFileSync(path.join(dir, 'db', 'a'), 'aaa');
    writeFileSync(path.join(dir, 'db', 'b'), 'bbb');
    writeFileSync(path.join(dir, 'db', 'c'), 'ccc');
    const component = componentIn(dir, { paths: ['db'] });
    const info = await createCheckpoint(component);
    const data = path.join(info.dir, 'data', '0-db');
    writeFileSync(path.join(data, 'a'), 'aaaa');
    rmSync(path.join(data, 'c'));
    writeFileSync(path.join(data, 'intruder'), 'x');
    const manifestFile = path.join(info.dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    manifest.files[1].source = '/etc/passwd';
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const { ok, problems } = await verifyCheckpoint(component, info.id);
    assert.equal(ok, false);
    assert.deepEqual(problems, [
      '0-db/a: changed (4 bytes, manifest says 3)',
      `0-db/b: restores to /etc/passwd, outside the state paths of store`,
      '0-db/c: missing',
      '0-db/intruder: not in the manifest',
    ]);

    writeFileSync(manifestFile, '{ not json');
    assert.deepEqual(await verifyCheckpoint(component, info.id), { ok: false, problems: ['manifest.json: not valid JSON'] });
    assert.match((await verifyCheckpoint(component, 'nope')).problems[0]!, /no checkpoint nope/);
    assert.match((await verifyCheckpoint(component, '../escape')).problems[0]!, /not a checkpoint id/);
  });

  test('`before` picks the newest checkpoint created strictly before that time', async () => {
    const { file, component } = fileState('ckpt-before');
    const made = [];
    for (const [i, t] of ['2026-11-20T10:00:00Z', '2026-11-21T10:00:00Z', '2026-11-22T10:00:00Z'].entries()) {
      writeFileSync(file, `v${i}`);
      made.push(await createCheckpoint(component, { now: at(t) }));
    }
    assert.equal((await selectCheckpoint(component, { before: '2026-11-22T09:00:00Z' })).chosen?.id, made[1]!.id);
    assert.equal((await selectCheckpoint(component, { before: '2026-11-21T10:00:00Z' })).chosen?.id, made[0]!.id, 'strictly before');
    assert.equal((await selectCheckpoint(component, { before: '2026-11-23T00:00:00+01:00' })).chosen?.id, made[2]!.id);
    assert.deepEqual(await selectCheckpoint(component, { before: '2026-11-01T00:00:00Z' }), { skipped: [] });
  });

  test('a named id is chosen when it verifies, even if newer ones exist; a tampered or unknown one is not', async () => {
    const { component } = fileState('ckpt-named');
    const a = await createCheckpoint(component, { now: at('2026-11-20T10:00:00Z') });
    const b = await createCheckpoint(component, { now: at('2026-11-21T10:00:00Z') });
    assert.deepEqual(await selectCheckpoint(component, { id: a.id }), { chosen: a, skipped: [] });
    writeFileSync(path.join(a.dir, 'data', '0-state.json'), 'edited');
    const tampered = await selectCheckpoint(component, { id: a.id });
    assert.equal(tampered.chosen, undefined, 'no fallback to another checkpoint when one was named');
    assert.equal(tampered.skipped[0]?.id, a.id);
    assert.match(tampered.skipped[0]!.problems[0]!, /0-state\.json: changed/);
    assert.match((await selectCheckpoint(component, { id: 'nope' })).skipped[0]!.problems[0]!, /no checkpoint nope/);
    assert.equal((await selectCheckpoint(component, {})).chosen?.id, b.id);
  });

  test('list ignores half-written temp folders and folders without a manifest, newest first', async () => {
    const { component } = fileState('ckpt-list');
    const a = await createCheckpoint(component, { now: at('2026-11-20T10:00:00Z') });
    const b = await createCheckpoint(component, { now: at('2026-11-22T10:00:00Z') });
    const root = component.state.checkpointDir!;
    mkdirSync(path.join(root, `.tmp-20261123T000000000Z-99999`, 'data'), { recursive: true });
    writeFileSync(path.join(root, `.tmp-20261123T000000000Z-99999`, 'data', '0-state.json'), 'half');
    mkdirSync(path.join(root, 'no-manifest'));
    writeFileSync(path.join(root, 'stray-file'), '');
    assert.deepEqual(
      (await listCheckpoints(component)).map((c) => c.id),
      [b.id, a.id],
    );
  });

  test('prune keeps the N newest and those younger than maxAge', async () => {
    const { component } = fileState('ckpt-prune');
    const ids = [];
    for (let day = 10; day <= 14; day++) ids.push((await createCheckpoint(component, { now: at(`2026-11-${day}T10:00:00Z`) })).id);
    const now = at('2026-11-15T00:00:00Z');
    const byCount = await pruneCheckpoints(component, { keep: 3, maxAgeMs: 30 * 86_400_000, now });
    assert.deepEqual(byCount, { removed: [ids[1], ids[0]], kept: [ids[4], ids[3], ids[2]], removedTemp: [] });
    const byAge = await pruneCheckpoints(component, { keep: 10, maxAgeMs: 2 * 86_400_000, now });
    assert.deepEqual(byAge, { removed: [ids[2]], kept: [ids[4], ids[3]], removedTemp: [] });
    assert.deepEqual(await pruneCheckpoints(component, { keep: 10, maxAgeMs: 2 * 86_400_000, now }), { removed: [], kept: [ids[4], ids[3]], removedTemp: [] });
    assert.deepEqual(readdirSync(component.state.checkpointDir!).sort(), [ids[3], ids[4]]);
  });

  test('prune never removes the newest checkpoint that verifies, even when it is too old', async () => {
    const { component } = fileState('ckpt-prune-keep');
    const oldest = await createCheckpoint(component, { now: at('2026-10-01T10:00:00Z') });
    const good = await createCheckpoint(component, { now: at('2026-10-02T10:00:00Z') });
    const tampered = await createCheckpoint(component, { now: at('2026-10-03T10:00:00Z') });
    writeFileSync(path.join(tampered.dir, 'data', '0-state.json'), 'edited');
    // Defaults from the config: keep 10, maxAge 7d; all three are weeks old.
    const result = await pruneCheckpoints(component, { now: at('2026-11-23T00:00:00Z') });
    assert.deepEqual(result, { removed: [tampered.id, oldest.id], kept: [good.id], removedTemp: [] });
    assert.equal((await selectCheckpoint(component, {})).chosen?.id, good.id);
  });

  test('prune removes temp folders of creates that crashed over an hour ago, not fresh ones', async () => {
    const { component } = fileState('ckpt-prune-temp');
    await createCheckpoint(component);
    const root = component.state.checkpointDir!;
    const stale = path.join(root, '.tmp-20260101T000000000Z-4242');
    const fresh = path.join(root, '.tmp-20260101T000000001Z-4243');
    for (const dir of [stale, fresh]) {
      mkdirSync(path.join(dir, 'data'), { recursive: true });
      writeFileSync(path.join(dir, 'data', '0-state.json'), 'partial');
    }
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    for (const p of [path.join(stale, 'data', '0-state.json'), path.join(stale, 'data'), stale]) utimesSync(p, twoHoursAgo, twoHoursAgo);
    const result = await pruneCheckpoints(component);
    assert.deepEqual(result.removedTemp, [path.basename(stale)]);
    assert.equal(existsSync(fresh), true);
  });
});

describe('moving state aside', () => {
  test('moves every state path under the run key; a second call moves nothing; recreated state gets its own place', async () => {
    const dir = tempDir('aside');
    mkdirSync(path.join(dir, 'db', 'wal'), { recursive: true });
    writeFileSync(path.join(dir, 'db', 'wal', '1.log'), 'log');
    writeFileSync(path.join(dir, 'state.json'), 'v1');
    const component = componentIn(dir, { paths: ['state.json', 'db', 'never-existed'] });
    const key = runKeyFor('mend/recover/store', '0b5c1f3e-aaaa-bbbb');

    const first = await moveStateAside(component, key);
    const runDir = path.join(dir, 'aside', key);
    assert.equal(first.dir, runDir);
    assert.deepEqual(first.moved, [
      { from: path.join(dir, 'state.json'), to: path.join(runDir, 'state', '0-state.json'), why: 'state' },
      { from: path.join(dir, 'db'), to: path.join(runDir, 'state', '1-db'), why: 'state' },
    ]);
    assert.equal(existsSync(path.join(dir, 'state.json')), false);
    assert.equal(readFileSync(path.join(runDir, 'state', '1-db', 'wal', '1.log'), 'utf8'), 'log');

    assert.deepEqual((await moveStateAside(component, key)).moved, []);

    writeFileSync(path.join(dir, 'state.json'), 'v2');
    const third = await moveStateAside(component, key);
    assert.deepEqual(third.moved, [{ from: path.join(dir, 'state.json'), to: path.join(runDir, 'state', '0-state.json~2'), why: 'state' }]);
    assert.equal(readFileSync(path.join(runDir, 'state', '0-state.json'), 'utf8'), 'v1', 'the first move is not overwritten');
    assert.equal(readFileSync(path.join(runDir, 'moves.jsonl'), 'utf8').trim().split('\n').length, 3);
  });

  test('moves across file systems by copy then remove', { skip: crossDeviceDir() === undefined && 'no second file system (/dev/shm) to move to' }, async () => {
    const dir = tempDir('aside-xdev');
    mkdirSync(path.join(dir, 'db', 'nested'), { recursive: true });
    writeFileSync(path.join(dir, 'db', 'nested', 'rows'), 'rows');
    const asideDir = path.join(crossDeviceDir()!, `mend-aside-${process.pid}-${Date.now()}`);
    const component = componentIn(dir, { paths: ['db'], asideDir });
    try {
      const { moved } = await moveStateAside(component, 'run-x');
      assert.equal(existsSync(path.join(dir, 'db')), false);
      assert.equal(readFileSync(path.join(moved[0]!.to, 'nested', 'rows'), 'utf8'), 'rows');
      assert.deepEqual(readdirSync(path.dirname(moved[0]!.to)), ['0-db'], 'no partial copy left');
    } finally {
      rmSync(asideDir, { recursive: true, force: true });
    }
  });

  test('run keys are safe folder names', () => {
    assert.equal(runKeyFor('mend/recover/api', '0b5c1f3e-1111-2222-3333-444455556666'), 'mend_recover_api-0b5c1f3e');
    assert.equal(runKeyFor('../etc', 'x/y'), '__etc-x_y');
  });

  test('cleanState moves temp files, stale locks and corrupt markers, keeps fresh locks and data', async () => {
    const dir = tempDir('clean');
    const data = path.join(dir, 'data');
    mkdirSync(path.join(data, 'sub'), { recursive: true });
    const files = { 'write.tmp': 'tmp', 'old.lock': 'pid 1', 'fresh.lock': 'pid 2', CORRUPT: 'bad', 'state.json': '{}', 'notes.txt': 'keep' };
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(data, name), content);
    writeFileSync(path.join(data, 'sub', 'inner.tmp'), 'not scanned: cleanup is not recursive');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(path.join(data, 'old.lock'), twoHoursAgo, twoHoursAgo);
    const component = componentIn(dir, { paths: ['data/state.json'], cleanup: { corruptMarkers: ['CORRUPT'] } });
    const before = allContents(dir);

    const { moved } = await cleanState(component, 'run-1');
    const cleanupDir = path.join(dir, 'aside', 'run-1', 'cleanup');
    assert.deepEqual(
      moved.map((m) => [path.basename(m.from), m.why, m.to]),
      [
        ['CORRUPT', 'corrupt-marker', path.join(cleanupDir, 'CORRUPT')],
        ['old.lock', 'stale-lock', path.join(cleanupDir, 'old.lock')],
        ['write.tmp', 'temp', path.join(cleanupDir, 'write.tmp')],
      ],
    );
    assert.deepEqual(readdirSync(data).sort(), ['fresh.lock', 'notes.txt', 'state.json', 'sub']);
    assert.deepEqual((await cleanState(component, 'run-1')).moved, [], 'a second call moves nothing');
    assert.deepEqual(allContents(dir), before, 'nothing deleted: every file is still somewhere under the folder');
  });

  test('nothing is deleted across a whole aside-and-clean pass, even when names collide', async () => {
    const dir = tempDir('aside-keep');
    mkdirSync(path.join(dir, 'a'));
    mkdirSync(path.join(dir, 'b'));
    writeFileSync(path.join(dir, 'a', 'x.tmp'), 'from a');
    writeFileSync(path.join(dir, 'b', 'x.tmp'), 'from b');
    writeFileSync(path.join(dir, 'a', 'state.db'), 'state');
    const component = componentIn(dir, { paths: ['a/state.db'], cleanup: { dirs: ['a', 'b'] } });
    const before = allContents(dir);
    await moveStateAside(component, 'run-2');
    const { moved } = await cleanState(component, 'run-2');
    assert.deepEqual(
      moved.map((m) => path.basename(m.to)),
      ['x.tmp', 'x.tmp~2'],
    );
    assert.deepEqual(allContents(dir), before);
    assert.deepEqual(readdirSync(path.join(dir, 'a')), []);
  });
});

test('glob matcher: * and ? on base names, everything else literal', () => {
  const tmp = globMatcher('*.tmp');
  assert.equal(tmp('a.tmp'), true);
  assert.equal(tmp('.hidden.tmp'), true);
  assert.equal(tmp('a.tmpx'), false);
  assert.equal(tmp('atmp'), false);
  assert.equal(globMatcher('lock.?')('lock.1'), true);
  assert.equal(globMatcher('lock.?')('lock.12'), false);
  assert.equal(globMatcher('[a].(b)+')('[a].(b)+'), true);
  assert.equal(globMatcher('[a].(b)+')('a.b'), false);
  assert.equal(globMatcher('*')('sub/file'), false, 'a base name glob never crosses a folder');
});

test('glob matcher: any name without wildcards matches only itself, * any run, ? exactly one character', () => {
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((c) => !'*?/'.includes(c));
  const name = fc.string({ unit: fc.constantFrom(...printable, 'é', '字'), minLength: 1, maxLength: 10 });
  const run = fc.string({ unit: fc.constantFrom(...printable), maxLength: 5 });
  fc.assert(
    fc.property(name, name, (glob, other) => globMatcher(glob)(glob) && globMatcher(glob)(other) === (glob === other)),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(name, run, name, (head, middle, tail) => globMatcher(`${head}*${tail}`)(head + middle + tail)),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      name,
      fc.constantFrom(...printable),
      (head, one) => globMatcher(`${head}?`)(head + one) && !globMatcher(`${head}?`)(head) && !globMatcher(`${head}?`)(head + one + one),
    ),
    { numRuns: 2000 },
  );
});

test('walkTree: the root first, then depth first in byte order, symlinks not followed; a missing root yields nothing', async () => {
  const root = path.join(tempDir('walk'), 'tree');
  mkdirSync(path.join(root, 'b', 'empty'), { recursive: true });
  writeFileSync(path.join(root, 'b', 'z.txt'), 'z');
  writeFileSync(path.join(root, 'a.txt'), 'a');
  writeFileSync(path.join(root, 'B.txt'), 'B');
  symlinkSync(path.join(root, 'b'), path.join(root, 'link'));
  const seen: string[] = [];
  for await (const entry of walkTree(root)) seen.push(`${entry.kind}:${entry.rel}`);
  assert.deepEqual(seen, ['dir:', 'file:B.txt', 'file:a.txt', 'dir:b', 'dir:b/empty', 'file:b/z.txt', 'other:link']);
  const none: string[] = [];
  for await (const entry of walkTree(path.join(root, 'missing'))) none.push(entry.rel);
  assert.deepEqual(none, []);
});

/** Sorted contents of every file under `dir` except the moves log: unchanged as long as nothing is deleted. */
function allContents(dir: string): string[] {
  return Object.entries(tree(dir))
    .filter(([rel]) => path.basename(rel) !== 'moves.jsonl')
    .map(([, content]) => content)
    .sort();
}

function crossDeviceDir(): string | undefined {
  try {
    return statSync('/dev/shm').dev !== statSync(os.tmpdir()).dev ? '/dev/shm' : undefined;
  } catch {
    return undefined;
  }
}
