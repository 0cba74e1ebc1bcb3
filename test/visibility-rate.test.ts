/**
 * The server allows mend's visibility traffic: the API's run lists, the fleet view, the metrics
 * count and `mend runs` are visibility queries, and the real server's default allowance is 10 a
 * second per namespace (`frontend.namespaceRPS.visibility`), over which every call waits for the
 * client's retry. The dev server and deploy/temporal/dynamicconfig/production.yaml allow 100.
 * Runs in `npm test` and in the production lane (`npm run test:prod`), against whichever server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { sharedServer } from './helpers';

describe('visibility allowance', () => {
  test('fifty visibility queries at once are all answered, none refused as over the rate limit', async () => {
    // No retry interceptor: a throttled call fails with RESOURCE_EXHAUSTED instead of waiting and retrying.
    const connection = await Connection.connect({ address: sharedServer().address, interceptors: [] });
    try {
      const client = new Client({ connection });
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, () =>
          client.workflow.count('ExecutionStatus = "Running"').then(
            () => 'ok',
            (err: Error) => err.message,
          ),
        ),
      );
      const refused = outcomes.filter((o) => o !== 'ok');
      assert.deepEqual(refused, [], `${refused.length} of 50 refused`);
    } finally {
      await connection.close();
    }
  });
});
