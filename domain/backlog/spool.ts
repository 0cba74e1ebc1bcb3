/**
 * A backlog spool on disk: items wait in `<dir>/pending/` (oldest first by file name) until a sink
 * takes them; items that keep failing move to `<dir>/failed/` beside a `.reason.json` saying why.
 *
 *   pending/<createdAtMs, 15 digits>-<id>.json    {id, createdAt, payload}
 *   failed/<same name>.json + <same stem>.reason.json   {failureClass, reason, attempts, failedAt}
 *   attempts/<id>.json                            {attempts, lastError}
 *
 * Every file appears by rename of a temp file in the same folder; temp names start with "." and
 * readers skip them, so a reader never sees half an item. Ids have no dots, so an item's name can
 * never be mistaken for a reason file.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FailureClass } from '../../core/failure';
import { ITEM_ID_RE, SpoolItemSchema, type SpoolItem } from '../../core/spool';
import { errnoCode, fsyncDir, writeFileSynced } from '../state/files';

const ITEM_FILE_RE = /^(\d{15})-([A-Za-z0-9][A-Za-z0-9_-]{0,127})\.json$/;
export const DEFAULT_MAX_ITEM_BYTES = 1024 * 1024;

export type PendingEntry = { ok: true; file: string; item: SpoolItem } | { ok: false; file: string; reason: string };

export interface FailedReason {
  failureClass: FailureClass;
  reason: string;
  attempts: number;
  failedAt: string;
}

export interface AttemptRecord {
  attempts: number;
  lastError: string;
}

const pendingDir = (dir: string) => path.join(dir, 'pending');
const failedDir = (dir: string) => path.join(dir, 'failed');
const attemptsFile = (dir: string, id: string) => path.join(dir, 'attempts', `${id}.json`);
const reasonName = (file: string) => file.replace(/\.json$/, '.reason.json');

/** `<createdAtMs padded>-<id>.json`: names sort like creation times. */
export function itemFileName(item: Pick<SpoolItem, 'id' | 'createdAt'>): string {
  return `${String(Date.parse(item.createdAt)).padStart(15, '0')}-${item.id}.json`;
}

/** The id in an item file name; throws for anything that is not one (no paths, no temp files). */
function idOfFile(file: string): string {
  const match = ITEM_FILE_RE.exec(file);
  if (!match) throw new Error(`not a spool item file name: ${JSON.stringify(file)}`);
  return match[2]!;
}

