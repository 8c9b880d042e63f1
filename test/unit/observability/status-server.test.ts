import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { InvalidConfigError } from '../../../src/errors.js';
import { ReplicatorMonitor } from '../../../src/observability/replicator-monitor.js';
import { startStatusServer, type StatusServer } from '../../../src/observability/status-server.js';
import { Replicator } from '../../../src/replicator.js';
import { parsePrometheusText } from './prometheus-text.js';

describe('startStatusServer', () => {
  let replicator: Replicator;
  let monitor: ReplicatorMonitor;
  let server: StatusServer;
  before(async () => {
    replicator = new Replicator({
      source: 'mongodb://alice:s3cret@src:27017/?replicaSet=rs0',
      target: 'mongodb://dst:27017',
      checkpoint: { name: 'server' }
    });
    monitor = new ReplicatorMonitor(replicator);
    server = await startStatusServer(monitor, { port: 0 });
  });
  after(async () => {
    await server.close();
    monitor.close();
  });

  it('listens on 127.0.0.1 by default and reports its URL and port', () => {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  });

  it('answers GET /status with the status as JSON', async () => {
    const response = await fetch(`${server.url}/status?pretty`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const text = await response.text();
    assert.doesNotMatch(text, /alice|s3cret/);
    const body = JSON.parse(text) as ReturnType<ReplicatorMonitor['status']>;
    assert.equal(body.state, 'idle');
    assert.equal(body.checkpointName, 'server');
    assert.deepEqual(body.directionMapping, { source: 'rs0/src:27017', target: 'dst:27017' });
  });

  it('answers GET /metrics with Prometheus text', async () => {
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), monitor.metricsContentType);
    const families = parsePrometheusText(await response.text());
    assert.ok(families.has('mongo_replicate_state'));
  });

  it('answers HEAD like GET, without a body', async () => {
    const response = await fetch(`${server.url}/status`, { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '');
  });

  it('answers 404 with JSON for other paths', async () => {
    for (const path of ['/', '/statuses', '/metrics/x']) {
      const response = await fetch(server.url + path);
      assert.equal(response.status, 404, path);
      assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(await response.json(), {
        error: `Not found: ${path}`,
        paths: ['/status', '/metrics']
      });
    }
  });

  it('answers 405 with JSON and an Allow header for other methods', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const response = await fetch(`${server.url}/status`, { method });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD');
      assert.deepEqual(await response.json(), {
        error: `Method ${method} not allowed on /status`
      });
    }
  });

  it('refuses a bad port before listening, and reports a port in use', async () => {
    for (const port of [-1, 65_536, 1.5]) {
      await assert.rejects(
        startStatusServer(monitor, { port }),
        (error: unknown) => error instanceof InvalidConfigError && error.field === 'port'
      );
    }
    await assert.rejects(startStatusServer(monitor, { port: server.port }), {
      code: 'EADDRINUSE'
    });
  });

  it('closes even with a keep-alive connection open, and twice', async () => {
    const other = await startStatusServer(monitor, { port: 0 });
    // fetch keeps the connection alive after this answer.
    await (await fetch(`${other.url}/status`)).text();
    await other.close();
    await other.close();
    await assert.rejects(fetch(`${other.url}/status`));
  });
});
