/** Parsing and checking a mend config, without touching the file system. */
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigSchema, type Component, type Config } from './schemas';
import { formatIssues, ValidationError } from './errors';
import { graphProblems } from './graph';

/**
 * Parses YAML text into a validated config. Relative paths in components are resolved against
 * `baseDir` (the config file's folder); pid and log files default to `<stateDir>/run` and `<stateDir>/log`.
 * Throws ValidationError naming `source` and each offending path.
 */
export function parseConfig(text: string, source: string, opts: { baseDir: string; stateDir: string }): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true }) ?? {};
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    throw new ValidationError(source, [`not valid YAML: ${detail}`]);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(source, formatIssues(parsed.error.issues));
  const problems = graphProblems(parsed.data.components);
  if (problems.length > 0) throw new ValidationError(source, problems);
  return { ...parsed.data, components: parsed.data.components.map((c) => resolveComponentPaths(c, opts)) };
}

function resolveComponentPaths(component: Component, opts: { baseDir: string; stateDir: string }): Component {
  const abs = (p: string) => path.resolve(opts.baseDir, p);
  const adapter = component.adapter;
  return {
    ...component,
    adapter: {
      ...adapter,
      cwd: abs(adapter.cwd ?? '.'),
      pidFile: adapter.pidFile ? abs(adapter.pidFile) : path.join(opts.stateDir, 'run', `${component.id}.pid`),
      logFile: adapter.logFile ? abs(adapter.logFile) : path.join(opts.stateDir, 'log', `${component.id}.log`),
    },
    state: { ...component.state, paths: component.state.paths.map(abs) },
  };
}

/** Looks up components by id, naming every unknown one and the known ones in the error. */
export function selectComponents(config: Config, ids: readonly string[]): Component[] {
  const byId = new Map(config.components.map((c) => [c.id, c]));
  const unknown = ids.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    const known = config.components.map((c) => c.id).join(', ') || 'none configured';
    throw new ValidationError('components', [
      `unknown component${unknown.length > 1 ? 's' : ''} ${unknown.map((id) => JSON.stringify(id)).join(', ')} (known: ${known})`,
    ]);
  }
  return ids.map((id) => byId.get(id)!);
}