/** Writes `text` to `file` via a dot-named temp file in the same folder, fsync and rename. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFileSynced(tmp, text);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Names in a folder that readers see: no temp (dot) files; a missing folder is empty. */
async function visibleNames(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).filter((name) => !name.startsWith('.')).sort();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** Renames, answering false when the source is not there. */
async function renameIfExists(from: string, to: string): Promise<boolean> {
  try {
    await fs.rename(from, to);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Adds an item to pending/ and returns it; `id` defaults to a random UUID, `createdAt` to now.
 * Safe to run twice: with the same id and createdAt the same file is written again (the rename
 * replaces it whole); callers that retry pass an id so a retry does not add a second item.
 */
export async function writeItem(dir: string, input: { id?: string; createdAt?: Date | string; payload: unknown }): Promise<{ file: string; item: SpoolItem }> {
  const createdAt = input.createdAt === undefined ? new Date() : new Date(input.createdAt);
  if (Number.isNaN(createdAt.getTime())) throw new Error(`invalid createdAt ${JSON.stringify(input.createdAt)}`);
  const item = SpoolItemSchema.parse({ id: input.id ?? randomUUID(), createdAt: createdAt.toISOString(), payload: input.payload });
  const file = itemFileName(item);
  await writeAtomic(path.join(pendingDir(dir), file), JSON.stringify(item));
  return { file, item };
}

/**
 * Up to `limit` pending items, oldest first, leaving out the files named in `skip`. A file that is too large, not JSON, not an item or
 * not matching its name is reported `ok: false` (for dead-lettering), never thrown.
 */
export async function listPending(
  dir: string,
  limit: number,
  maxItemBytes = DEFAULT_MAX_ITEM_BYTES,
  skip: ReadonlySet<string> = new Set(),
): Promise<PendingEntry[]> {
  const entries: PendingEntry[] = [];
  for (const file of await visibleNames(pendingDir(dir))) {
    if (entries.length >= limit) break;
    if (!file.endsWith('.json') || skip.has(file)) continue;
    const entry = await readEntry(path.join(pendingDir(dir), file), file, maxItemBytes);
    if (entry) entries.push(entry);
  }
  return entries;
}

async function readEntry(full: string, file: string, maxItemBytes: number): Promise<PendingEntry | undefined> {
  const match = ITEM_FILE_RE.exec(file);
  if (!match) return { ok: false, file, reason: 'file name is not <createdAtMs>-<id>.json' };
  let text: string;
  try {
    const { size } = await fs.stat(full);
    if (size > maxItemBytes) return { ok: false, file, reason: `item is ${size} bytes, more than maxItemBytes ${maxItemBytes}` };
    text = await fs.readFile(full, 'utf8');
  } catch (err) {
    // Delivered (or dead-lettered) by someone else since the listing.
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, file, reason: `not valid JSON: ${(err as Error).message}` };
  }
  const parsed = SpoolItemSchema.safeParse(raw);
  if (!parsed.success)
    return { ok: false, file, reason: `not a spool item: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  if (parsed.data.id !== match[2]) return { ok: false, file, reason: `item id ${JSON.stringify(parsed.data.id)} does not match its file name` };
  return { ok: true, file, item: parsed.data };
}

/** Forgets a delivered item and its attempt count. Safe to run twice: missing files are fine. */
export async function removeDelivered(dir: string, file: string): Promise<void> {
  const id = idOfFile(file);
  await fs.rm(path.join(pendingDir(dir), file), { force: true });
  await fs.rm(attemptsFile(dir, id), { force: true });
}

/** The attempt record of an item, zero attempts when there is none (or it is unreadable). */
export async function readAttempts(dir: string, id: string): Promise<AttemptRecord> {
  try {
    const record = JSON.parse(await fs.readFile(attemptsFile(dir, id), 'utf8')) as Partial<AttemptRecord>;
    return { attempts: Number.isInteger(record.attempts) ? record.attempts! : 0, lastError: String(record.lastError ?? '') };
  } catch {
    return { attempts: 0, lastError: '' };
  }
}

/**
 * Counts one more failed delivery of item `id` and returns the new count. Not a no-op when run
 * twice: a retried call counts one extra attempt, which at worst dead-letters an item one try early.
 */
export async function recordAttempt(dir: string, id: string, error: string): Promise<number> {
  if (!ITEM_ID_RE.test(id)) throw new Error(`not an item id: ${JSON.stringify(id)}`);
  const attempts = (await readAttempts(dir, id)).attempts + 1;
  await writeAtomic(attemptsFile(dir, id), JSON.stringify({ attempts, lastError: error.slice(0, 2000) } satisfies AttemptRecord));
  return attempts;
}

/**
 * Moves a pending item to failed/ beside a reason file. Safe to run twice: the reason is rewritten
 * whole, and an item already in failed/ (pending one gone) counts as moved.
 */
export async function deadLetter(dir: string, file: string, why: Omit<FailedReason, 'failedAt'>): Promise<{ moved: boolean }> {
  // A misnamed file in pending/ is dead-lettered too (it has no attempt record); a path never is.
  if (file !== path.basename(file) || file.startsWith('.') || !file.endsWith('.json')) throw new Error(`not a spool file name: ${JSON.stringify(file)}`);
  const id = ITEM_FILE_RE.exec(file)?.[2];
  const reason: FailedReason = { ...why, reason: why.reason.slice(0, 2000), failedAt: new Date().toISOString() };
  // The reason first: a crash between the two leaves a pending item with a stale reason, never a
  // failed item without one. A later dead-letter rewrites it, a reset removes it.
  await writeAtomic(path.join(failedDir(dir), reasonName(file)), JSON.stringify(reason, null, 2));
  let moved = await renameIfExists(path.join(pendingDir(dir), file), path.join(failedDir(dir), file));
  if (!moved) moved = (await visibleNames(failedDir(dir))).includes(file);
  await fsyncDir(failedDir(dir));
  if (id) await fs.rm(attemptsFile(dir, id), { force: true });
  return { moved };
}

/** Failed items with their reasons, oldest first. */
export async function listFailed(dir: string): Promise<Array<{ file: string; reason?: FailedReason }>> {
  const names = await visibleNames(failedDir(dir));
  const out: Array<{ file: string; reason?: FailedReason }> = [];
  for (const file of names.filter((n) => n.endsWith('.json') && !n.endsWith('.reason.json'))) {
    let reason: FailedReason | undefined;
    try {
      reason = JSON.parse(await fs.readFile(path.join(failedDir(dir), reasonName(file)), 'utf8')) as FailedReason;
    } catch {
      reason = undefined;
    }
    out.push({ file, reason });
  }
  return out;
}

/**
 * Moves every failed item back to pending/ with a fresh attempt count and returns how many moved.
 * Safe to run twice: a second run finds nothing left to move (and removes orphaned reason files).
 */
export async function resetFailed(dir: string): Promise<number> {
  const names = await visibleNames(failedDir(dir));
  const items = names.filter((n) => n.endsWith('.json') && !n.endsWith('.reason.json'));
  let count = 0;
  for (const file of items) {
    const match = ITEM_FILE_RE.exec(file);
    if (match) await fs.rm(attemptsFile(dir, match[2]!), { force: true });
    await fs.mkdir(pendingDir(dir), { recursive: true });
    if (await renameIfExists(path.join(failedDir(dir), file), path.join(pendingDir(dir), file))) count++;
    await fs.rm(path.join(failedDir(dir), reasonName(file)), { force: true });
  }
  // Reasons left by a crash between the move and the removal above (or before a dead-letter's move).
  const itemSet = new Set(items);
  for (const name of names.filter((n) => n.endsWith('.reason.json'))) {
    if (!itemSet.has(name.replace(/\.reason\.json$/, '.json'))) await fs.rm(path.join(failedDir(dir), name), { force: true });
  }
  if (count > 0) await fsyncDir(pendingDir(dir));
  return count;
}

/** How many items wait in pending/ and sit in failed/. */
export async function counts(dir: string): Promise<{ pending: number; failed: number }> {
  const pending = (await visibleNames(pendingDir(dir))).filter((n) => n.endsWith('.json')).length;
  const failed = (await visibleNames(failedDir(dir))).filter((n) => n.endsWith('.json') && !n.endsWith('.reason.json')).length;
  return { pending, failed };
}
