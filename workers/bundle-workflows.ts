/**
 * The workflow bundler, run by the worker as a short-lived child (workers/bundle-cache.ts): reads
 * `{ runbooks, dir, key }` as JSON on stdin, bundles the built-ins with those runbooks, writes
 * `<dir>/<key>-<hash>.js` and then its manifest `<dir>/<key>.json` (each by rename, so a worker
 * reading them never sees half a file), and answers one JSON line on stdout. Its memory (webpack's)
 * goes when it exits.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../core/errors';
import type { RunbookFile } from '../core/runbooks';
import { sha256, type BundleManifest, type BundlerReply } from './bundle-cache';
import { bundleRunbooks } from './runbooks';

function writeAtomically(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

function reply(answer: BundlerReply): void {
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

async function main(): Promise<void> {
  const request = JSON.parse(readFileSync(0, 'utf8')) as { runbooks: RunbookFile[]; dir: string; key: string };
  const { code, runbooks, inputs } = await bundleRunbooks(request.runbooks);
  const bundle = `${request.key}-${sha256(code).slice(0, 16)}.js`;
  writeAtomically(path.join(request.dir, bundle), code);
  // webpack's file dependencies may name a folder too (a package's root): only files have a content to compare.
  const files = inputs.filter((file) => statSync(file, { throwIfNoEntry: false })?.isFile());
  const manifest: BundleManifest = { bundle, inputs: Object.fromEntries(files.map((file) => [file, sha256(readFileSync(file))])), runbooks };
  writeAtomically(path.join(request.dir, `${request.key}.json`), `${JSON.stringify(manifest, null, 1)}\n`);
  reply({ ok: true });
}

main().catch((err: Error) => {
  reply(err instanceof ValidationError ? { ok: false, source: err.source, problems: err.problems, message: err.message } : { ok: false, message: err.message });
  process.exitCode = 1;
});
