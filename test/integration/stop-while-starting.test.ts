/**
 * A stop while the replicator is still starting (its first commands to the target stuck, as
 * behind a dead link or an unreachable primary) ends within seconds, not after the driver's
 * server selection or socket timeouts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Replicator } from '../../src/replicator.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { timeoutSignal, waitUntil, withTimeout } from '../support/timeout-signal.js';

const APP = 'mr-stop-while-starting';

function withAppName(uri: string, appName: string): string {
  const url = new URL(uri);
  url.searchParams.set('appName', appName);
  return url.toString();
}

describe('stop() while starting', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  it('ends within seconds while the target does not answer', async () => {
    const db = uniqueDbName('stopstart');
    const admin = d.target.db('admin');
    // Every command the replicator's target client sends after its handshake hangs for a minute.
    const failPoint = {
      configureFailPoint: 'failCommand',
      mode: 'alwaysOn',
      data: {
        failCommands: ['find', 'findAndModify', 'update', 'insert', 'aggregate', 'listCollections'],
        blockConnection: true,
        blockTimeMS: 60_000,
        appName: APP
      }
    };
    await admin.command(failPoint);
    const replicator = new Replicator({
      source: d.sourceUri,
      target: withAppName(d.targetUri, APP),
      mode: 'incr',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db }
    });
    const failures: unknown[] = [];
    replicator.on('error', error => failures.push(error));
    try {
      const starting = replicator.start();
      // configureFailPoint answers how often the fail point fired since it was last set.
      await waitUntil(
        async () => ((await admin.command(failPoint)) as { count?: number }).count! > 0,
        timeoutSignal(10_000, 'a command of the replicator held by the target')
      );
      const stopAt = performance.now();
      await withTimeout(replicator.stop(), 5_000, 'stop() while starting');
      await withTimeout(starting, 5_000, 'start() settles after stop()');
      const stopMs = performance.now() - stopAt;
      assert.ok(stopMs < 3_000, `stop() took ${Math.round(stopMs)} ms`);
      assert.equal(replicator.state, 'stopped');
      assert.deepEqual(failures, [], 'a stop is not reported as a failure');
    } finally {
      await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
  });
});
