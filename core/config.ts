/** Parsing and checking a mend config, without touching the file system. */
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigSchema, type Component, type Config, type Saga, type Drill, type SagaAction, type Spool } from './schemas';
import { formatIssues, ValidationError } from './errors';
import { graphProblems } from './graph';
import { DEFAULT_HOST } from './constants';
import { isBuiltinStrategy } from './workflow-types';
import { hostOf, knownHosts } from './hosts';
import { componentStrategyProblem, strategyProblem, type RunbookTargets } from './runbooks';

/**
 * Parses YAML text into a validated config. Relative paths in components are resolved against
 * `baseDir` (the config file's folder); pid and log files default to `<stateDir>/run` and `<stateDir>/log`.
 * `runbooks` names the custom runbooks found in the config's runbooks folder (the caller lists it):
 * policies may name them as well as the built-ins, when `targetsOf` (what a custom runbook acts on)
 * says it acts on components. Throws ValidationError naming `source` and each offending path.
 */
export function parseConfig(
  text: string,
  source: string,
  opts: { baseDir: string; stateDir: string; runbooks?: readonly string[]; targetsOf?: (runbook: string) => RunbookTargets | undefined },
): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true }) ?? {};
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    throw new ValidationError(source, [`not valid YAML: ${detail}`]);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(source, formatIssues(parsed.error.issues));
  const problems = [
    ...graphProblems(parsed.data.components),
    ...sagaProblems(parsed.data),
    ...drillProblems(parsed.data),
    ...hostProblems(parsed.data),
    ...strategyProblems(parsed.data, opts.runbooks ?? [], opts.targetsOf),
  ];
  if (problems.length > 0) throw new ValidationError(source, problems);
  const abs = (p: string) => path.resolve(opts.baseDir, p);
  // With `hosts:`, everything carries its host explicitly (summaries then name it); without, none does.
  const multiHost = parsed.data.hosts.length > 0;
  const place = <T extends { host?: string }>(item: T, fallback = DEFAULT_HOST): T => (multiHost ? { ...item, host: item.host ?? fallback } : item);
  const components = parsed.data.components.map((c) => place(resolveComponentPaths(c, abs, opts.stateDir)));
  const hostById = new Map(components.map((c) => [c.id, c.host]));
  return {
    ...parsed.data,
    runbooks: abs(parsed.data.runbooks),
    components,
    sagas: parsed.data.sagas.map((saga) => ({
      ...saga,
      steps: saga.steps.map((step) => ({
        ...step,
        action: resolveActionPaths(step.action, abs, place),
        compensate: step.compensate && resolveActionPaths(step.compensate, abs, place),
      })),
    })),
    spools: parsed.data.spools.map((spool) => place({ ...spool, dir: abs(spool.dir) })),
    drills: parsed.data.drills.map((drill) => {
      const placed = place(drill, hostById.get(drill.component));
      return typeof placed.fault === 'string' ? placed : { ...placed, fault: { ...placed.fault, cwd: abs(placed.fault.cwd ?? '.') } };
    }),
  };
}

/**
 * Fills what a component's paths default to under a MEND_HOME (`stateDir`): pid and log files,
 * checkpoint and aside folders. The config does it for the default host (whose MEND_HOME is the
 * central one); a component on another host keeps them unset, and its agent fills them under its
 * own MEND_HOME when an activity runs there.
 */
export function withHomeDefaults(component: Component, stateDir: string): Component {
  const { adapter, state } = component;
  if (adapter.type === 'process' && adapter.pidFile && adapter.logFile && state.checkpointDir && state.asideDir) return component;
  return {
    ...component,
    adapter:
      adapter.type === 'process'
        ? {
            ...adapter,
            pidFile: adapter.pidFile ?? path.join(stateDir, 'run', `${component.id}.pid`),
            logFile: adapter.logFile ?? path.join(stateDir, 'log', `${component.id}.log`),
          }
        : adapter,
    state: {
      ...state,
      checkpointDir: state.checkpointDir ?? path.join(stateDir, 'checkpoints', component.id),
      asideDir: state.asideDir ?? path.join(stateDir, 'aside', component.id),
    },
  };
}

