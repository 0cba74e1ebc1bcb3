/**
 * The API's OpenAPI document is generated from the zod schemas, is valid OpenAPI 3 (swagger-parser),
 * and lists every route with its responses and auth; /docs renders it in a real browser
 * (playwright-core driving Debian's chromium), screenshot saved under the test's temp folder.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import { API_TITLE } from '../api/app';
import { MendClient } from '../client';
import { ConfigSchema, type Config } from '../core/schemas';
import { makeTokens, testApp } from './api-fixtures';
import { sharedServer, tempDir } from './helpers';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

type Operation = { responses: Record<string, unknown>; security?: unknown[]; summary?: string; tags?: string[] };

describe('OpenAPI document and /docs', () => {
  let mend: MendClient;
  let app: FastifyInstance;
  const config: Config = ConfigSchema.parse({});

  before(async () => {
    mend = await MendClient.connect({ address: sharedServer().address, lazy: true });
    app = await testApp(mend, config, makeTokens('x').table);
  });
  after(async () => {
    await app?.close();
    await mend?.close();
  });

  test('/docs/json is valid OpenAPI 3 and lists every route with a summary, responses and (for /v1) bearer auth', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.match(doc.openapi, /^3\./);
    assert.equal(doc.info.title, API_TITLE);
    await SwaggerParser.validate(structuredClone(doc));

    const openapiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');
    assert.ok(app.apiRoutes.length >= 11, `routes: ${JSON.stringify(app.apiRoutes)}`);
    for (const { method, url } of app.apiRoutes) {
      const op = doc.paths[openapiPath(url)]?.[method.toLowerCase()] as Operation | undefined;
      assert.ok(op, `${method} ${url} is missing from the OpenAPI document`);
      assert.ok(op.summary, `${method} ${url} has no summary`);
      assert.ok(
        Object.keys(op.responses).some((code) => code.startsWith('2')),
        `${method} ${url} documents no success response`,
      );
      if (url.startsWith('/v1/')) {
        assert.deepEqual(op.security, [{ bearer: [] }], `${method} ${url} does not say it needs a token`);
        assert.ok(op.responses['401'] && op.responses['403'], `${method} ${url} does not document 401/403`);
      }
    }
    assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
    // The request body is the zod schema: strict, with the strategies enumerated.
    const startBody = doc.components.schemas.StartRunsRequestInput ?? doc.components.schemas.StartRunsRequest;
    assert.equal(startBody.additionalProperties, false);
    // The built-ins as an enum, beside the name pattern a custom runbook's name must match.
    const strategy = startBody.properties.strategy as { anyOf?: Array<{ enum?: string[]; pattern?: string }> };
    assert.deepEqual(strategy.anyOf?.find((s) => s.enum)?.enum, ['immediate', 'progressive', 'dependency-aware', 'state-recovery', 'emergency-reset']);
    assert.ok(
      strategy.anyOf?.some((s) => s.pattern),
      'a custom runbook name pattern',
    );
  });

  test('/docs renders the interactive docs in a browser with the API title and its routes', async () => {
    assert.ok(existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
    const page = await app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, new RegExp(`<title>${API_TITLE}</title>`));

    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    try {
      const tab = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
      await tab.goto(`${address}/docs`, { waitUntil: 'networkidle', timeout: 60_000 });
      await tab.waitForSelector('.swagger-ui .info .title', { timeout: 60_000 });
      assert.match((await tab.textContent('.swagger-ui .info .title')) ?? '', new RegExp(API_TITLE));
      await tab.waitForSelector('.opblock-summary-path', { timeout: 30_000 });
      const paths = await tab.$$eval('.opblock-summary-path', (els) => els.map((e) => e.textContent?.replace(/\u200b/g, '').trim()));
      for (const p of ['/v1/runs', '/v1/runs/{id}/approve', '/v1/alerts/alertmanager', '/v1/components/{id}'])
        assert.ok(paths.includes(p), `${p} not rendered: ${paths.join(', ')}`);
      assert.equal(await tab.title(), API_TITLE);
      const shot = path.join(process.env.MEND_TEST_WORK ?? tempDir('docs'), 'docs.png');
      await tab.screenshot({ path: shot, fullPage: false });
      assert.ok(statSync(shot).size > 10_000, 'screenshot is not empty');
      console.log(`/docs screenshot: ${shot}`);
    } finally {
      await browser.close();
    }
  });
});
