/**
 * One definition per Temporal contract: every signal, query and update is defined in
 * core/messages.ts and every workflow type named in core/workflow-types.ts. These tests check that
 * those names are the workflows the worker registers, that the shared module loads without workflow
 * code or zod, and that no other source file names a handler or workflow type with a string literal
 * (a renamed handler must fail to compile, not fail at run time).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';
import type { z } from 'zod';
import type { MendClient } from '../client';
import type { listRuns } from '../client/runs';
import type { supervisorView } from '../client/supervisors';
import type {
  BacklogStatusSchema,
  CheckResultSchema,
  ComponentStatsSchema,
  FleetStatsSchema,
  RecoveryResultSchema,
  RunDetailSchema,
  RunListSchema,
  RunProgressSchema,
  SupervisorViewSchema,
} from '../core/api';
import type { BacklogStatus } from '../core/backlog';
import type { RecoveryResult, RunProgress } from '../core/run';
import type { CheckResult, ComponentStats, FleetStats } from '../core/supervision';
import * as messages from '../core/messages';
import { STRATEGY_WORKFLOW, WORKFLOW_TYPES, type WorkflowType } from '../core/workflow-types';
import * as workflows from '../workflows';
import { sharedServer } from './helpers';

const ROOT = path.resolve(__dirname, '..');

// Compile-time half of the check: a name in the maps that workflows/index.ts does not export fails typecheck.
type Unregistered = Exclude<WorkflowType, keyof typeof workflows>;
const everyNameRegistered: [Unregistered] extends [never] ? true : Unregistered = true;

// One shape per concept: what workflows return, the client builds and the CLI prints is exactly what
// the API's schema serializes (a field missing from one would be stripped from responses unseen).
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const shapesAreTheSchemas: [
  Equals<RecoveryResult, z.output<typeof RecoveryResultSchema>>,
  Equals<RunProgress, z.output<typeof RunProgressSchema>>,
  Equals<Awaited<ReturnType<MendClient['describe']>>, z.output<typeof RunDetailSchema>>,
  Equals<Awaited<ReturnType<typeof listRuns>>, z.output<typeof RunListSchema>>,
  Equals<BacklogStatus, z.output<typeof BacklogStatusSchema>>,
  Equals<ReturnType<typeof supervisorView>, z.output<typeof SupervisorViewSchema>>,
  Equals<ComponentStats, z.output<typeof ComponentStatsSchema>>,
  Equals<FleetStats, z.output<typeof FleetStatsSchema>>,
  Equals<CheckResult, z.output<typeof CheckResultSchema>>,
] = [true, true, true, true, true, true, true, true, true];

/** The files that may spell handler and workflow-type names. */
const DEFINITIONS = new Set(['core/messages.ts', 'core/workflow-types.ts']);
const SCANNED = ['activities', 'api', 'bench', 'chaos', 'cli', 'client', 'core', 'demo', 'scripts', 'test', 'workers', 'workflows'];

/** Methods whose first argument names a signal, query, update or workflow type. */
const NAMED_BY_FIRST_ARG = new Set([
  'signal',
  'query',
  'executeUpdate',
  'startUpdate',
  'executeUpdateWithStart',
  'startUpdateWithStart',
  'signalWithStart',
  'startChild',
  'executeChild',
]);
/** Methods of `client.workflow` (and `workflow` handles) whose first argument is a workflow type. */
const WORKFLOW_METHODS = new Set(['start', 'execute']);
/** Option fields holding a handler or workflow type name. */
const NAMED_BY_FIELD = new Set(['signal', 'workflowType']);

const isLiteral = (n: ts.Node | undefined): n is ts.StringLiteral | ts.NoSubstitutionTemplateLiteral =>
  n !== undefined && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n));

