/**
 * The production deployment files, checked by structure: no Docker engine runs here, so this reads
 * docker-compose.yml and the Dockerfile and holds them to what the code needs (settings, search
 * attributes, entry points, the folders the processes import). Needs no Temporal server.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../core/constants';
import { SETTINGS_SCOPE, SettingsSchema } from '../core/settings';
import { TEMPORAL_SERVER_VERSION } from '../scripts/ensure-temporal-server';
import { AGENT_NODE_ARGS, TS_HOOK_ARGS } from '../workers/node-args';
import { CONFIG_DIR, CONFIG_ENV, DYNAMIC_CONFIG_FILE, LOCATION_SETTINGS, NAMESPACE_RETENTION_HOURS, SERVER_SETTINGS } from '../scripts/prod-temporal';

const ROOT = path.resolve(__dirname, '..');

type Env = Record<string, string | number | boolean | null> | string[];
type DependsOn = string[] | Record<string, { condition?: string }>;
type Port = string | number | { target: number; published?: string | number };
type Mount = string | { type?: string; source?: string; target: string };

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Env;
  depends_on?: DependsOn;
  ports?: Port[];
  volumes?: Mount[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  profiles?: string[];
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown> | null;
}

// `merge: true` resolves the `<<: *mend-env` merge keys the way Compose does.
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

function service(name: string): Service {
  const found = compose.services[name];
  assert.ok(found, `docker-compose.yml has no service "${name}"`);
  return found;
}

/** A service's environment as a map, whichever of Compose's two forms it is written in. */
function envOf(svc: Service): Record<string, string> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((line) => {
        const eq = line.indexOf('=');
        return eq < 0 ? [line, ''] : [line.slice(0, eq), line.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** depends_on as service -> condition (the short list form means service_started). */
function dependsOn(svc: Service): Record<string, string> {
  const deps = svc.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition ?? 'service_started']));
}

/** Published ports as "host:container" (short or long syntax, host IP dropped). */
function portsOf(svc: Service): string[] {
  return (svc.ports ?? []).map((p) => {
    if (typeof p === 'object') return `${p.published ?? ''}:${p.target}`;
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const container = parts.at(-1)!;
    const host = parts.length > 1 ? parts.at(-2)! : '';
    return `${host}:${container}`;
  });
}

/** Named volumes a service mounts (bind mounts, with a path as source, are left out). */
function namedVolumes(svc: Service): Array<{ name: string; target: string }> {
  const out: Array<{ name: string; target: string }> = [];
  for (const m of svc.volumes ?? []) {
    if (typeof m === 'object') {
      if ((m.type ?? 'volume') === 'volume' && m.source) out.push({ name: m.source, target: m.target });
      continue;
    }
    const [source, target] = m.split(':');
    if (target !== undefined && source && !/^[./~]/.test(source)) out.push({ name: source, target });
  }
  return out;
}

/** Everything the container runs: entrypoint then command, as one text. */
function commandText(svc: Service): string {
  const parts = [svc.entrypoint ?? [], svc.command ?? []].flatMap((p) => (Array.isArray(p) ? p : [p]));
  return parts.join(' ');
}

const PULLED = ['postgresql', 'temporal-schema', 'temporal', 'temporal-setup', 'temporal-ui'];
const BUILT = ['mend-worker', 'mend-api'];
const SERVICE_SETTINGS = Object.entries(SETTINGS_SCOPE)
  .filter(([, scope]) => scope === 'service')
  .map(([name]) => name);

