/** Parsing and checking a mend config, without touching the file system. */
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigSchema, type Component, type Config, type Saga, type Drill, type SagaAction, type Spool } from './schemas';
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
  const problems = [...graphProblems(parsed.data.components), ...sagaProblems(parsed.data), ...drillProblems(parsed.data)];
  if (problems.length > 0) throw new ValidationError(source, problems);
  const abs = (p: string) => path.resolve(opts.baseDir, p);
  return {
    ...parsed.data,
    components: parsed.data.components.map((c) => resolveComponentPaths(c, abs, opts.stateDir)),
    sagas: parsed.data.sagas.map((saga) => ({
      ...saga,
      steps: saga.steps.map((step) => ({ ...step, action: resolveActionPaths(step.action, abs), compensate: step.compensate && resolveActionPaths(step.compensate, abs) })),
    })),
    spools: parsed.data.spools.map((spool) => ({ ...spool, dir: abs(spool.dir) })),
    drills: parsed.data.drills.map((drill) => (typeof drill.fault === 'string' ? drill : { ...drill, fault: { ...drill.fault, cwd: abs(drill.fault.cwd ?? '.') } })),
  };
}

function resolveComponentPaths(component: Component, abs: (p: string) => string, stateDir: string): Component {
  const { adapter, probe, state } = component;
  const paths = state.paths.map(abs);
  return {
    ...component,
    adapter:
      adapter.type === 'process'
        ? {
            ...adapter,
            cwd: abs(adapter.cwd ?? '.'),
            pidFile: adapter.pidFile ? abs(adapter.pidFile) : path.join(stateDir, 'run', `${component.id}.pid`),
            logFile: adapter.logFile ? abs(adapter.logFile) : path.join(stateDir, 'log', `${component.id}.log`),
          }
        : adapter.type === 'command'
          ? { ...adapter, cwd: abs(adapter.cwd ?? '.') }
          : adapter,
    probe: probe.type === 'command' ? { ...probe, cwd: abs(probe.cwd ?? '.') } : probe,
    state: {
      ...state,
      paths,
      checkpointDir: state.checkpointDir ? abs(state.checkpointDir) : path.join(stateDir, 'checkpoints', component.id),
      asideDir: state.asideDir ? abs(state.asideDir) : path.join(stateDir, 'aside', component.id),
      cleanup: { ...state.cleanup, dirs: state.cleanup.dirs ? state.cleanup.dirs.map(abs) : [...new Set(paths.map((p) => path.dirname(p)))] },
    },
  };
}

function resolveActionPaths(action: SagaAction, abs: (p: string) => string): SagaAction {
  return action.type === 'command' ? { ...action, cwd: abs(action.cwd ?? '.') } : action;
}

/** Saga names are unique and their steps name configured components. */
function sagaProblems(config: Config): string[] {
  const problems: string[] = [];
  const known = new Set(config.components.map((c) => c.id));
  const seen = new Set<string>();
  config.sagas.forEach((saga, i) => {
    if (seen.has(saga.name)) problems.push(`sagas[${i}].name: duplicate saga name ${JSON.stringify(saga.name)}`);
    seen.add(saga.name);
    saga.steps.forEach((step, j) => {
      for (const key of ['action', 'compensate'] as const) {
        const action = step[key];
        if (action?.type === 'component' && !known.has(action.component)) {
          problems.push(`sagas[${i}].steps[${j}].${key}.component: unknown component ${JSON.stringify(action.component)}`);
        }
      }
    });
  });
  return problems;
}

/** Drills name configured components; crash and hang need a process the adapter started. */
function drillProblems(config: Config): string[] {
  const byId = new Map(config.components.map((c) => [c.id, c]));
  return config.drills.flatMap((drill, i) => {
    const component = byId.get(drill.component);
    if (!component) return [`drills[${i}].component: unknown component ${JSON.stringify(drill.component)}`];
    if (typeof drill.fault === 'string' && component.adapter.type !== 'process') {
      return [`drills[${i}].fault: ${drill.fault} needs a process adapter (${drill.component} uses ${component.adapter.type}); give a fault command instead`];
    }
    return [];
  });
}

/** Looks up a drill by name, naming the known ones when it is not there. */
export function selectDrill(config: Config, name: string): Drill {
  const drill = config.drills.find((d) => d.name === name);
  if (!drill) {
    const known = config.drills.map((d) => d.name).join(', ') || 'none configured';
    throw new ValidationError('drills', [`unknown drill ${JSON.stringify(name)} (known: ${known})`]);
  }
  return drill;
}

/** Looks up a saga by name, naming the known ones when it is not there. */
export function selectSaga(config: Config, name: string): Saga {
  const saga = config.sagas.find((s) => s.name === name);
  if (!saga) {
    const known = config.sagas.map((s) => s.name).join(', ') || 'none configured';
    throw new ValidationError('sagas', [`unknown saga ${JSON.stringify(name)} (known: ${known})`]);
  }
  return saga;
}

/** Looks up a spool by name, naming the known ones when it is not there. */
export function selectSpool(config: Config, name: string): Spool {
  const spool = config.spools.find((s) => s.name === name);
  if (!spool) {
    const known = config.spools.map((s) => s.name).join(', ') || 'none configured';
    throw new ValidationError('spools', [`unknown spool ${JSON.stringify(name)} (known: ${known})`]);
  }
  return spool;
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
