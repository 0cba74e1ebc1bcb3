/**
 * The fleet page (/ui) in real headless Chromium (playwright-core driving Debian's chromium) against
 * the real API, an in-process worker on the shared dev server, supervisors and demo services: it
 * lists the fleet, follows a killed service through its recovery without a reload, starts a
 * recovery and approves an emergency reset through the same routes as the CLI, shows a viewer no
 * buttons, links runs into the Temporal Web UI, passes axe-core, and logs no console error.
 * Screenshots go to MEND_TEST_ARTIFACTS (default test-artifacts/, gitignored).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { probeComponent } from '../domain/probes';
import { reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { Fleet } from '../core/api';
import { bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import { ROOT, runCli, startRunbookSuite, stopSupervisedSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = process.env.MEND_TEST_ARTIFACTS ?? path.join(ROOT, 'test-artifacts');

// The browser globals the page.evaluate callbacks use (this project compiles without the DOM lib).
interface AxeViolation {
  id: string;
  impact?: string;
  help: string;
  nodes: unknown[];
}
declare const window: {
  /** Every health the page showed for the watched row, in order (recorded by a MutationObserver). */
  seenHealth?: string[];
  /** Set once after load: still there means the page was never reloaded. */
  loadedOnce?: boolean;
  axe?: { run(context: unknown, options: object): Promise<{ violations: AxeViolation[] }> };
};
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

