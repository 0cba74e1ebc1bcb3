/**
 * Where `npm test --checks` keeps what makes a warm typecheck, lint and format check cheap (about 65
 * CPU-seconds cold, 10 warm): tsc's incremental build info, prettier's per-file cache, and an
 * eslint cache that is only reused for the very same source tree.
 *
 * Why eslint's differs: its cache is per file, but no-floating-promises reads types, so a file's
 * result also depends on the files it imports (a function of another file turning async makes an
 * unchanged caller's call float). tsc's build info tracks those dependencies itself; prettier
 * formats each file alone.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { durationsFile } from './test-lanes';

/** ~/.cache/mend/checks/<this checkout>: checkouts (worktrees, clones) do not evict each other's caches. */
export function checksCacheDir(root: string): string {
  const checkout = createHash('sha1').update(root).digest('hex').slice(0, 12);
  const dir = path.join(path.dirname(durationsFile()), 'checks', checkout);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A hash of every source file eslint may read (tracked or new, not ignored) with its contents, and
 * of the config and lockfile; undefined outside a git checkout (the lint then runs without a cache).
 */
export function sourceTreeHash(root: string): string | undefined {
  let files: string[];
  try {
    files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter((f) => /\.(ts|mts|cts|js|mjs|cjs|json)$/.test(f));
  } catch {
    return undefined;
  }
  const hash = createHash('sha1');
  for (const f of files.sort()) {
    hash.update(f).update('\0');
    try {
      hash.update(readFileSync(path.join(root, f)));
    } catch {
      hash.update('(deleted)'); // listed by git, gone from the work tree
    }
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The eslint cache file for this source tree (`--cache-location`); caches of other trees are
 * removed, so one is kept per checkout. Undefined: lint without a cache.
 */
export function eslintCacheFile(root: string): string | undefined {
  const tree = sourceTreeHash(root);
  if (!tree) return undefined;
  const dir = path.join(checksCacheDir(root), 'eslint');
  mkdirSync(dir, { recursive: true });
  for (const old of readdirSync(dir)) if (old !== tree) rmSync(path.join(dir, old), { force: true });
  return path.join(dir, tree);
}
