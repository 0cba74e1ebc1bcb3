/**
 * The worker's workflow bundle, built in a short-lived child process (workers/bundle-workflows.ts)
 * and cached on disk: webpack never runs in the worker, whose memory it would keep (about 140 MiB
 * that V8 does not give back: webpack's modules and its compilation's garbage), and a restart with
 * the same sources reuses the bundle instead of bundling again.
 *
 * A cached bundle is used only while every file it was built from (each file webpack read: mend's
 * workflow sources, the custom runbooks, the SDK's workflow library) still has the content it had
 * then; a changed file gives a new bundle. The cache key is what the entry module is made of (the
 * runbook files, mend's own folder) and the SDK's version.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../core/errors';
import type { RunbookFile } from '../core/runbooks';
import type { RunbookMeta } from '../kit/meta';
import type * as BundleInto from './bundle-into';
import { TS_HOOK_ARGS } from './node-args';

const MEND_ROOT = path.resolve(__dirname, '..');
const BUNDLER_SCRIPT = path.join(__dirname, 'bundle-workflows.ts');

/** What the child writes beside the bundle: the files it was built from (with their sha256) and the runbooks in it. */
export interface BundleManifest {
  /** The bundle's file name, in the same folder. */
  bundle: string;
  inputs: Record<string, string>;
  runbooks: RunbookMeta[];
}

/** The child's one line on stdout: done, or why not (a ValidationError keeps its source and problems). */
export type BundlerReply = { ok: true } | { ok: false; source?: string; problems?: string[]; message: string };

export interface CachedBundle {
  codePath: string;
  runbooks: RunbookMeta[];
  /** True when bundled now, false when an up-to-date cached bundle was used. */
  built: boolean;
}

/**
 * Where bundles are kept for a MEND_HOME: `<home>/cache/workflows`. The worker, `mend runbook test`
 * and `mend runbook replay` share it, so that a replay after a test (or a worker's start) with the
 * same runbooks reuses their bundle instead of running webpack again (some 4 CPU-seconds).
 */
export function bundleCacheDirOf(home: string): string {
  return path.resolve(home, 'cache', 'workflows');
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function sdkVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a JSON file next to the SDK mend resolves
  return (require('@temporalio/worker/package.json') as { version: string }).version;
}

/** The cache key: what the bundle's entry is made of and the bundler; the files' contents are checked apart. */
export function bundleKey(runbooks: readonly RunbookFile[]): string {
  return sha256(JSON.stringify({ sdk: sdkVersion(), root: MEND_ROOT, runbooks: runbooks.map((r) => [r.name, r.file]) })).slice(0, 16);
}

function readManifest(file: string): BundleManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Partial<BundleManifest>;
    if (typeof m.bundle !== 'string' || !m.inputs || typeof m.inputs !== 'object' || !Array.isArray(m.runbooks)) return undefined;
    return m as BundleManifest;
  } catch {
    return undefined;
  }
}

/** True while the bundle exists and every file it was built from still has the same content. */
export function upToDate(dir: string, manifest: BundleManifest): boolean {
  if (!existsSync(path.join(dir, manifest.bundle))) return false;
  return Object.entries(manifest.inputs).every(([file, hash]) => {
    try {
      return sha256(readFileSync(file)) === hash;
    } catch {
      return false;
    }
  });
}

/** The child's reply (its last stdout line), or a failure naming its exit. */
async function runBundler(request: { runbooks: readonly RunbookFile[]; dir: string; key: string }): Promise<BundlerReply> {
  const child = spawn(process.execPath, [...TS_HOOK_ARGS, BUNDLER_SCRIPT], {
    cwd: MEND_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stdin.end(JSON.stringify(request));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, signal) => resolve(signal ? null : c));
  });
  const last = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as BundlerReply;
  } catch {
    return { ok: false, message: `the workflow bundler exited (${code === null ? 'killed' : `code ${code}`}) without a result` };
  }
}

/**
 * The bundle of the built-ins with `runbooks`, from `dir` when up to date, else bundled now and kept
 * there: in a child process (a long-lived worker keeps none of webpack's memory), or with `inProcess`
 * in this one (a short-lived command: no second node to start). Throws ValidationError naming the
 * file for a runbook that does not load or breaks the sandbox.
 */
export async function cachedWorkflowBundle(runbooks: readonly RunbookFile[], dir: string, opts: { inProcess?: boolean } = {}): Promise<CachedBundle> {
  const key = bundleKey(runbooks);
  const manifestFile = path.join(dir, `${key}.json`);
  const cached = readManifest(manifestFile);
  if (cached && upToDate(dir, cached)) return { codePath: path.join(dir, cached.bundle), runbooks: cached.runbooks, built: false };
  mkdirSync(dir, { recursive: true });
  if (opts.inProcess) {
    // Loaded here: webpack and the runbooks are heavy, and a cache hit needs neither.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await (require('./bundle-into') as typeof BundleInto).bundleInto({ runbooks, dir, key });
  } else {
    const reply = await runBundler({ runbooks, dir, key });
    if (!reply.ok) throw reply.source && reply.problems ? new ValidationError(reply.source, reply.problems) : new Error(reply.message);
  }
  const made = readManifest(manifestFile);
  if (!made) throw new Error(`the workflow bundler left no manifest at ${manifestFile}`);
  pruneStale(dir, key, made.bundle);
  return { codePath: path.join(dir, made.bundle), runbooks: made.runbooks, built: true };
}

/** Earlier bundles of the same key (older sources): no manifest names them any more. */
function pruneStale(dir: string, key: string, current: string): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(`${key}-`) && name.endsWith('.js') && name !== current) rmSync(path.join(dir, name), { force: true });
  }
}
