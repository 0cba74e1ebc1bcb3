/**
 * The workflow bundler, run by the worker as a short-lived child (workers/bundle-cache.ts): reads
 * `{ runbooks, dir, key }` as JSON on stdin, bundles the built-ins with those runbooks into the
 * cache folder (workers/bundle-into.ts), and answers one JSON line on stdout. Its memory
 * (webpack's) goes when it exits.
 */
import { readFileSync } from 'node:fs';
import { ValidationError } from '../core/errors';
import type { RunbookFile } from '../core/runbooks';
import type { BundlerReply } from './bundle-cache';
import { bundleInto } from './bundle-into';

function reply(answer: BundlerReply): void {
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

async function main(): Promise<void> {
  const request = JSON.parse(readFileSync(0, 'utf8')) as { runbooks: RunbookFile[]; dir: string; key: string };
  await bundleInto(request);
  reply({ ok: true });
}

main().catch((err: Error) => {
  reply(err instanceof ValidationError ? { ok: false, source: err.source, problems: err.problems, message: err.message } : { ok: false, message: err.message });
  process.exitCode = 1;
});