describe('fleet page', () => {
  const dir = tempDir('fleet-page');
  const queue = uniqueQueue('fleet-page');
  const suffix = Date.now().toString(36);
  const group = `page-${suffix}`;
  // web restarts slowly (its start command sleeps first) and is confirmed down slowly, so each
  // state lasts several of the page's 2 s refreshes.
  const ids = { web: `web-${suffix}`, db: `db-${suffix}`, vault: `vault-${suffix}`, fuse: `fuse-${suffix}` };
  let suite: RunbookSuite;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let tokens: TestTokens;
  const component = (id: string) => suite.config.components.find((c) => c.id === id)!;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const supervision = { group, interval: '1s', startupGrace: '0s' };
    const { file } = await writeDemoConfig(dir, [
      {
        id: ids.web,
        command: ['sh', '-c', `sleep 3; exec node ${path.join(ROOT, 'demo/service.js')}`],
        supervision: { ...supervision, confirmInterval: '2s', failuresBeforeRecovery: 2 },
        timeout: '30s',
      },
      { id: ids.db, supervision },
      { id: ids.vault, supervision: { enabled: false }, policy: { approvalTimeout: '5m' } },
      // One recovery per window and a cool-down no test waits out: only a reset lets it go again.
      { id: ids.fuse, supervision: { ...supervision, breaker: { maxRecoveries: 1, window: '30m', coolDown: '30m', healthyToClose: '1s' } } },
    ]);
    suite = await startRunbookSuite(dir, queue, file);
    for (const c of suite.config.components) {
      await startProcess(processAdapter(c));
      await waitFor(`${c.id} healthy`, 20_000, async () => (await probeComponent(c)).healthy);
    }
    await reconcileSchedules(suite.client, suite.config);
    for (const id of [ids.web, ids.db, ids.fuse])
      await waitFor(`${id}'s supervisor sees it healthy`, 30_000, async () => (await supervisorState(suite.client, id))?.health === 'healthy');
    const made = makeTokens(ids.db);
    tokens = made.tokens;
    app = await testApp(suite.client, suite.config, made.table);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await stopSupervisedSuite(
      suite,
      queue,
      [group],
      [supervisorWorkflowId(ids.web), supervisorWorkflowId(ids.db), supervisorWorkflowId(ids.fuse), ...Object.values(ids).map(recoveryWorkflowId)],
    );
  });

  /**
   * Opens the page, pastes `token` into its form and waits for the fleet table; runs `use`, then
   * fails on any console error or uncaught exception the page had meanwhile.
   */
  async function withPage(token: string, use: (page: Page) => Promise<void>): Promise<void> {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const errors: string[] = [];
    try {
      const page = await context.newPage();
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
      });
      page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
      await page.goto(`${base}/`, { waitUntil: 'load' });
      assert.equal(new URL(page.url()).pathname, '/ui', '/ redirects to the page');
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Show the fleet' }).click();
      await page.waitForSelector(`tr[data-component="${ids.db}"]`, { timeout: 30_000 }).catch(async (err: Error) => {
        // What the page said instead (its error line, the API's message) makes the failure readable.
        throw new Error(`${err.message}\npage text: ${await page.locator('body').innerText()}\nerrors: ${errors.join('\n')}`);
      });
      assert.ok(!page.url().includes(token), 'the token is never in the URL');
      await use(page);
      assert.deepEqual(errors, [], 'the page logged no console error');
    } finally {
      await context.close();
    }
  }

  const healthOf = (page: Page, id: string) => page.locator(`tr[data-component="${id}"] td.health .badge`).textContent();

  test('/ redirects to /ui, served with a CSP that allows only its own scripts; GET /v1/whoami names the token, its role and scope', async () => {
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, '/ui');
    const page = await app.inject({ method: 'GET', url: '/ui' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self';/);
    assert.doesNotMatch(page.body, /<script>|<script type="module">/, 'no inline script');
    for (const url of ['/ui/app.js', '/ui/style.css', '/ui/vendor/preact.mjs', '/ui/vendor/htm.mjs'])
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url);
    assert.equal((await app.inject({ method: 'GET', url: '/ui/../package.json' })).statusCode, 404);

    const who = await app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(tokens.scoped) });
    assert.equal(who.statusCode, 200, who.body);
    assert.deepEqual(who.json(), { name: 'test-scoped', role: 'operator', components: [ids.db] });
    assert.equal((await app.inject({ method: 'GET', url: '/v1/whoami' })).statusCode, 401);
  });

  test('the page lists every component, the hosts and nothing waiting; axe-core finds no serious or critical violation', async () => {
    await withPage(tokens.admin, async (page) => {
      const rows = await page.$$eval('tbody tr[data-component]', (trs) => trs.map((tr) => tr.getAttribute('data-component')));
      assert.deepEqual(rows, [ids.web, ids.db, ids.vault, ids.fuse]);
      await page.waitForFunction((id) => document.querySelector(`tr[data-component="${id}"] td.health .badge`)?.textContent === 'healthy', ids.web);
      assert.equal(await healthOf(page, ids.db), 'healthy');
      assert.equal(await healthOf(page, ids.vault), 'unknown', 'an unsupervised component has no health of its own');
      assert.match((await page.locator(`tr[data-component="${ids.db}"] td.breaker`).textContent()) ?? '', /closed/);
      assert.match((await page.locator('tr[data-host="local"]').textContent()) ?? '', /up/, "the default host's worker polls");
      await page.getByText('Nothing waits for a human.').waitFor();

      // axe-core evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays in force.
      await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
      const { violations } = await page.evaluate(() => window.axe!.run(document, { resultTypes: ['violations'] }));
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(
        serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`),
        [],
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'fleet-healthy.png'), fullPage: true });
    });
  });

  test('a SIGKILLed service shows unhealthy (held: its supervisor paused from the page), then recovering once resumed, then healthy again without a reload; its run links to the right run in the Temporal Web UI', async () => {
    await withPage(tokens.operator, async (page) => {
      // A script string, not a function: tsx would wrap a named inner function in a helper the page lacks.
      await page.evaluate(`(() => {
        window.loadedOnce = true;
        window.seenHealth = [];
        const badge = 'tr[data-component="${ids.web}"] td.health .badge';
        const record = () => {
          const text = document.querySelector(badge)?.textContent ?? '';
          if (window.seenHealth.at(-1) !== text) window.seenHealth.push(text);
        };
        record();
        new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
      })()`);
      // A process seen gone is recovered at once: paused, its supervisor holds it unhealthy long enough to see.
      await page.getByRole('button', { name: `Pause supervisor of ${ids.web}` }).click();
      await page.locator(`tr[data-component="${ids.web}"] .badge.paused`).waitFor({ timeout: 30_000 });
      const pid = (await runningProcess(processAdapter(component(ids.web))))!.pid;
      process.kill(pid, 'SIGKILL');
      await page.waitForFunction(() => window.seenHealth!.includes('unhealthy'), null, { timeout: 60_000 });
      await page.locator(`tr[data-component="${ids.web}"] td.health`).filter({ hasText: 'for ' }).waitFor({ timeout: 10_000 });
      await page.screenshot({ path: path.join(ARTIFACTS, 'fleet-unhealthy.png'), fullPage: true });
      await page.getByRole('button', { name: `Resume supervisor of ${ids.web}` }).click();

      await page.waitForFunction(
        () => {
          const seen = window.seenHealth!;
          const recovering = seen.indexOf('recovering');
          return recovering > 0 && seen.indexOf('healthy', recovering) > recovering;
        },
        null,
        { timeout: 120_000 },
      );
      const seen = await page.evaluate(() => window.seenHealth!);
      const at = (h: string, from = 0) => seen.indexOf(h, from);
      assert.ok(
        at('unhealthy') > 0 && at('unhealthy') < at('recovering') && at('recovering') < at('healthy', at('recovering')),
        `states in order: ${seen.join(' → ')}`,
      );
      assert.equal(await page.evaluate(() => window.loadedOnce), true, 'the page was not reloaded');

      // The last recovery's link is the run the supervisor recorded, in the Web UI the API was given.
      await page.waitForFunction((id) => document.querySelector(`tr[data-component="${id}"] td.last a`)?.textContent === 'recovered', ids.web, {
        timeout: 30_000,
      });
      const last = (await supervisorState(suite.client, ids.web))!.stats.recent.at(-1)!;
      const href = await page.locator(`tr[data-component="${ids.web}"] td.last a`).getAttribute('href');
      const expected = `${suite.client.uiUrl}/namespaces/default/workflows/${encodeURIComponent(recoveryWorkflowId(ids.web))}/${last.runId}`;
      assert.equal(href, expected);
      // That run exists in Temporal under exactly that id and run id.
      const described = await suite.client.temporal.workflow.getHandle(recoveryWorkflowId(ids.web), last.runId).describe();
      assert.equal(described.runId, last.runId);
      assert.equal(described.status.name, 'COMPLETED');
      await page.screenshot({ path: path.join(ARTIFACTS, 'fleet-recovered.png'), fullPage: true });
    });
  });

  test("a recovery started from the page (after previewing its plan) is listed by `mend runs` with the token's name as requestedBy", async () => {
    await withPage(tokens.operator, async (page) => {
      await page.getByRole('button', { name: `Recover ${ids.db}…` }).click();
      await page.getByLabel('Strategy').selectOption('immediate');
      await page.getByRole('button', { name: 'Preview plan' }).click();
      const plan = page.locator('ol.plan li');
      await plan.first().waitFor({ timeout: 60_000 });
      assert.ok((await plan.count()) >= 2, 'the dry run lists its steps');
      await page.getByLabel('Reason recorded with your actions').fill('from the page test');
      await page.getByRole('button', { name: 'Recover now' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `started ${recoveryWorkflowId(ids.db)}` })
        .waitFor({ timeout: 30_000 });

      const listed = await waitFor('the run in `mend runs`', 60_000, async () => {
        const res = await runCli(['runs', '--component', ids.db, '--trigger', 'api', '--outcome', 'recovered', '--json'], suite.env);
        const runs = (JSON.parse(res.stdout) as { runs: Array<{ workflowId: string; runId: string }> }).runs;
        return runs.length === 1 && runs[0]!;
      });
      const described = await suite.client.temporal.workflow.getHandle(listed.workflowId, listed.runId).describe();
      assert.equal(described.memo?.requestedBy, 'test-operator');
      assert.equal(described.memo?.reason, 'from the page test');
      // A run by hand is the row's last recovery (its supervisor recovered nothing) and counts in the 24 h chart.
      const row = await waitFor("the run as the row's last recovery", 30_000, async () => {
        const res = await fetch(`${base}/v1/fleet`, { headers: bearer(tokens.operator) });
        const db = ((await res.json()) as Fleet).components.find((c) => c.id === ids.db)!;
        return db.last?.runId === listed.runId && db;
      });
      assert.equal(row.last?.outcome, 'recovered');
      assert.equal(row.last?.mttrMs, undefined, 'nobody measured an outage');
      assert.equal(
        row.recoveries24h.reduce((a, b) => a + b, 0),
        1,
      );
    });
  });

  test("a viewer sees the fleet but no action button, and the API still refuses a viewer's POST with 403", async () => {
    await withPage(tokens.viewer, async (page) => {
      const buttons = await page.$$eval('button', (els) => els.map((b) => b.textContent?.trim()));
      assert.deepEqual(buttons, ['Forget token']);
      assert.equal(await page.locator('#reason').count(), 0);
      assert.equal(await page.locator('th', { hasText: 'Actions' }).count(), 0);
    });
    for (const [url, body] of [
      [`/v1/components/${ids.db}/check`, {}],
      ['/v1/runs', { components: [ids.db], strategy: 'immediate' }],
      [`/v1/runs/${encodeURIComponent(supervisorWorkflowId(ids.db))}/pause`, {}],
    ] as const) {
      const res = await fetch(`${base}${url}`, {
        method: 'POST',
        headers: { ...bearer(tokens.viewer), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 403, `${url}: ${await res.text()}`);
    }
  });

  test('an approval from the page completes a waiting emergency reset', async () => {
    const vault = component(ids.vault);
    const run = await suite.client.startRecovery({
      strategy: 'emergency-reset',
      component: vault,
      trigger: 'manual',
      requestedBy: 'test',
      allComponents: suite.config.components,
    });
    await withPage(tokens.admin, async (page) => {
      const waiting = page.locator(`li[data-approval="${run.workflowId}"]`);
      await waiting.waitFor({ timeout: 60_000 });
      assert.equal(await waiting.locator('a').getAttribute('href'), suite.client.runUrl(run.workflowId, run.runId));
      await page.screenshot({ path: path.join(ARTIFACTS, 'fleet-page.png'), fullPage: false });
      await page.getByRole('button', { name: `Approve ${run.workflowId}` }).click();
      await page.getByRole('status').filter({ hasText: 'approved by test-admin' }).waitFor({ timeout: 30_000 });
      const result = await suite.client.result(run.workflowId, run.runId);
      assert.equal(result.outcome, 'recovered', result.reason);
      assert.equal(result.approval?.state, 'approved');
      assert.equal(result.approval?.by, 'test-admin');
      await waiting.waitFor({ state: 'detached', timeout: 30_000 });
    });
  });

  test("an open breaker is reset from the page: the supervisor records the token's name and the reason, and the service is recovered", async () => {
    const fuse = component(ids.fuse);
    const kill = async () => process.kill((await runningProcess(processAdapter(fuse)))!.pid, 'SIGKILL');
    // The first crash is recovered (the one recovery its window allows); the second opens the breaker.
    const before = (await supervisorState(suite.client, ids.fuse))!.stats.attempted;
    await kill();
    await waitFor('the first crash recovered', 60_000, async () => {
      const s = await supervisorState(suite.client, ids.fuse);
      return s !== undefined && s.stats.attempted > before && s.current === undefined && (await probeComponent(fuse)).healthy;
    });
    await kill();
    await waitFor('breaker open', 60_000, async () => (await supervisorState(suite.client, ids.fuse))?.breaker.state === 'open');

    await withPage(tokens.admin, async (page) => {
      await page.getByLabel('Reason recorded with your actions').fill('fixed by hand');
      await page.getByRole('button', { name: `Reset breaker of ${ids.fuse}` }).click();
      await page.getByRole('status').filter({ hasText: 'reset' }).waitFor({ timeout: 30_000 });
      await page.locator(`tr[data-component="${ids.fuse}"] .breaker .badge`).filter({ hasText: 'closed' }).waitFor({ timeout: 30_000 });
    });
    const state = await waitFor('recovered after the reset', 60_000, async () => {
      const s = await supervisorState(suite.client, ids.fuse);
      return s?.health === 'healthy' && (await probeComponent(fuse)).healthy && s;
    });
    assert.equal(state.lastBreakerReset?.by, 'test-admin');
    assert.equal(state.lastBreakerReset?.reason, 'fixed by hand');
    assert.equal(state.lastBreakerReset?.from, 'open');
  });
});
