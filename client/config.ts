import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../core/config';
import { ValidationError } from '../core/errors';
import type { Config } from '../core/schemas';
import { parse as parseYaml } from 'yaml';
import { listRunbookFiles, loadRunbookMeta } from './runbooks';

/** Reads and validates a config file; errors name the file and the path inside it. */
export function loadConfigFile(file: string, opts: { stateDir?: string } = {}): Config {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValidationError(file, [code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(err)})`]);
  }
  const baseDir = path.dirname(abs);
  const files = listRunbookFiles(path.resolve(baseDir, runbooksFolderOf(text)));
  // A runbook's file is loaded only when a policy names it (to read what it acts on).
  const targetsOf = (name: string) => {
    const found = files.find((r) => r.name === name);
    return found && loadRunbookMeta(found).targets;
  };
  return parseConfig(text, file, {
    baseDir,
    stateDir: path.resolve(baseDir, opts.stateDir ?? '.mend'),
    runbooks: files.map((r) => r.name),
    targetsOf,
  });
}

/**
 * The absolute runbooks folder of a config file, read without validating the rest (the worker needs
 * only this).
 */
export function runbooksDirOf(file: string): string {
  const abs = path.resolve(file);
  let text = '';
  try {
    text = readFileSync(abs, 'utf8');
  } catch {
    // no config file: the default folder beside where it would be
  }
  return path.resolve(path.dirname(abs), runbooksFolderOf(text));
}

/** The `runbooks:` folder as written (default ./runbooks), read before the config is validated: validation needs its runbooks' names. */
function runbooksFolderOf(text: string): string {
  try {
    const raw = parseYaml(text) as { runbooks?: unknown } | null;
    return typeof raw?.runbooks === 'string' && raw.runbooks !== '' ? raw.runbooks : './runbooks';
  } catch {
    return './runbooks'; // parseConfig names the YAML problem
  }
}