function resolveComponentPaths(component: Component, abs: (p: string) => string, stateDir: string): Component {
  const { adapter, probe, state } = component;
  const paths = state.paths.map(abs);
  const resolved: Component = {
    ...component,
    adapter:
      adapter.type === 'process'
        ? { ...adapter, cwd: abs(adapter.cwd ?? '.'), pidFile: adapter.pidFile && abs(adapter.pidFile), logFile: adapter.logFile && abs(adapter.logFile) }
        : adapter.type === 'command'
          ? { ...adapter, cwd: abs(adapter.cwd ?? '.') }
          : adapter,
    probe: probe.type === 'command' ? { ...probe, cwd: abs(probe.cwd ?? '.') } : probe,
    state: {
      ...state,
      paths,
      checkpointDir: state.checkpointDir && abs(state.checkpointDir),
      asideDir: state.asideDir && abs(state.asideDir),
      cleanup: { ...state.cleanup, dirs: state.cleanup.dirs ? state.cleanup.dirs.map(abs) : [...new Set(paths.map((p) => path.dirname(p)))] },
    },
  };
  return hostOf(component) === DEFAULT_HOST ? withHomeDefaults(resolved, stateDir) : resolved;
}

function resolveActionPaths(action: SagaAction, abs: (p: string) => string, place: <T extends { host?: string }>(item: T) => T): SagaAction {
  return action.type === 'command' ? place({ ...action, cwd: abs(action.cwd ?? '.') }) : action;
}

/** Every `host:` names a host of `hosts:` (or the default host); a crash or hang drill runs on its component's host. */
function hostProblems(config: Config): string[] {
  const known = knownHosts(config);
  const problems: string[] = [];
  const check = (where: string, host: string | undefined) => {
    if (host !== undefined && !known.includes(host)) problems.push(`${where}.host: unknown host ${JSON.stringify(host)} (known: ${known.join(', ')})`);
  };
  config.components.forEach((c, i) => check(`components[${i}]`, c.host));
  config.spools.forEach((s, i) => check(`spools[${i}]`, s.host));
  config.sagas.forEach((saga, i) =>
    saga.steps.forEach((step, j) => {
      for (const key of ['action', 'compensate'] as const) {
        const action = step[key];
        if (action?.type === 'command') check(`sagas[${i}].steps[${j}].${key}`, action.host);
      }
    }),
  );
  const componentHost = new Map(config.components.map((c) => [c.id, hostOf(c)]));
  config.drills.forEach((drill, i) => {
    check(`drills[${i}]`, drill.host);
    const own = componentHost.get(drill.component);
    if (
      drill.host !== undefined &&
      own !== undefined &&
      known.includes(drill.host) &&
      known.includes(own) &&
      typeof drill.fault === 'string' &&
      drill.host !== own
    ) {
      problems.push(`drills[${i}].host: a ${drill.fault} drill runs on its component's host (${own}), not ${drill.host}`);
    }
  });
  return problems;
}

/**
 * Every strategy a policy names (its own and its escalation chain) is a built-in or a custom
 * runbook acting on components: a policy (and the alerts routed by it) runs it on its component.
 */
function strategyProblems(config: Config, runbooks: readonly string[], targetsOf?: (runbook: string) => RunbookTargets | undefined): string[] {
  const problem = (s: string) => strategyProblem(s, runbooks) ?? (isBuiltinStrategy(s) ? undefined : componentStrategyProblem(s, targetsOf?.(s)));
  return config.components.flatMap((c, i) => {
    const where = `components[${i}].policy`;
    const own = problem(c.policy.strategy);
    return [
      ...(own ? [`${where}.strategy: ${own}`] : []),
      ...c.policy.escalation.flatMap((s, j) => {
        const bad = problem(s);
        return bad ? [`${where}.escalation[${j}]: ${bad}`] : [];
      }),
    ];
  });
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
