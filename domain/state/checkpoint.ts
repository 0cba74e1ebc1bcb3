/**
 * Checkpoints of a component's state: a copy of its state paths with a manifest of sha256 hashes.
 * A checkpoint is built in `<checkpointDir>/.tmp-<id>-<pid>` and renamed into place, so a folder
 * named like a checkpoint is either complete or absent. Layout of `<checkpointDir>/<id>`:
 *
 *   manifest.json                     what was copied from where, with sizes and hashes
 *   data/<index>-<basename>[/...]     state path number <index> of the config (a file or a tree)
 *
 * Symlinks are not followed and not recorded (their paths are listed in the manifest's `skipped`).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ManifestSchema, type CheckpointDir, type CheckpointFile, type CheckpointManifest } from '../../core/checkpoint';
import type { Component } from '../../core/schemas';
import { copyHashing, errnoCode, fsyncDir, hashFile, lstatIfExists, walkTree, writeFileSynced } from './files';

export interface CheckpointInfo {
  id: string;
  createdAt: string;
  label?: string;
  totalBytes: number;
  files: number;
  /** Absolute path of the checkpoint folder. */
  dir: string;
}

/** Why a checkpoint operation failed; `data` means a bad or tampered checkpoint (retrying will not help). */
export class CheckpointError extends Error {
  constructor(
    message: string,
    readonly failureClass: 'data' | 'resource' | 'unknown',
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const MANIFEST = 'manifest.json';
const DATA = 'data';
const TEMP_PREFIX = '.tmp-';
/** Prune-in-progress folders; only pruning makes them, so any found are finished off. */
const DELETING_PREFIX = '.deleting-';
/** A create's temp folder older than this is left from a crash (a live create keeps writing into it). */
const STALE_TEMP_MS = 3_600_000;
/** Ids are folder names: no separators, no leading dot (dot folders are temp and prune folders). */
const ID_RE = /^[\w-][\w.-]{0,99}$/;

/** A sortable id from a time: 2026-11-23T10:15:00.123Z -> "20261123T101500123Z". */
export function checkpointId(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function checkpointRoot(component: Component): string {
  const dir = component.state.checkpointDir;
  if (!dir) throw new CheckpointError(`${component.id}: state.checkpointDir was not resolved (load the config with parseConfig)`, 'unknown');
  return dir;
}

function assertId(id: string): void {
  if (!ID_RE.test(id))
    throw new CheckpointError(`${JSON.stringify(id)} is not a checkpoint id (letters, digits, "_", "-", "."; not starting with ".")`, 'data');
}

/** Errors worth a retry once space or descriptors free up are `resource`; the rest pass through. */
function classify(err: unknown, what: string): unknown {
  if (err instanceof CheckpointError) return err;
  const code = errnoCode(err);
  if (code && ['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'ENOMEM'].includes(code)) {
    return new CheckpointError(`${what}: ${code} (${(err as Error).message})`, 'resource');
  }
  return err;
}

type ManifestRead = { manifest: CheckpointManifest } | { problem: string };

async function readManifest(dir: string): Promise<ManifestRead> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, MANIFEST), 'utf8');
  } catch (err) {
    return { problem: `${MANIFEST}: ${errnoCode(err) === 'ENOENT' ? 'missing' : `unreadable (${errnoCode(err) ?? String(err)})`}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problem: `${MANIFEST}: not valid JSON` };
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problem: `${MANIFEST}: invalid (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'bad shape'})` };
  }
  return { manifest: parsed.data };
}

function infoOf(manifest: CheckpointManifest, id: string, dir: string): CheckpointInfo {
  return {
    id,
    createdAt: manifest.createdAt,
    ...(manifest.label !== undefined && { label: manifest.label }),
    totalBytes: manifest.totalBytes,
    files: manifest.files.length,
    dir,
  };
}

async function readInfo(root: string, id: string): Promise<CheckpointInfo | undefined> {
  const dir = path.join(root, id);
  const read = await readManifest(dir);
  return 'manifest' in read ? infoOf(read.manifest, id, dir) : undefined;
}

/**
 * Copies every existing state path into a new checkpoint. State paths that do not exist are
 * skipped; when none exists the error is `resource` ("no state to checkpoint").
 * Safe to run twice: a folder named `<id>` only ever appears by renaming a complete temp folder,
 * so when one with a readable manifest is there, the earlier run finished and it is returned as is.
 * `onProgress` gets the bytes of each chunk copied.
 */
export async function createCheckpoint(
  component: Component,
  opts: { id?: string; label?: string; now?: Date; onProgress?: (bytes: number) => void } = {},
): Promise<CheckpointInfo> {
  const now = opts.now ?? new Date();
  const id = opts.id ?? checkpointId(now);
  assertId(id);
  const root = checkpointRoot(component);
  const final = path.join(root, id);
  const existing = await readInfo(root, id);
  if (existing) return existing;
  if (await lstatIfExists(final)) throw new CheckpointError(`checkpoint ${id} of ${component.id}: ${final} exists without a readable ${MANIFEST}`, 'data');

  const temp = path.join(root, `${TEMP_PREFIX}${id}-${process.pid}`);
  // Only an interrupted create of this same id in this same process can have left this folder.
  await fs.rm(temp, { recursive: true, force: true });
  try {
    await fs.mkdir(path.join(temp, DATA), { recursive: true });
    const files: CheckpointFile[] = [];
    const dirs: CheckpointDir[] = [];
    const skipped: string[] = [];
    let found = 0;

    for (const [index, statePath] of component.state.paths.entries()) {
      const prefix = `${index}-${path.basename(statePath)}`;
      let seen = false;
      for await (const entry of walkTree(statePath)) {
        const rel = entry.rel ? path.posix.join(prefix, entry.rel) : prefix;
        // The state path itself counts as state only when it is a file or a folder.
        if (entry.rel === '' && entry.kind !== 'other') seen = true;
        if (entry.kind === 'dir') {
          await fs.mkdir(path.join(temp, DATA, rel), { recursive: true });
          dirs.push({ path: rel, source: entry.abs });
        } else if (entry.kind === 'file') {
          try {
            const { size, sha256 } = await copyHashing(entry.abs, path.join(temp, DATA, rel), opts.onProgress);
            files.push({ path: rel, source: entry.abs, size, sha256 });
          } catch (err) {
            // Removed between listing and copying: the checkpoint is of what was there.
            if (errnoCode(err) !== 'ENOENT') throw err;
            skipped.push(entry.abs);
          }
        } else {
          skipped.push(entry.abs);
        }
      }
      if (seen) found++;
    }
    if (found === 0) {
      const why =
        skipped.length > 0
          ? ` (only symlinks or special files: ${skipped.join(', ')})`
          : ` (none of ${component.state.paths.join(', ') || 'no state paths configured'} exists)`;
      throw new CheckpointError(`${component.id}: no state to checkpoint${why}`, 'resource');
    }

    const manifest: CheckpointManifest = {
      id,
      component: component.id,
      createdAt: now.toISOString(),
      ...(opts.label !== undefined && { label: opts.label }),
      files,
      totalBytes: files.reduce((sum, f) => sum + f.size, 0),
      dirs,
      ...(skipped.length > 0 && { skipped }),
    };
    await writeFileSynced(path.join(temp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    await fsyncDir(path.join(temp, DATA));
    await fsyncDir(temp);
    try {
      await fs.rename(temp, final);
    } catch (err) {
      // A concurrent create of the same id finished first: its checkpoint stands.
      const winner = ['ENOTEMPTY', 'EEXIST'].includes(errnoCode(err) ?? '') ? await readInfo(root, id) : undefined;
      if (!winner) throw err;
      await fs.rm(temp, { recursive: true, force: true });
      return winner;
    }
    await fsyncDir(root);
    return infoOf(manifest, id, final);
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw classify(err, `checkpoint ${id} of ${component.id}`);
  }
}

/**
 * Complete checkpoints, newest first (by createdAt, then id). Temp folders of creates still
 * running or crashed, and folders without a readable manifest, are left out.
 */
export async function listCheckpoints(component: Component): Promise<CheckpointInfo[]> {
  const root = checkpointRoot(component);
  let entries;
  try {
    entries = await fs.readdir(root, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const infos: CheckpointInfo[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !ID_RE.test(entry.name)) continue;
    const info = await readInfo(root, entry.name);
    if (info) infos.push(info);
  }
  return infos.sort(newestFirst);
}

function newestFirst(a: CheckpointInfo, b: CheckpointInfo): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

/** Latest mtime of anything in a tree: a create still copying a big file keeps it fresh. */
async function newestMtime(root: string): Promise<number | undefined> {
  let newest: number | undefined;
  for await (const entry of walkTree(root)) {
    const stat = await lstatIfExists(entry.abs);
    if (stat) newest = Math.max(newest ?? 0, stat.mtimeMs);
  }
  return newest;
}

/**
 * Re-hashes every file of a checkpoint against its manifest. Problems name the file: missing,
 * changed (size or sha256), not a regular file, not in the manifest, or a manifest that is
 * unreadable, invalid, of another component, or restores outside the component's state paths.
 * Read-only. `onProgress` gets the bytes of each chunk hashed.
 */
export async function verifyCheckpoint(component: Component, id: string, onProgress?: (bytes: number) => void): Promise<{ ok: boolean; problems: string[] }> {
  if (!ID_RE.test(id)) return { ok: false, problems: [`${JSON.stringify(id)} is not a checkpoint id`] };
  const dir = path.join(checkpointRoot(component), id);
  if (!(await lstatIfExists(dir))?.isDirectory()) return { ok: false, problems: [`no checkpoint ${id} in ${path.dirname(dir)}`] };
  const read = await readManifest(dir);
  if ('problem' in read) return { ok: false, problems: [read.problem] };
  const { manifest } = read;
  const problems: string[] = [];
  if (manifest.id !== id) problems.push(`${MANIFEST}: names checkpoint ${JSON.stringify(manifest.id)}, not ${JSON.stringify(id)}`);
  if (manifest.component !== component.id)
    problems.push(`${MANIFEST}: made for component ${JSON.stringify(manifest.component)}, not ${JSON.stringify(component.id)}`);
  const total = manifest.files.reduce((sum, f) => sum + f.size, 0);
  if (total !== manifest.totalBytes) problems.push(`${MANIFEST}: totalBytes ${manifest.totalBytes} but the files add up to ${total}`);

  const dataDir = path.join(dir, DATA);
  const inData = (rel: string) => !path.isAbsolute(rel) && isInside(path.resolve(dataDir, rel), dataDir) && path.resolve(dataDir, rel) !== dataDir;
  const inState = (source: string) => path.isAbsolute(source) && component.state.paths.some((root) => isInside(path.normalize(source), root));
  for (const d of manifest.dirs ?? []) {
    if (!inData(d.path)) problems.push(`${d.path}: folder path leaves the checkpoint`);
    else if (!inState(d.source)) problems.push(`${d.path}: restores to ${d.source}, outside the state paths of ${component.id}`);
    else if (!(await lstatIfExists(path.join(dataDir, d.path)))?.isDirectory()) problems.push(`${d.path}: folder missing`);
  }
  const listed = new Set<string>();
  for (const file of manifest.files) {
    listed.add(path.posix.normalize(file.path));
    if (!inData(file.path)) {
      problems.push(`${file.path}: path leaves the checkpoint`);
      continue;
    }
    if (!inState(file.source)) {
      problems.push(`${file.path}: restores to ${file.source}, outside the state paths of ${component.id}`);
      continue;
    }
    const abs = path.join(dataDir, file.path);
    const stat = await lstatIfExists(abs);
    if (!stat) {
      problems.push(`${file.path}: missing`);
      continue;
    }
    if (!stat.isFile()) {
      problems.push(`${file.path}: not a regular file`);
      continue;
    }
    if (stat.size !== file.size) {
      problems.push(`${file.path}: changed (${stat.size} bytes, manifest says ${file.size})`);
      continue;
    }
    const { sha256 } = await hashFile(abs, onProgress);
    if (sha256 !== file.sha256) problems.push(`${file.path}: changed (sha256 differs from the manifest)`);
  }
  for await (const entry of walkTree(dataDir))
    if (entry.rel !== '' && entry.kind !== 'dir' && !listed.has(entry.rel)) problems.push(`${entry.rel}: not in the manifest`);
  return { ok: problems.length === 0, problems };
}

/**
 * Chooses the checkpoint to restore: the named one if it verifies, otherwise the newest that
 * verifies (created strictly before `before` when given). Every one tried that did not verify is
 * in `skipped` with its problems. Read-only.
 */
export async function selectCheckpoint(
  component: Component,
  opts: { id?: string; before?: string },
  onProgress?: (bytes: number) => void,
): Promise<{ chosen?: CheckpointInfo; skipped: Array<{ id: string; problems: string[] }> }> {
  const root = checkpointRoot(component);
  if (opts.id !== undefined) {
    const { ok, problems } = await verifyCheckpoint(component, opts.id, onProgress);
    const info = ok ? await readInfo(root, opts.id) : undefined;
    return info ? { chosen: info, skipped: [] } : { skipped: [{ id: opts.id, problems }] };
  }
  let candidates = await listCheckpoints(component);
  if (opts.before !== undefined) {
    const limit = Date.parse(opts.before);
    if (Number.isNaN(limit)) throw new CheckpointError(`before: ${JSON.stringify(opts.before)} is not an ISO 8601 time`, 'data');
    candidates = candidates.filter((c) => Date.parse(c.createdAt) < limit);
  }
  const skipped: Array<{ id: string; problems: string[] }> = [];
  for (const candidate of candidates) {
    const { ok, problems } = await verifyCheckpoint(component, candidate.id, onProgress);
    if (ok) return { chosen: candidate, skipped };
    skipped.push({ id: candidate.id, problems });
  }
  return { skipped };
}

/**
 * Writes every file of a verified checkpoint back to its source path (temp file in the same
 * folder, fsync, rename), recreating folders; files in the state that are not in the checkpoint
 * are left alone (move the current state aside first for an exact tree).
 * Safe to run twice: each run writes the same verified bytes to the same paths, each file atomically.
 */
export async function restoreCheckpoint(
  component: Component,
  id: string,
  onProgress?: (bytes: number) => void,
): Promise<{ restored: string[]; bytes: number }> {
  const { ok, problems } = await verifyCheckpoint(component, id, onProgress);
  if (!ok) throw new CheckpointError(`checkpoint ${id} of ${component.id} does not verify: ${problems.join('; ')}`, 'data');
  const dir = path.join(checkpointRoot(component), id);
  const read = await readManifest(dir);
  if ('problem' in read) throw new CheckpointError(`checkpoint ${id} of ${component.id}: ${read.problem}`, 'data');
  const { manifest } = read;
  const dataDir = path.join(dir, DATA);
  const touched = new Set<string>();
  try {
    for (const d of manifest.dirs ?? []) await fs.mkdir(d.source, { recursive: true });
    const restored: string[] = [];
    let bytes = 0;
    for (const file of manifest.files) {
      const parent = path.dirname(file.source);
      await fs.mkdir(parent, { recursive: true });
      const temp = `${file.source}.mend-restore.tmp`;
      try {
        const copy = await copyHashing(path.join(dataDir, file.path), temp, onProgress);
        if (copy.sha256 !== file.sha256) throw new CheckpointError(`checkpoint ${id} of ${component.id}: ${file.path} changed while restoring`, 'data');
        await fs.rename(temp, file.source);
      } catch (err) {
        await fs.rm(temp, { force: true }).catch(() => undefined);
        throw err;
      }
      touched.add(parent);
      restored.push(file.source);
      bytes += file.size;
    }
    for (const parent of touched) await fsyncDir(parent);
    return { restored, bytes };
  } catch (err) {
    throw classify(err, `restore ${id} of ${component.id}`);
  }
}

/**
 * Removes checkpoints beyond the `keep` newest and those older than `maxAgeMs` (defaults: the
 * component's state.keep and state.maxAge), but never the newest checkpoint that verifies; also
 * removes temp folders of creates that crashed over an hour ago.
 * Safe to run twice: the second run finds only what the first kept. A checkpoint is renamed to a
 * `.deleting-` folder before removal, so an interrupted prune never leaves a half checkpoint listed.
 */
export async function pruneCheckpoints(
  component: Component,
  opts: { keep?: number; maxAgeMs?: number; now?: Date } = {},
): Promise<{ removed: string[]; kept: string[]; removedTemp: string[] }> {
  const root = checkpointRoot(component);
  const keep = opts.keep ?? component.state.keep;
  const maxAgeMs = opts.maxAgeMs ?? component.state.maxAge;
  const now = (opts.now ?? new Date()).getTime();
  const all = await listCheckpoints(component);
  let protectedId: string | undefined;
  for (const candidate of all) {
    if ((await verifyCheckpoint(component, candidate.id)).ok) {
      protectedId = candidate.id;
      break;
    }
  }
  const removed: string[] = [];
  const kept: string[] = [];
  for (const [index, info] of all.entries()) {
    const tooMany = index >= keep;
    const tooOld = now - Date.parse(info.createdAt) > maxAgeMs;
    if (info.id === protectedId || (!tooMany && !tooOld)) {
      kept.push(info.id);
      continue;
    }
    const deleting = path.join(root, `${DELETING_PREFIX}${info.id}`);
    await fs.rm(deleting, { recursive: true, force: true });
    await fs.rename(info.dir, deleting);
    await fs.rm(deleting, { recursive: true, force: true });
    removed.push(info.id);
  }

  const removedTemp: string[] = [];
  let entries: string[] = [];
  try {
    entries = await fs.readdir(root);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  for (const name of entries) {
    const abs = path.join(root, name);
    if (name.startsWith(DELETING_PREFIX)) {
      await fs.rm(abs, { recursive: true, force: true });
    } else if (name.startsWith(TEMP_PREFIX)) {
      const lastWrite = await newestMtime(abs);
      if (lastWrite !== undefined && now - lastWrite > STALE_TEMP_MS) {
        await fs.rm(abs, { recursive: true, force: true });
        removedTemp.push(name);
      }
    }
  }
  if (removed.length > 0 || removedTemp.length > 0) await fsyncDir(root);
  return { removed, kept, removedTemp };
}