describe('docker-compose.yml: Temporal on PostgreSQL with the Web UI, the worker and the API', () => {
  test('defines PostgreSQL, the schema setup, Temporal, the namespace and search-attribute setup, the Web UI, the worker and the API', () => {
    for (const name of [...PULLED, ...BUILT]) service(name);
  });

  test('pins every pulled image to an explicit tag, never latest; the worker and the API are built here', () => {
    for (const name of PULLED) {
      const image = service(name).image;
      assert.ok(image, `${name} has no image`);
      const ref = image.split('@')[0]!;
      const colon = ref.lastIndexOf(':');
      assert.ok(colon > ref.lastIndexOf('/'), `${name}: image ${image} has no tag`);
      const tag = ref.slice(colon + 1);
      assert.ok(tag.length > 0 && tag !== 'latest', `${name}: image ${image} is not pinned`);
      assert.doesNotMatch(tag, /\$\{/, `${name}: image tag ${tag} comes from a variable`);
    }
    // The server the native production lane builds (scripts/ensure-temporal-server.ts), and its tools.
    assert.equal(service('temporal').image, `temporalio/server:${TEMPORAL_SERVER_VERSION.replace(/^v/, '')}`);
    for (const name of ['temporal-schema', 'temporal-setup'])
      assert.match(service(name).image!, new RegExp(`^temporalio/admin-tools:${TEMPORAL_SERVER_VERSION.replace(/^v/, '').replace(/\./g, '\\.')}-`));
    for (const name of BUILT) assert.ok(service(name).build, `${name} is not built from this repository`);
  });

  test('sets up the schemas once PostgreSQL is healthy, and starts Temporal on PostgreSQL only after that', () => {
    const env = envOf(service('temporal'));
    assert.match(env.DB ?? '', /^postgres/, 'temporal: DB is not a PostgreSQL plugin');
    assert.equal(env.POSTGRES_SEEDS, 'postgresql', 'temporal: POSTGRES_SEEDS does not name the postgresql service');
    assert.ok(env.POSTGRES_USER, 'temporal: POSTGRES_USER is not set');
    assert.ok(env.POSTGRES_PWD, 'temporal: POSTGRES_PWD is not set');
    assert.equal(dependsOn(service('temporal-schema')).postgresql, 'service_healthy');
    assert.equal(dependsOn(service('temporal'))['temporal-schema'], 'service_completed_successfully');
    const script = commandText(service('temporal-schema'));
    for (const step of ['create-database', 'setup-schema -v 0.0', 'update-schema -d /etc/temporal/schema/postgresql/v12/'])
      assert.ok(script.includes(step), `temporal-schema does not run ${step}`);
    assert.match(script, /"\$\$DBNAME" temporal\b/);
    assert.match(script, /"\$\$VISIBILITY_DBNAME" visibility\b/);
  });

  test('publishes the Temporal frontend on 7233, the Web UI on 8233 (its 8080 inside) and the API on 3000', () => {
    assert.ok(portsOf(service('temporal')).includes('7233:7233'), 'temporal does not publish 7233');
    assert.ok(portsOf(service('temporal-ui')).includes('8233:8080'), 'temporal-ui does not publish 8233 -> 8080');
    assert.ok(portsOf(service('mend-api')).includes('3000:3000'), 'mend-api does not publish 3000');
    assert.equal(envOf(service('temporal-ui')).TEMPORAL_ADDRESS, 'temporal:7233');
  });

  test('gives every service others wait on as healthy a healthcheck, and waits only on services that exist', () => {
    const waitedOn = new Set<string>();
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, condition] of Object.entries(dependsOn(svc))) {
        assert.ok(compose.services[dep], `${name} depends on "${dep}", which is not a service`);
        if (condition === 'service_healthy') waitedOn.add(dep);
      }
    }
    assert.ok(waitedOn.has('postgresql'));
    for (const name of waitedOn) {
      const hc = service(name).healthcheck;
      assert.ok(hc?.test && !hc.disable, `${name} is waited on as healthy but has no healthcheck`);
      assert.notDeepEqual(hc.test, ['NONE'], `${name}: healthcheck disabled`);
    }
    assert.match(String(service('postgresql').healthcheck!.test), /pg_isready/);
    assert.match(String(service('mend-api').healthcheck!.test), /\/readyz/);
  });

  test('starts the worker, the API and the Web UI only after the setup saw Temporal serving and registered the namespace and search attributes', () => {
    for (const name of [...BUILT, 'temporal-ui']) {
      assert.equal(dependsOn(service(name))['temporal-setup'], 'service_completed_successfully', `${name} does not wait for the setup`);
    }
    assert.ok(dependsOn(service('temporal-setup')).temporal, 'the setup does not wait for the temporal service');
    const script = commandText(service('temporal-setup'));
    assert.match(script, /until temporal operator cluster health --address temporal:7233 \| grep -q SERVING/);
    assert.ok(
      script.includes(`temporal operator namespace create --namespace default --retention ${NAMESPACE_RETENTION_HOURS}h`),
      'the namespace is not created as scripts/prod-temporal.ts creates it',
    );
  });

  test('runs the worker and the API entry points that exist in this repository', () => {
    for (const [name, entry] of [
      ['mend-worker', 'workers/main.ts'],
      ['mend-api', 'api/main.ts'],
    ] as const) {
      const cmd = commandText(service(name));
      assert.ok(cmd.startsWith(`node ${TS_HOOK_ARGS.join(' ')} `), `${name} does not load mend's TypeScript as mend's processes do: ${cmd}`);
      assert.ok(cmd.includes(entry), `${name} does not run ${entry}`);
      assert.ok(existsSync(path.join(ROOT, entry)), `${entry} does not exist`);
    }
  });

  test('npm run agent starts the agent with the same node flags as `mend agent` (its memory settings)', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.agent, `node ${AGENT_NODE_ARGS.join(' ')} workers/agent.ts`);
  });

  test('has an agent service, off by default (a profile), running workers/agent.ts for the host named at start, with its own MEND_HOME volume', () => {
    const agent = service('mend-agent');
    assert.ok(agent.build, 'the agent is built from this repository');
    assert.ok(agent.profiles?.length, 'a plain `docker compose up` would start an agent next to the central worker');
    const cmd = commandText(agent);
    // The same node flags as `mend agent` and `npm run agent` (its memory settings: workers/node-args.ts).
    assert.ok(cmd.startsWith(`node ${AGENT_NODE_ARGS.join(' ')} workers/agent.ts --host \${MEND_HOST_ID`), cmd);
    assert.ok(existsSync(path.join(ROOT, 'workers/agent.ts')));
    const env = envOf(agent);
    assert.deepEqual(
      SERVICE_SETTINGS.filter((key) => !(key in env)),
      [],
      'the agent reads the same settings',
    );
    const home = namedVolumes(agent).find((v) => v.target === env.MEND_HOME);
    assert.ok(home, 'MEND_HOME of the agent is on a volume');
    assert.notEqual(
      home.name,
      namedVolumes(service('mend-worker')).find((v) => v.target === envOf(service('mend-worker')).MEND_HOME)?.name,
      'the agent has its own MEND_HOME',
    );
  });

  test('declares at top level every named volume a service mounts, and keeps PostgreSQL data and MEND_HOME on volumes', () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of namedVolumes(svc)) assert.ok(declared.has(v.name), `${name} mounts volume "${v.name}", not declared under volumes:`);
    }
    assert.ok(
      namedVolumes(service('postgresql')).some((v) => v.target === '/var/lib/postgresql/data'),
      'PostgreSQL data is not on a volume',
    );
    for (const name of BUILT) {
      const home = envOf(service(name)).MEND_HOME;
      assert.ok(
        namedVolumes(service(name)).some((v) => v.target === home),
        `${name}: MEND_HOME ${home} is not on a volume`,
      );
    }
  });

  test('registers every mend search attribute with its type, against the compose Temporal, tolerating "already exists"', () => {
    const script = commandText(service('temporal-setup'));
    assert.match(script, /temporal operator search-attribute create/);
    assert.match(script, /--address temporal:7233/);
    assert.match(script, /already exists/i, 'setup is not idempotent: it does not tolerate "already exists"');
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      // The name and then its exact type on the same line (\b keeps Keyword from matching KeywordList).
      assert.match(script, new RegExp(`\\b${name}\\b[^\\n]*?\\b${type}\\b`), `setup does not create ${name} as ${type}`);
    }
  });

  test('sets every service-scoped setting on the worker and the API, with values the settings schema accepts', () => {
    assert.ok(SERVICE_SETTINGS.length > 0);
    for (const name of BUILT) {
      const env = envOf(service(name));
      const missing = SERVICE_SETTINGS.filter((key) => !(key in env));
      assert.deepEqual(missing, [], `${name} does not set ${missing.join(', ')}`);
      const parsed = SettingsSchema.safeParse(env);
      assert.ok(parsed.success, `${name}: ${parsed.error?.message}`);
      assert.equal(parsed.data.MEND_TEMPORAL_ADDRESS, 'temporal:7233', `${name} does not talk to the compose Temporal`);
      assert.equal(parsed.data.MEND_API_HOST, '0.0.0.0', `${name}: the API would not be reachable from outside its container`);
      assert.equal(envOf(service(name)).MEND_CONFIG, '/app/mend.config.yaml');
    }
    const apiPort = String(SettingsSchema.parse(envOf(service('mend-api'))).MEND_API_PORT);
    assert.ok(
      portsOf(service('mend-api')).some((p) => p.endsWith(`:${apiPort}`)),
      `MEND_API_PORT ${apiPort} is not the published container port`,
    );
  });
});

