import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../core/config';
import { ValidationError } from '../core/errors';
import type { Config } from '../core/schemas';

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
  return parseConfig(text, file, { baseDir, stateDir: path.resolve(baseDir, opts.stateDir ?? '.mend') });
}
