/**
 * The custom runbooks of a config: one `<name>.ts` per runbook in its runbooks folder (tests,
 * `*.test.ts`, and sub-folders such as `fixtures/` are not runbooks). A missing folder means none.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../core/errors';
import { knownHosts } from '../core/hosts';
import type { RunTarget } from '../core/run';
import { targetProblem, type RunbookFile, type RunbookTargets, type TargetProblem, type TargetRequest } from '../core/runbooks';
import { RUNBOOK_NAME_PATTERN, STRATEGIES, type Config, type Strategy } from '../core/schemas';
import { isBuiltinStrategy } from '../core/workflow-types';
import type { RunbookMeta } from '../kit/meta';

/** Names a custom runbook may not take: the built-ins, and `saga` (mend run saga <name>). */
const RESERVED = new Set<string>([...STRATEGIES, 'saga']);

/** The runbook files of `dir`, sorted by name; a file whose name is not a valid runbook name is an error naming it. */
export function listRunbookFiles(dir: string): RunbookFile[] {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts'))
      .map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ValidationError(dir, [`cannot read the runbooks folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  const problems: string[] = [];
  const files = entries.sort().flatMap((entry) => {
    const name = entry.slice(0, -'.ts'.length);
    if (!RUNBOOK_NAME_PATTERN.test(name) || name.length > 63) {
      problems.push(`${entry}: a runbook's file name is its name: lowercase words joined by "-", e.g. drain-restart.ts`);
      return [];
    }
    if (RESERVED.has(name)) {
      problems.push(`${entry}: "${name}" is a built-in name; give the runbook another`);
      return [];
    }
    return [{ name, file: path.join(dir, entry) }];
  });
  if (problems.length > 0) throw new ValidationError(dir, problems);
  return files;
}

/**
 * What a runbook file declares (name, description, targets), read by loading it in Node: its
 * default export is what `defineRunbook` returned. Errors name the file.
 */
export function loadRunbookMeta(runbook: RunbookFile): RunbookMeta {
  let mod: { default?: { runbook?: RunbookMeta } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a user's .ts file, loaded through mend's TypeScript hook (bin/ts-hook.js)
    mod = require(runbook.file) as typeof mod;
  } catch (err) {
    throw new ValidationError(runbook.file, [`cannot load: ${(err as Error).message.split('\n')[0]}`]);
  }
  const meta = mod.default?.runbook;
  if (!meta) throw new ValidationError(runbook.file, ['expected `export default defineRunbook({ ... })` (from mend/kit)']);
  if (meta.name !== runbook.name) {
    throw new ValidationError(runbook.file, [
      `defines runbook "${meta.name}", but a runbook's name is its file name: rename one so both say "${runbook.name}"`,
    ]);
  }
  return meta;
}

/** The names of a config's custom runbooks (its `runbooks` folder, absolute once loaded). */
export function customRunbookNames(config: { runbooks: string }): string[] {
  return listRunbookFiles(config.runbooks).map((r) => r.name);
}

/**
 * What a strategy acts on: `components` for the built-ins, else what the custom runbook's file in
 * `dir` declares (loading it; undefined when there is no such file, which strategyProblem reports).
 */
export function runbookTargets(dir: string, strategy: Strategy): RunbookTargets | undefined {
  if (isBuiltinStrategy(strategy)) return 'components';
  const file = listRunbookFiles(dir).find((r) => r.name === strategy);
  return file && loadRunbookMeta(file).targets;
}

/**
 * What a start request runs `strategy` on, checked against what the runbook targets before anything
 * starts: its components (one run each), a host, or nothing; else the problem, naming the field.
 * The strategy is known (strategyProblem has passed).
 */
export function startTarget(
  config: Config,
  strategy: Strategy,
  req: TargetRequest,
): { targets: 'components' } | { targets: 'host' | 'none'; target: RunTarget } | { problem: TargetProblem } {
  const targets = runbookTargets(config.runbooks, strategy) ?? 'components';
  const problem = targetProblem(strategy, targets, req, knownHosts(config));
  if (problem) return { problem };
  if (targets === 'components') return { targets };
  return { targets, target: targets === 'host' ? { kind: 'host', host: req.host! } : { kind: 'none' } };
}
