/**
 * File helpers shared by checkpoints and moving state aside: a tree walk, copies that hash while
 * they stream, fsync, moves that never overwrite, and a glob matcher for base names.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';

/** Read size of streamed copies and hashes: memory stays flat whatever the file size. */
const CHUNK_BYTES = 1024 * 1024;

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as NodeJS.ErrnoException).code) : undefined;
}

/** lstat that answers undefined for a path that is not there (or whose parent is not a folder). */
export async function lstatIfExists(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** One entry of a walked tree: `rel` is its posix path under the root ('' for the root itself). */
export interface TreeEntry {
  abs: string;
  rel: string;
  /** Symlinks are never followed: they are `other`, like sockets and devices. */
  kind: 'dir' | 'file' | 'other';
}

/**
 * Every entry of the tree at `root`, the root first, then depth first with names in byte order
 * (so whatever is built from a walk comes out the same each time). A root that is not there
 * yields nothing; a folder that vanishes mid-walk is taken as empty.
 */
export async function* walkTree(root: string): AsyncGenerator<TreeEntry> {
  const stat = await lstatIfExists(root);
  if (!stat) return;
  yield { abs: root, rel: '', kind: kindOf(stat) };
  if (stat.isDirectory()) yield* walkFolder(root, '');
}

/** From lstat or a Dirent, neither of which follows symlinks. */
function kindOf(entry: { isDirectory(): boolean; isFile(): boolean }): TreeEntry['kind'] {
  return entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : 'other';
}

async function* walkFolder(abs: string, rel: string): AsyncGenerator<TreeEntry> {
  let entries;
  try {
    entries = await fs.readdir(abs, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const child: TreeEntry = { abs: path.join(abs, entry.name), rel: rel ? path.posix.join(rel, entry.name) : entry.name, kind: kindOf(entry) };
    yield child;
    if (child.kind === 'dir') yield* walkFolder(child.abs, child.rel);
  }
}

export interface HashedCopy {
  size: number;
  sha256: string;
}

/**
 * Copies `from` to `to` in chunks, hashing the bytes as they are written (so the hash is of what
 * landed in `to`, even if `from` changes meanwhile), keeps the file mode and fsyncs `to`.
 * `onBytes` gets the size of each chunk.
 */
export async function copyHashing(from: string, to: string, onBytes?: (bytes: number) => void): Promise<HashedCopy> {
  const src = await fs.open(from, 'r');
  try {
    const { mode } = await src.stat();
    const dest = await fs.open(to, 'w');
    try {
      const hashed = await hashChunks(src, onBytes, async (chunk) => {
        let written = 0;
        while (written < chunk.length) written += (await dest.write(chunk, written, chunk.length - written, null)).bytesWritten;
      });
      await dest.chmod(mode & 0o7777);
      await dest.sync();
      return hashed;
    } finally {
      await dest.close();
    }
  } finally {
    await src.close();
  }
}

/** sha256 and size of a file, read in chunks. */
export async function hashFile(file: string, onBytes?: (bytes: number) => void): Promise<HashedCopy> {
  const handle = await fs.open(file, 'r');
  try {
    return await hashChunks(handle, onBytes);
  } finally {
    await handle.close();
  }
}

/** Reads `handle` to its end in chunks, hashing each and handing it to `each` (a copy's writer). */
async function hashChunks(handle: FileHandle, onBytes?: (bytes: number) => void, each?: (chunk: Buffer) => Promise<void>): Promise<HashedCopy> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let size = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, CHUNK_BYTES, null);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    hash.update(chunk);
    await each?.(chunk);
    size += bytesRead;
    onBytes?.(bytesRead);
  }
  return { size, sha256: hash.digest('hex') };
}

/** Writes a small file and fsyncs it. */
export async function writeFileSynced(file: string, text: string): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a folder so a rename or create inside it survives a power cut; best effort where unsupported. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOENT') throw err;
  } finally {
    await handle?.close();
  }
}

/** `base`, or `base~2`, `base~3`, ... : the first that does not exist yet. */
export async function freeDestination(base: string): Promise<string> {
  if (!(await lstatIfExists(base))) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}~${n}`;
    if (!(await lstatIfExists(candidate))) return candidate;
  }
}

/**
 * Moves a file, folder or symlink to `to` (which must not exist): a rename, or across file systems
 * a copy into `<to>.partial`, a rename of that, then removal of the source, so `to` only ever
 * appears complete and the source is only removed once its copy is in place.
 */
export async function movePath(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true });
  try {
    await fs.rename(from, to);
    return;
  } catch (err) {
    if (errnoCode(err) !== 'EXDEV') throw err;
  }
  // A name of this attempt's own: an overlapping retry (say after a heartbeat timeout) never
  // touches it. A crashed attempt's leftover stays beside `to` (nothing is ever deleted here).
  const partial = `${to}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fs.cp(from, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, errorOnExist: true, force: false });
    await fs.rename(partial, to);
  } catch (err) {
    await fs.rm(partial, { recursive: true, force: true });
    throw err;
  }
  await fsyncDir(path.dirname(to));
  await fs.rm(from, { recursive: true, force: true });
}

/** Every character but the two wildcards, escaped for picomatch (a backslash only matches itself inside a class). */
function literalExceptWildcards(glob: string): string {
  return [...glob].map((ch) => (ch === '*' || ch === '?' || /[\p{L}\p{N}]/u.test(ch) ? ch : ch === '\\' ? '[\\\\]' : `\\${ch}`)).join('');
}

/**
 * A matcher for shell-like globs on a base name, by picomatch: `*` is any run of characters, `?`
 * one character, everything else literal (config globs predate brackets and braces, and a file
 * named `lock[1]` must keep matching itself). Dot files match too (`*.tmp` matches `.cache.tmp`).
 */
export function globMatcher(glob: string): (name: string) => boolean {
  return picomatch(literalExceptWildcards(glob), { dot: true });
}