/** Variables the server config reads: every `env "NAME"` in deploy/temporal/production.yaml. */
const SERVER_CONFIG = readFileSync(path.join(ROOT, CONFIG_DIR, `${CONFIG_ENV}.yaml`), 'utf8');
const CONFIG_VARS = [...new Set([...SERVER_CONFIG.matchAll(/\benv "([A-Z_]+)"/g)].map((m) => m[1]!))].sort();

describe('docker-compose.yml and the native production server (scripts/prod-temporal.ts) agree', () => {
  test('the config is a server template: it renders from the environment, and names both PostgreSQL stores', () => {
    assert.match(SERVER_CONFIG.split('\n')[0]!, /^# enable-template/);
    assert.ok(CONFIG_VARS.length >= 10, `only ${CONFIG_VARS.join(', ')} read`);
    assert.match(SERVER_CONFIG, /defaultStore: postgres-default/);
    assert.match(SERVER_CONFIG, /visibilityStore: postgres-visibility/);
  });

  test('every variable the config reads is set by both, with equal values except addresses, ports and secrets', () => {
    const native = { ...SERVER_SETTINGS } as Record<string, string>;
    const location = new Set<string>(LOCATION_SETTINGS);
    // The native script names each of these; both lists together are exactly what the config reads.
    assert.deepEqual([...Object.keys(native), ...location].sort(), CONFIG_VARS, 'scripts/prod-temporal.ts and production.yaml read different variables');
    const env = envOf(service('temporal'));
    const command = commandText(service('temporal'));
    for (const key of CONFIG_VARS) {
      // TEMPORAL_BROADCAST_ADDRESS is the container's own IP, known only inside it: set by the command.
      const set = key in env || new RegExp(`\\b${key}=`).test(command);
      assert.ok(set, `compose's temporal service does not set ${key}`);
      if (key in native) assert.equal(env[key], native[key], `${key}: compose says ${env[key]}, the native server ${native[key]}`);
    }
    // The schema setup reads the same names from the same anchor.
    const schemaEnv = envOf(service('temporal-schema'));
    for (const key of ['DB', 'DBNAME', 'VISIBILITY_DBNAME', 'POSTGRES_USER', 'POSTGRES_SEEDS', 'DB_PORT', 'POSTGRES_PWD']) {
      assert.equal(schemaEnv[key], env[key], `temporal-schema and temporal disagree on ${key}`);
    }
    assert.equal(env.POSTGRES_USER, envOf(service('postgresql')).POSTGRES_USER);
    assert.equal(env.POSTGRES_PWD, envOf(service('postgresql')).POSTGRES_PASSWORD);
  });

  test('runs the same config file, environment name and dynamic config as the native server', () => {
    const env = envOf(service('temporal'));
    const mount = (service('temporal').volumes ?? []).map(String).find((v) => v.startsWith(`./${CONFIG_DIR}:`));
    assert.ok(mount, `the temporal service does not mount ./${CONFIG_DIR}`);
    const target = mount.split(':')[1]!;
    assert.match(commandText(service('temporal')), new RegExp(`temporal-server --root / --config ${target} --env ${CONFIG_ENV} --allow-no-auth start`));
    assert.equal(env.DYNAMIC_CONFIG_FILE_PATH, path.posix.join(target, path.relative(CONFIG_DIR, DYNAMIC_CONFIG_FILE)));
    assert.ok(existsSync(path.join(ROOT, DYNAMIC_CONFIG_FILE)));
    assert.match(readFileSync(path.join(ROOT, DYNAMIC_CONFIG_FILE), 'utf8'), /^frontend\.enableUpdateWorkflowExecution:\n\s+- value: true/m);
  });
});

// ---------------------------------------------------------------------------------------------
// Every variable the code reads is a setting (so the compose file and the README can list it),
// or is named here with the reason it is not one.

const SOURCE_FOLDERS = ['workers', 'api', 'client', 'core', 'activities', 'workflows', 'cli'];

const NOT_SETTINGS: Record<string, string> = {
  // cli/format.ts: the no-color.org convention for terminal output; not a service setting.
  NO_COLOR: 'turns off colour in CLI output',
  // cli/main.ts: a debugging switch that prints stack traces for CLI errors.
  MEND_DEBUG: 'prints stack traces on CLI errors',
};

const ENV_READS: RegExp[] = [
  /process\.env\.([A-Za-z_]\w*)/g, // process.env.NAME
  /process\.env\[\s*['"`]([^'"`]+)['"`]\s*\]/g, // process.env['NAME']
  /(?<![\w.$])env\.([A-Z_][A-Z0-9_]*)/g, // env.NAME on an env object passed in
];

/** Names of environment variables the source text reads. */
function envReads(source: string): string[] {
  const names = ENV_READS.flatMap((re) => [...source.matchAll(re)].map((m) => m[1]!));
  // const { A, B: b } = process.env
  for (const m of source.matchAll(/\{([^{}]*)\}\s*=\s*process\.env\b/g)) {
    for (const part of m[1]!.split(',')) {
      const key = part
        .split(':')[0]!
        .split('=')[0]!
        .trim()
        .replace(/^\.\.\./, '');
      if (/^[A-Za-z_]\w*$/.test(key)) names.push(key);
    }
  }
  return names;
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (entry === 'node_modules') return [];
    if (statSync(full).isDirectory()) return tsFiles(full);
    return entry.endsWith('.ts') ? [full] : [];
  });
}

describe('environment variables the code reads', () => {
  test('the scan finds process.env.X, process.env["X"], destructured reads and env.X, and not other objects', () => {
    const sample = [
      'const a = process.env.MEND_A;',
      "const b = process.env['MEND_B'];",
      'const { MEND_C, MEND_D: d } = process.env;',
      'function f(env: NodeJS.ProcessEnv) { return env.MEND_E; }',
      'const g = adapter.env.PORT; const h = process.env; const i = someenv.MEND_X;',
    ].join('\n');
    assert.deepEqual(envReads(sample).sort(), ['MEND_A', 'MEND_B', 'MEND_C', 'MEND_D', 'MEND_E']);
  });

  test('every variable read in the worker, API, client, core, activities, workflows and CLI is a setting or allow-listed', () => {
    const known = new Set([...Object.keys(SettingsSchema.shape), ...Object.keys(NOT_SETTINGS)]);
    const files = SOURCE_FOLDERS.flatMap((folder) => tsFiles(path.join(ROOT, folder)));
    assert.ok(files.length > 0, 'no source files found to scan');
    const unknown: string[] = [];
    for (const file of files) {
      for (const name of envReads(readFileSync(file, 'utf8'))) {
        if (!known.has(name)) unknown.push(`${name} (${path.relative(ROOT, file)})`);
      }
    }
    assert.deepEqual(unknown, [], 'add these to SettingsSchema in core/settings.ts, or to NOT_SETTINGS here with a reason');
  });
});

// ---------------------------------------------------------------------------------------------

/** Top-level folders reached from an entry file through relative imports and require.resolve. */
function runtimeFolders(entries: string[]): Set<string> {
  const folders = new Set<string>();
  const seen = new Set<string>();
  const queue = entries.map((e) => path.join(ROOT, e));
  const resolve = (from: string, spec: string): string | undefined => {
    const base = path.resolve(path.dirname(from), spec);
    return [base, `${base}.ts`, `${base}.js`, path.join(base, 'index.ts'), path.join(base, 'index.js')].find((f) => existsSync(f) && statSync(f).isFile());
  };
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    folders.add(path.relative(ROOT, file).split(path.sep)[0]!);
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require(?:\.resolve)?\s*\(\s*)['"](\.{1,2}\/[^'"]*|\.{1,2})['"]/g)].map((m) => m[1]!);
    for (const spec of specs) {
      const target = resolve(file, spec);
      if (target) queue.push(target);
    }
  }
  return folders;
}

/** Sources of the Dockerfile's COPY instructions, normalised ("./core/" -> "core"). */
function copiedSources(text: string): Set<string> {
  const sources = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*COPY\s+(.*)$/i.exec(line);
    if (!m) continue;
    const rest = m[1]!.trim();
    const args = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/).filter((a) => !a.startsWith('--'));
    for (const src of args.slice(0, -1)) sources.add(src.replace(/^\.\//, '').replace(/\/$/, ''));
  }
  return sources;
}

describe('Dockerfile: the image the worker and the API run from', () => {
  test('copies every top-level folder the worker and the API import, and the demo config', () => {
    const needed = runtimeFolders(['workers/main.ts', 'api/main.ts']);
    for (const folder of ['workflows', 'activities', 'workers', 'client', 'api', 'core']) needed.add(folder);
    const copied = copiedSources(dockerfile);
    const missing = [...needed].filter((f) => !copied.has(f) && !copied.has('.'));
    assert.deepEqual(missing, [], `the Dockerfile does not COPY ${missing.join(', ')}`);
    assert.ok(copied.has('mend.config.yaml'), 'the Dockerfile does not COPY mend.config.yaml (MEND_CONFIG in docker-compose.yml)');
    // What every container's node loads first (TS_HOOK_ARGS), and the compiler options it reads.
    for (const file of ['bin', 'tsconfig.json'])
      assert.ok(copied.has(file) || copied.has('.'), `the Dockerfile does not COPY ${file} (bin/ts-hook.js loads the TypeScript)`);
  });

  test('installs the locked production dependencies with npm ci', () => {
    assert.match(dockerfile, /^\s*COPY\s+.*\bpackage-lock\.json\b/m, 'package-lock.json is not copied');
    assert.match(dockerfile, /^\s*RUN\s+.*\bnpm ci\b.*--omit=dev/m, 'the image does not install with npm ci --omit=dev');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.ok(pkg.dependencies.esbuild, 'esbuild must be a runtime dependency: the image compiles its TypeScript with it (bin/ts-hook.js)');
  });

  test('runs as an unprivileged user in production mode, the worker by default', () => {
    assert.match(dockerfile, /^FROM node:20-bookworm-slim\b/m);
    assert.match(dockerfile, /^ENV NODE_ENV=production\b/m);
    const user = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].at(-1)?.[1];
    assert.ok(user && user !== 'root' && user !== '0', 'the image runs as root');
    assert.ok(
      dockerfile.includes(`CMD ${JSON.stringify(['node', ...TS_HOOK_ARGS, 'workers/main.ts']).replaceAll(',', ', ')}`),
      "the image does not run workers/main.ts as mend's processes do",
    );
  });
});