/** Where `source` names a handler or workflow type with a literal, as `line: text`. */
function literalContractNames(fileName: string, source: string): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const report = (node: ts.Node, what: string) => found.push(`${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}: ${what}`);
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : undefined;
      const first = node.arguments[0];
      if (name && /^define(Signal|Query|Update)$/.test(name)) report(node, `${name} outside core/messages.ts`);
      else if (name && NAMED_BY_FIRST_ARG.has(name) && isLiteral(first)) report(node, `${name}('${first.text}')`);
      else if (
        name &&
        WORKFLOW_METHODS.has(name) &&
        isLiteral(first) &&
        ts.isPropertyAccessExpression(callee) &&
        /workflow$/i.test(callee.expression.getText(sf))
      ) {
        report(node, `${callee.expression.getText(sf)}.${name}('${first.text}')`);
      }
    } else if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && NAMED_BY_FIELD.has(node.name.text) && isLiteral(node.initializer)) {
      report(node, `${node.name.text}: '${node.initializer.text}'`);
    } else if (
      (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node)) &&
      /WorkflowType\s*=\s*\\?["'][A-Za-z]/.test(node.text)
    ) {
      report(node, `visibility query naming a workflow type: ${node.text.slice(0, 60)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((entry) => {
    const rel = path.posix.join(dir, entry);
    if (entry === 'node_modules' || entry.startsWith('.')) return [];
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return /\.(ts|js|mjs)$/.test(entry) ? [rel] : [];
  });
}

describe('one definition per Temporal contract', () => {
  test('every workflow type the client starts is a workflow the worker registers', () => {
    assert.equal(everyNameRegistered, true);
    const exported = workflows as unknown as Record<string, unknown>;
    for (const name of [...Object.values(WORKFLOW_TYPES), ...Object.values(STRATEGY_WORKFLOW)]) {
      assert.equal(typeof exported[name], 'function', `workflows/index.ts exports no workflow ${name}`);
    }
    // And the other way: a workflow nobody can name by type is a workflow nobody can start.
    const named = new Set<string>([...Object.values(WORKFLOW_TYPES), ...Object.values(STRATEGY_WORKFLOW)]);
    assert.deepEqual(
      Object.keys(exported).filter((k) => !named.has(k)),
      [],
    );
  });

  test('run results, progress, backlog status and supervisor views are the types inferred from the API schemas', () => {
    // The check itself is the type above (typecheck fails when a shape drifts from its schema).
    assert.ok(shapesAreTheSchemas.every((same) => same));
  });

  test('handler definitions are signal, query and update definitions named, as the SDK builds them', () => {
    const defs = (Object.values(messages) as unknown[]).filter((v): v is { type: string; name: string } => typeof v === 'object' && v !== null && 'type' in v);
    assert.ok(defs.length >= 18, `found ${defs.length}`);
    for (const d of defs) assert.ok(['signal', 'query', 'update'].includes(d.type) && d.name.length > 0, JSON.stringify(d));
  });

  test('the shared definitions load without workflow code or zod, so the client and activities can import them', () => {
    const loaded = execFileSync(
      process.execPath,
      ['--import', 'tsx', '-e', "require('./core/messages'); require('./core/workflow-types'); console.log(JSON.stringify(Object.keys(require.cache)))"],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    const modules = JSON.parse(loaded) as string[];
    assert.deepEqual(
      modules.filter((m) => m.includes(`${path.sep}workflows${path.sep}`) || m.includes(`${path.sep}zod${path.sep}`)),
      [],
    );
  });

  test('the workflow bundle holds no zod (schemas stay out of the sandbox; types are imported as types)', () => {
    const bundle = readFileSync(sharedServer().bundle, 'utf8');
    assert.ok(bundle.includes('immediateRestart'), 'the bundle is the workflows bundle');
    assert.ok(!/ZodError|\$ZodType/.test(bundle), 'zod found in the workflow bundle');
  });

  test('the scanner finds handler and workflow names spelled as literals', () => {
    const sample = [
      "await handle.signal('pause', { by });",
      "await handle.query<RunProgress>('progress');",
      "await handle.executeUpdate<S, [R]>('approve', { args: [req] });",
      "await client.workflow.start('saga', { args });",
      "await client.workflow.signalWithStart(WORKFLOW_TYPES.supervisor, { signal: 'report', signalArgs: [r] });",
      'const q = `WorkflowType = "supervisor" AND TaskQueue = ${q}`;',
      "export const s = defineSignal('x');",
      "const action = { type: 'startWorkflow', workflowType: 'healthSweep' };",
      "await startChild('immediateRestart', {});",
      // Not names: a process start, a definition object, a computed name.
      "await peer.start('x'); await handle.signal(pauseSignal, {}); await client.workflow.start(STRATEGY_WORKFLOW[s], {});",
    ].join('\n');
    assert.deepEqual(
      literalContractNames('sample.ts', sample).map((f) => f.split(':')[0]),
      ['1', '2', '3', '4', '5', '6', '7', '8', '9'],
    );
  });

  test('no source file names a signal, query, update or workflow type with a string literal', () => {
    const offenders = SCANNED.flatMap(sourceFiles)
      .filter((f) => !DEFINITIONS.has(f) && f !== 'test/contracts.test.ts')
      .flatMap((f) => literalContractNames(f, readFileSync(path.join(ROOT, f), 'utf8')).map((hit) => `${f}:${hit}`));
    assert.deepEqual(offenders, [], `use the definitions in core/messages.ts and core/workflow-types.ts:\n${offenders.join('\n')}`);
  });
});
