/**
 * Bundles the built-ins with some runbooks into a bundle-cache folder: `<dir>/<key>-<hash>.js`, then
 * its manifest `<dir>/<key>.json` (each by rename, so a reader never sees half a file). Run in the
 * bundler child (workers/bundle-workflows.ts) for the worker, whose memory webpack's would stay in,
 * and in-process by a short-lived command (`mend runbook replay`), for which a child is only a
 * second node to start.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunbookFile } from '../core/runbooks';
import { sha256, type BundleManifest } from './bundle-cache';
import { bundleRunbooks } from './runbooks';

function writeAtomically(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Throws ValidationError naming the file for a runbook that does not load or breaks the sandbox (see bundleRunbooks). */
export async function bundleInto(request: { runbooks: readonly RunbookFile[]; dir: string; key: string }): Promise<void> {
  const { code, runbooks, inputs } = await bundleRunbooks(request.runbooks);
  const bundle = `${request.key}-${sha256(code).slice(0, 16)}.js`;
  writeAtomically(path.join(request.dir, bundle), code);
  // webpack's file dependencies may name a folder too (a package's root): only files have a content to compare.
  const files = inputs.filter((file) => statSync(file, { throwIfNoEntry: false })?.isFile());
  const manifest: BundleManifest = { bundle, inputs: Object.fromEntries(files.map((file) => [file, sha256(readFileSync(file))])), runbooks };
  writeAtomically(path.join(request.dir, `${request.key}.json`), `${JSON.stringify(manifest, null, 1)}\n`);
}
